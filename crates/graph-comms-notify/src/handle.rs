//! [`TransferHandle`] and [`ProgressStream`]: where the code that tracked a transfer waits.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::time::{Instant, Sleep};

use crate::event::normalize_call_id;
use crate::outcome::{TransferOutcome, TransferProgress};
use crate::store::read_with;
use crate::tracker::Shared;
#[cfg(doc)]
use crate::TrackerConfig;

/// Where a handle and its progress stream wait.
#[derive(Default)]
pub(crate) struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    outcome: Option<TransferOutcome>,
    /// Boxed: rare, and every open transfer has a slot.
    late_outcome: Option<Box<TransferOutcome>>,
    /// `transferAccepted` was seen.
    accepted: bool,
    progress: VecDeque<TransferProgress>,
    /// No more progress will come.
    closed: bool,
    outcome_waker: Option<Waker>,
    progress_waker: Option<Waker>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn progress(&self, step: TransferProgress) {
        let mut s = self.lock();
        if step == TransferProgress::TransferAccepted {
            s.accepted = true;
        }
        if s.closed {
            return;
        }
        s.progress.push_back(step);
        if let Some(w) = s.progress_waker.take() {
            w.wake();
        }
    }

    pub(crate) fn resolve(&self, outcome: TransferOutcome) {
        let mut s = self.lock();
        if s.outcome.is_some() {
            return;
        }
        s.outcome = Some(outcome.clone());
        if !s.closed {
            s.progress.push_back(TransferProgress::Finished(outcome));
        }
        if let Some(w) = s.outcome_waker.take() {
            w.wake();
        }
        if let Some(w) = s.progress_waker.take() {
            w.wake();
        }
    }

    pub(crate) fn late(&self, outcome: TransferOutcome) {
        let mut s = self.lock();
        if s.late_outcome.is_some() {
            return;
        }
        s.late_outcome = Some(Box::new(outcome.clone()));
        if !s.closed {
            s.progress.push_back(TransferProgress::Late(outcome));
        }
        if let Some(w) = s.progress_waker.take() {
            w.wake();
        }
    }

    pub(crate) fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        if let Some(w) = s.progress_waker.take() {
            w.wake();
        }
        if let Some(w) = s.outcome_waker.take() {
            w.wake();
        }
    }
}

/// A tracked transfer: a future resolving to its [`TransferOutcome`], plus a
/// [`progress`](Self::progress) stream.
///
/// Dropping the handle before the outcome abandons the transfer: it is removed from the tracker
/// and its progress stream ends. Awaiting the handle needs a Tokio runtime with its time driver
/// (`enable_time`), which runs the timeout; [`outcome`](Self::outcome) works anywhere.
pub struct TransferHandle {
    pub(crate) call_id: String,
    pub(crate) attempt: u64,
    pub(crate) deadline: Instant,
    pub(crate) slot: Arc<Slot>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) sleep: Option<Pin<Box<Sleep>>>,
}

impl fmt::Debug for TransferHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferHandle")
            .field("call_id", &self.call_id)
            .field("attempt", &self.attempt)
            .field("deadline", &self.deadline)
            .field("outcome", &self.outcome())
            .finish()
    }
}

impl TransferHandle {
    /// The transferred call's id.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// When the transfer times out.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The outcome, if already known (without waiting).
    pub fn outcome(&self) -> Option<TransferOutcome> {
        self.slot.lock().outcome.clone()
    }

    /// The late outcome of a transfer that timed out, if one arrived (see
    /// [`TransferProgress::Late`]).
    pub fn late_outcome(&self) -> Option<TransferOutcome> {
        self.slot.lock().late_outcome.as_deref().cloned()
    }

    /// `true` once the target accepted the transfer (`transferAccepted` was applied).
    pub fn accepted(&self) -> bool {
        self.slot.lock().accepted
    }

    /// The transfer's steps as they happen: `Transferring`, `TransferAccepted`,
    /// `ConsultationEnded`, then `Finished(outcome)`; the stream ends when the tracker is done
    /// with the transfer. After `Finished(TimedOut)` it stays open for
    /// [`TrackerConfig::late_result_window`] and yields `Late(outcome)` if the final result comes
    /// in that time. Steps are queued from `track` on, so nothing is missed by asking late.
    /// Meant for one consumer: streams of the same handle share one queue.
    ///
    /// ```
    /// use graph_comms_model::CallState;
    /// use graph_comms_notify::{
    ///     EventKind, NotificationEvent, TransferOutcome, TransferProgress, TransferTracker,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), graph_comms_notify::Error> {
    /// let tracker = TransferTracker::default();
    /// let handle = tracker.track("call-1")?;
    /// let mut progress = handle.progress();
    /// tracker.apply(&NotificationEvent::new("call-1", CallState::Transferring, EventKind::Transferring));
    /// tracker.apply(&NotificationEvent::new("call-1", CallState::Terminated, EventKind::Completed));
    /// assert_eq!(progress.next().await, Some(TransferProgress::Transferring));
    /// assert_eq!(
    ///     progress.next().await,
    ///     Some(TransferProgress::Finished(TransferOutcome::completed(false)))
    /// );
    /// assert_eq!(progress.next().await, None);
    /// # Ok(()) }
    /// ```
    pub fn progress(&self) -> ProgressStream {
        ProgressStream {
            slot: Arc::clone(&self.slot),
            shared: Arc::clone(&self.shared),
            call_id: normalize_call_id(&self.call_id).into_owned(),
            attempt: self.attempt,
            deadline: self.deadline,
            sleep: None,
            deadline_passed: false,
            late_sleep: None,
        }
    }
}

/// Times the transfer out at its deadline, as the tracker's sweep would, and returns its outcome:
/// [`TransferOutcome::TimedOut`] unless something final came first. Shared by the handle and its
/// progress stream, so either one ends at the deadline on its own.
fn time_out(shared: &Shared, slot: &Slot, call_id: &str, attempt: u64) -> TransferOutcome {
    {
        let now = Instant::now();
        let mut core = shared.lock();
        core.sweep(&shared.config, now);
        core.expire(&shared.config, call_id, attempt, now);
    }
    // The record may already be gone (swept, or its handle dropped): resolve the slot itself.
    slot.resolve(TransferOutcome::TimedOut);
    slot.lock()
        .outcome
        .clone()
        .unwrap_or(TransferOutcome::TimedOut)
}

impl Future for TransferHandle {
    type Output = TransferOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TransferOutcome> {
        {
            let mut s = self.slot.lock();
            if let Some(outcome) = &s.outcome {
                return Poll::Ready(outcome.clone());
            }
            s.outcome_waker = Some(cx.waker().clone());
        }
        let deadline = self.deadline;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let key = normalize_call_id(&self.call_id).into_owned();
        Poll::Ready(time_out(&self.shared, &self.slot, &key, self.attempt))
    }
}

impl Drop for TransferHandle {
    fn drop(&mut self) {
        if self.slot.lock().outcome.is_some() {
            return;
        }
        let mut core = self.shared.lock();
        let key = normalize_call_id(&self.call_id);
        let open = read_with(core.store.as_ref(), &key, |r| {
            r.attempt == self.attempt && r.outcome.is_none()
        });
        if open == Some(true) {
            core.stats.abandoned += 1;
            core.finish(&key, self.attempt);
        }
    }
}

/// The progress of one transfer (see [`TransferHandle::progress`]); a
/// [`Stream`](futures_util::Stream) of [`TransferProgress`].
///
/// The stream ends at the transfer's deadline too: its last step is then
/// `Finished(TransferOutcome::TimedOut)`, as the handle resolves.
pub struct ProgressStream {
    slot: Arc<Slot>,
    shared: Arc<Shared>,
    call_id: String,
    attempt: u64,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    deadline_passed: bool,
    /// After the deadline: when the tracker forgets the timed-out transfer.
    late_sleep: Option<Pin<Box<Sleep>>>,
}

impl fmt::Debug for ProgressStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.slot.lock();
        f.debug_struct("ProgressStream")
            .field("queued", &s.progress.len())
            .field("closed", &s.closed)
            .finish()
    }
}

impl ProgressStream {
    /// The next step, or `None` when the transfer is over and every step was taken.
    pub async fn next(&mut self) -> Option<TransferProgress> {
        std::future::poll_fn(|cx| self.poll_step(cx)).await
    }

    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Option<TransferProgress>> {
        {
            let mut s = self.slot.lock();
            if let Some(step) = s.progress.pop_front() {
                return Poll::Ready(Some(step));
            }
            if s.closed {
                return Poll::Ready(None);
            }
            s.progress_waker = Some(cx.waker().clone());
            let timed_out = s.outcome == Some(TransferOutcome::TimedOut);
            if !timed_out && (s.outcome.is_some() || self.deadline_passed) {
                return Poll::Pending;
            }
            if timed_out || self.deadline_passed {
                drop(s);
                return self.poll_late_window(cx);
            }
        }
        let deadline = self.deadline;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.deadline_passed = true;
        time_out(&self.shared, &self.slot, &self.call_id, self.attempt);
        let mut s = self.slot.lock();
        match s.progress.pop_front() {
            Some(step) => Poll::Ready(Some(step)),
            None if s.closed => Poll::Ready(None),
            None => {
                s.progress_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// The transfer timed out: wait (registered for wake-ups) until a late result or the end of
    /// the late-result window, when the tracker forgets the transfer and the stream ends.
    fn poll_late_window(&mut self, cx: &mut Context<'_>) -> Poll<Option<TransferProgress>> {
        if self.late_sleep.is_none() {
            let until = {
                let core = self.shared.lock();
                read_with(core.store.as_ref(), &self.call_id, |r| {
                    (r.attempt == self.attempt)
                        .then_some(r.late_until)
                        .flatten()
                })
                .flatten()
                .map(|until| core.clock.instant(until))
            };
            let Some(until) = until else {
                // Not remembered (already forgotten, or remembering is off): the stream ends.
                let mut s = self.slot.lock();
                s.closed = true;
                return Poll::Ready(s.progress.pop_front());
            };
            self.late_sleep = Some(Box::pin(tokio::time::sleep_until(until)));
        }
        let Some(sleep) = self.late_sleep.as_mut() else {
            return Poll::Pending;
        };
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        {
            let now = Instant::now();
            let mut core = self.shared.lock();
            core.sweep(&self.shared.config, now);
            core.expire(&self.shared.config, &self.call_id, self.attempt, now);
        }
        let mut s = self.slot.lock();
        s.closed = true;
        Poll::Ready(s.progress.pop_front())
    }
}

impl futures_util::Stream for ProgressStream {
    type Item = TransferProgress;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TransferProgress>> {
        self.get_mut().poll_step(cx)
    }
}
