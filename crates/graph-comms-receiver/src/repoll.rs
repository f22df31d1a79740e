//! Polling a connection again at once when it wakes itself while being polled.
//!
//! hyper's request-body channel wakes the connection's side of the channel every time the
//! handler takes a chunk of the body, even when the connection has already sent the whole body
//! and closed its side (hyper 1.12, `body::chan::Receiver::poll_next`). A handler that reads
//! its body therefore wakes the connection's task while that very task is polling it. tokio takes
//! a wake of the running task as a yield: after the poll it puts the task at the back of the
//! worker's queue (behind every other connection) and wakes another worker to steal from it. On
//! the ingest bench that one wake per callback put the receiver's p99 at about twice the bare
//! handler's (which never reads its body), and doubled the workers' sleeps and wake-ups
//! (`docs/benchmarks/receiver.md`).
//!
//! [`Repoll`] sits between the task and the connection. A wake that arrives while it is polling
//! the connection is kept, and the connection is polled again at once (nothing is lost: the
//! wake asked for a poll, and it gets one). Every other wake (the socket, a timer, a handler
//! finishing on another task) goes to the task as before. It stops re-polling and hands the
//! wake to the task when the task's cooperative budget is spent or after [`MAX_REPOLLS`]
//! polls in a row, so a future that keeps waking itself still yields to the others.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// The most polls of one [`Repoll::poll`] call: the first and the re-polls its own wakes asked for.
pub(crate) const MAX_REPOLLS: usize = 4;

/// Nobody polls the future: a wake goes to the task.
const IDLE: u8 = 0;
/// The future is being polled.
const POLLING: u8 = 1;
/// The future woke itself while being polled.
const WOKEN: u8 = 2;

/// The waker the future is polled with (see the module's documentation).
pub(crate) struct Repoll {
    shared: Arc<Shared>,
    waker: Waker,
}

struct Shared {
    state: AtomicU8,
    /// The waker of the last poll: where wakes that arrive between polls go.
    task: Mutex<Option<Waker>>,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        match self
            .state
            .compare_exchange(POLLING, WOKEN, Ordering::AcqRel, Ordering::Acquire)
        {
            // Kept: `poll` polls again.
            Ok(_) | Err(WOKEN) => {}
            Err(_) => {
                let task = self
                    .task
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                if let Some(task) = task {
                    task.wake();
                }
            }
        }
    }
}

impl Repoll {
    pub(crate) fn new() -> Self {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(IDLE),
            task: Mutex::new(None),
        });
        Self {
            waker: Waker::from(Arc::clone(&shared)),
            shared,
        }
    }

    /// Polls `future` for the task of `cx`, again at once while it wakes itself meanwhile.
    pub(crate) fn poll<F: Future + ?Sized>(
        &self,
        mut future: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        {
            let mut task = self
                .shared
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let mut own = Context::from_waker(&self.waker);
        for _ in 0..MAX_REPOLLS {
            self.shared.state.store(POLLING, Ordering::Release);
            let polled = future.as_mut().poll(&mut own);
            let woken = self.shared.state.swap(IDLE, Ordering::AcqRel) == WOKEN;
            if polled.is_ready() || !woken {
                return polled;
            }
            if !tokio::task::coop::has_budget_remaining() {
                break;
            }
        }
        // The future still asks to be polled: the task polls it after the others.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts the wakes it gets.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        (count.clone(), Waker::from(count))
    }

    /// Wakes itself at each of its first `wakes` polls, then is ready; counts its polls.
    struct WakesItself {
        wakes: usize,
        polls: usize,
    }

    impl Future for WakesItself {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            self.polls += 1;
            if self.polls > self.wakes {
                return Poll::Ready(self.polls);
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn a_wake_during_the_poll_is_a_poll_at_once_and_never_reaches_the_task() {
        let (count, task) = counting();
        let repoll = Repoll::new();
        let mut future = std::pin::pin!(WakesItself { wakes: 1, polls: 0 });
        let polled = repoll.poll(future.as_mut(), &mut Context::from_waker(&task));
        assert_eq!(polled, Poll::Ready(2));
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_future_that_keeps_waking_itself_yields_to_the_task_after_the_bound() {
        let (count, task) = counting();
        let repoll = Repoll::new();
        let mut future = std::pin::pin!(WakesItself {
            wakes: usize::MAX,
            polls: 0
        });
        let polled = repoll.poll(future.as_mut(), &mut Context::from_waker(&task));
        assert_eq!(polled, Poll::Pending);
        assert_eq!(future.polls, MAX_REPOLLS);
        // The last wake is not lost: the task is told to poll again.
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        let polled = repoll.poll(future.as_mut(), &mut Context::from_waker(&task));
        assert_eq!(polled, Poll::Pending);
        assert_eq!(future.polls, 2 * MAX_REPOLLS);
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_wake_between_polls_goes_to_the_task_of_the_last_poll() {
        let (first, first_task) = counting();
        let (second, second_task) = counting();
        let repoll = Repoll::new();
        // Pending without waking: keeps the waker it was polled with, as a socket does.
        let kept = Arc::new(Mutex::new(None::<Waker>));
        let mut future = std::pin::pin!(std::future::poll_fn(|cx| {
            *kept.lock().unwrap() = Some(cx.waker().clone());
            Poll::<()>::Pending
        }));
        let _ = repoll.poll(future.as_mut(), &mut Context::from_waker(&first_task));
        let _ = repoll.poll(future.as_mut(), &mut Context::from_waker(&second_task));
        let socket = kept.lock().unwrap().take().expect("a waker was kept");
        socket.wake_by_ref();
        socket.wake();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_wake_from_another_thread_while_polling_is_a_poll_at_once() {
        let (count, task) = counting();
        let repoll = Repoll::new();
        let mut polls = 0;
        let mut future = std::pin::pin!(std::future::poll_fn(|cx| {
            polls += 1;
            if polls == 1 {
                // Another thread wakes the future while this poll runs.
                let waker = cx.waker().clone();
                std::thread::spawn(move || waker.wake()).join().unwrap();
                Poll::Pending
            } else {
                Poll::Ready(polls)
            }
        }));
        let polled = repoll.poll(future.as_mut(), &mut Context::from_waker(&task));
        assert_eq!(polled, Poll::Ready(2));
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_spent_budget_hands_the_wake_to_the_runtime() {
        // Exhaust the task's budget, then poll through `Repoll`: one poll, then a yield.
        let mut polled_with_budget = 0;
        loop {
            tokio::task::coop::consume_budget().await;
            if !tokio::task::coop::has_budget_remaining() {
                break;
            }
            polled_with_budget += 1;
            assert!(polled_with_budget < 10_000, "the budget never ran out");
        }
        let repoll = Repoll::new();
        let mut future = std::pin::pin!(WakesItself {
            wakes: usize::MAX,
            polls: 0
        });
        let polled = std::future::poll_fn(|cx| Poll::Ready(repoll.poll(future.as_mut(), cx))).await;
        assert_eq!(polled, Poll::Pending);
        assert_eq!(future.polls, 1);
    }
}
