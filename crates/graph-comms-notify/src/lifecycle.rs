//! Following calls and operations to where they stand: a call placed, answered, rejected,
//! redirected or hung up is awaited as "established", "declined" or "ended" the way a transfer is
//! awaited, and an operation (`playPrompt`, hold music) as "completed" or "failed".
//!
//! The details are on [`CallLifecycle`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use graph_comms_model::{routing, CallState, ChangeType};
use tokio::sync::watch;

use crate::event::{NotificationEvent, ResourceShape, TRANSFER_COMPLETED_SUBCODE};

/// Where a call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallPhase {
    /// Nothing heard of the call yet.
    Unknown,
    /// Offered to the bot (state `incoming`).
    Incoming,
    /// Being set up (states `establishing`, `ringing`).
    Establishing,
    /// Connected (state `established`; also `hold`, `transferring`, `transferAccepted`, which
    /// only an established call reaches).
    Established,
    /// Being torn down (state `terminating`).
    Terminating,
    /// Over.
    Ended(CallEnd),
}

impl CallPhase {
    fn rank(&self) -> u8 {
        match self {
            CallPhase::Unknown => 0,
            CallPhase::Incoming => 1,
            CallPhase::Establishing => 2,
            CallPhase::Established => 3,
            CallPhase::Terminating => 4,
            CallPhase::Ended(_) => 5,
        }
    }
}

/// How a call ended. As an error, it says why a call that was awaited as established is not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallEnd {
    /// It never connected: `terminated` with an error `resultInfo` (code ≥ 400) before any
    /// `established`, e.g. a placed call the target declined or did not answer.
    #[error("the call was declined before it connected: {code}{}{}", fmt_sub(*.subcode), fmt_msg(.message.as_deref()))]
    Declined {
        /// `resultInfo.code`.
        code: i64,
        /// `resultInfo.subcode` / `subCode`.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
    },
    /// Graph removed the call without a state: the bare `deleted` that follows `reject`.
    #[error("the call was removed (rejected)")]
    Removed,
    /// Transferred away: `terminated` with sub-code 7015 or `terminationReason: AppTransferred`.
    #[error("the call was transferred away")]
    Transferred,
    /// Any other end (a hang-up by either side, `DELETE`, a redirect, a failure after
    /// connecting), with what Graph said.
    #[error("the call ended{}{}{}", .code.map(|c| format!(": {c}")).unwrap_or_default(), fmt_sub(*.subcode), fmt_msg(.message.as_deref()))]
    Terminated {
        /// `resultInfo.code`, when given.
        code: Option<i64>,
        /// `resultInfo.subcode` / `subCode`, when given.
        subcode: Option<i64>,
        /// `resultInfo.message`, when given.
        message: Option<String>,
        /// `terminationReason`, when given.
        termination_reason: Option<String>,
        /// Whether the call had been established.
        was_established: bool,
    },
    /// The follower lost the call: [`CallLifecycle`] forgot it to stay within
    /// [`CallLifecycle::with_capacity`]. Nothing is known about its end.
    #[error("the call was forgotten (the lifecycle's capacity was reached)")]
    Forgotten,
}

fn fmt_sub(subcode: Option<i64>) -> String {
    subcode.map(|s| format!("/{s}")).unwrap_or_default()
}

/// Graph's message, escaped: it comes from the wire.
fn fmt_msg(message: Option<&str>) -> String {
    message.map(|m| format!(" {m:?}")).unwrap_or_default()
}

/// Where an operation (`playPrompt`, `startHoldMusic`, ...) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperationPhase {
    /// Started, not finished (or nothing heard yet).
    Running,
    /// Finished: `resultInfo.code` below 400, or the operation's `deleted` notification.
    Completed,
    /// Failed: `resultInfo.code` 400 or more.
    Failed {
        /// `resultInfo.code`.
        code: i64,
        /// `resultInfo.subcode` / `subCode`.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
    },
    /// Forgotten to stay within capacity.
    Forgotten,
}

/// One key per call or operation: ids are compared without dashes and case (Graph writes the
/// same id as `57DAB8B1894C…` in one place and `57dab8b1-894c-…` in another).
fn key(id: &str) -> String {
    id.chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

struct CallEntry {
    tx: watch::Sender<CallPhase>,
    established: bool,
}

#[derive(Default)]
struct State {
    calls: HashMap<String, CallEntry>,
    call_order: VecDeque<String>,
    operations: HashMap<String, watch::Sender<OperationPhase>>,
    operation_order: VecDeque<String>,
}

/// Follows calls and operations from their notifications.
///
/// [`CallLifecycle`] is fed the same [`NotificationEvent`]s as the transfer tracker (the
/// receiver's handler passes each delivery's events to [`CallLifecycle::apply`]); it keeps the
/// phase of every call it hears of, so a notification that beats Graph's answer is not lost, and
/// [`CallLifecycle::follow`] returns a [`CallFollower`] to await.
///
/// How each action's notifications end up:
///
/// | after | Graph sends | phase |
/// |---|---|---|
/// | `answer`, `POST /calls` answered | `establishing`, `established` | [`CallPhase::Established`] |
/// | `POST /calls` declined or unanswered | `terminated` with an error `resultInfo`, never `established` | [`CallEnd::Declined`] |
/// | `reject` | a bare `deleted` (no state) | [`CallEnd::Removed`] |
/// | `redirect` | `terminated` (no error) | [`CallEnd::Terminated`] |
/// | `DELETE` (hang up), or the other side hangs up | `terminating`, `terminated` | [`CallEnd::Terminated`] |
/// | a transfer completed | `terminated` with 7015 or `AppTransferred` | [`CallEnd::Transferred`] |
///
/// Reordered and repeated deliveries do not move a call backwards: an `established` after
/// `terminated` is ignored, and an ended call stays ended.
///
///
/// ```
/// use graph_comms_notify::{decode, CallEnd, CallLifecycle, CallPhase};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let lifecycle = CallLifecycle::default();
/// let mut call = lifecycle.follow("2e1a0b00-b3c5-4b0f-99b3-c133bc1e6116");
/// for e in decode(br#"{"value":[{"changeType":"updated",
///   "resourceUrl":"/communications/calls/2e1a0b00-b3c5-4b0f-99b3-c133bc1e6116",
///   "resourceData":{"state":"established"}}]}"#)? {
///     lifecycle.apply(&e);
/// }
/// call.established().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CallLifecycle {
    state: Mutex<State>,
    capacity: usize,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("calls", &self.calls.len())
            .field("operations", &self.operations.len())
            .finish()
    }
}

impl Default for CallLifecycle {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl CallLifecycle {
    /// Calls (and, separately, operations) remembered by [`default`](Self::default).
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// Remembers at most `capacity` calls and `capacity` operations; beyond, the oldest is
    /// forgotten (its followers see [`CallEnd::Forgotten`] / [`OperationPhase::Forgotten`]).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Feeds one event; returns the call's new phase when it changed (operations: `None`).
    pub fn apply(&self, event: &NotificationEvent) -> Option<CallPhase> {
        let call_id = event.call_id.as_deref()?;
        let rest = event
            .resource_url
            .as_deref()
            .and_then(routing::call_path)
            .map_or("", |(_, rest)| rest);
        if let Some(op) = rest.strip_prefix("/operations/") {
            self.apply_operation(op.split('/').next().unwrap_or(op), event);
            return None;
        }
        if !rest.is_empty() {
            return None; // participants, audio routing groups, ...
        }
        let mut state = self.lock();
        let capacity = self.capacity;
        let entry = entry(&mut state, key(call_id), capacity);
        let next = next_phase(event, entry.established)?;
        let current = entry.tx.borrow().clone();
        if next == CallPhase::Established {
            entry.established = true;
        }
        // An ended call stays ended; reordered or repeated events never move a call back.
        if matches!(current, CallPhase::Ended(_)) || next.rank() <= current.rank() {
            return None;
        }
        entry.tx.send_replace(next.clone());
        Some(next)
    }

    fn apply_operation(&self, op_id: &str, event: &NotificationEvent) {
        let phase = match event.result_code {
            Some(code) if code >= 400 => OperationPhase::Failed {
                code,
                subcode: event.result_subcode,
                message: event.result_message.clone(),
            },
            Some(_) => OperationPhase::Completed,
            None if event.change_type == Some(ChangeType::Deleted) => OperationPhase::Completed,
            None => return,
        };
        let mut state = self.lock();
        let capacity = self.capacity;
        let tx = operation_entry(&mut state, key(op_id), capacity);
        if *tx.borrow() == OperationPhase::Running {
            tx.send_replace(phase);
        }
    }

    /// Where `call_id` stands now.
    pub fn phase(&self, call_id: &str) -> CallPhase {
        self.lock()
            .calls
            .get(&key(call_id))
            .map_or(CallPhase::Unknown, |e| e.tx.borrow().clone())
    }

    /// A follower of `call_id`, which sees the phase already reached (notifications that came
    /// first are not lost) and every later one.
    pub fn follow(&self, call_id: &str) -> CallFollower {
        let mut state = self.lock();
        let capacity = self.capacity;
        let rx = entry(&mut state, key(call_id), capacity).tx.subscribe();
        CallFollower { rx }
    }

    /// A follower of the operation `operation_id` (the `id` Graph returned for `playPrompt` or
    /// hold music).
    pub fn follow_operation(&self, operation_id: &str) -> OperationFollower {
        let mut state = self.lock();
        let capacity = self.capacity;
        let rx = operation_entry(&mut state, key(operation_id), capacity).subscribe();
        OperationFollower { rx }
    }

    /// The number of calls and operations remembered.
    pub fn counts(&self) -> (usize, usize) {
        let s = self.lock();
        (s.calls.len(), s.operations.len())
    }
}

fn entry(state: &mut State, k: String, capacity: usize) -> &mut CallEntry {
    if !state.calls.contains_key(&k) {
        while state.calls.len() >= capacity {
            let Some(old) = state.call_order.pop_front() else {
                break;
            };
            if let Some(e) = state.calls.remove(&old) {
                e.tx.send_replace(CallPhase::Ended(CallEnd::Forgotten));
            }
        }
        state.call_order.push_back(k.clone());
    }
    state.calls.entry(k).or_insert_with(|| CallEntry {
        tx: watch::Sender::new(CallPhase::Unknown),
        established: false,
    })
}

fn operation_entry(
    state: &mut State,
    k: String,
    capacity: usize,
) -> &mut watch::Sender<OperationPhase> {
    if !state.operations.contains_key(&k) {
        while state.operations.len() >= capacity {
            let Some(old) = state.operation_order.pop_front() else {
                break;
            };
            if let Some(tx) = state.operations.remove(&old) {
                tx.send_replace(OperationPhase::Forgotten);
            }
        }
        state.operation_order.push_back(k.clone());
    }
    state
        .operations
        .entry(k)
        .or_insert_with(|| watch::Sender::new(OperationPhase::Running))
}

/// The phase a call event moves to, or `None` for events that say nothing about it.
fn next_phase(e: &NotificationEvent, was_established: bool) -> Option<CallPhase> {
    let state = match &e.state {
        Some(s) => s,
        None if e.change_type == Some(ChangeType::Deleted)
            && matches!(
                e.resource_shape,
                ResourceShape::Object | ResourceShape::Absent
            ) =>
        {
            return Some(CallPhase::Ended(CallEnd::Removed));
        }
        None => return None,
    };
    Some(match state {
        CallState::Incoming => CallPhase::Incoming,
        CallState::Establishing | CallState::Ringing => CallPhase::Establishing,
        CallState::Established
        | CallState::Hold
        | CallState::Transferring
        | CallState::TransferAccepted => CallPhase::Established,
        CallState::Terminating => CallPhase::Terminating,
        CallState::Terminated => CallPhase::Ended(end_of(e, was_established)),
        _ => return None, // redirecting, unknown states
    })
}

fn end_of(e: &NotificationEvent, was_established: bool) -> CallEnd {
    let transferred = e.result_subcode == Some(TRANSFER_COMPLETED_SUBCODE)
        || e.termination_reason
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("AppTransferred"));
    if transferred {
        return CallEnd::Transferred;
    }
    match e.result_code {
        Some(code) if code >= 400 && !was_established => CallEnd::Declined {
            code,
            subcode: e.result_subcode,
            message: e.result_message.clone(),
        },
        code => CallEnd::Terminated {
            code,
            subcode: e.result_subcode,
            message: e.result_message.clone(),
            termination_reason: e.termination_reason.clone(),
            was_established,
        },
    }
}

/// Awaits a call's phases; from [`CallLifecycle::follow`].
#[derive(Debug)]
pub struct CallFollower {
    rx: watch::Receiver<CallPhase>,
}

impl CallFollower {
    /// Where the call stands now.
    pub fn phase(&self) -> CallPhase {
        self.rx.borrow().clone()
    }

    /// Waits until the call is established (`Ok`), or has ended without being established now
    /// (`Err` with how). Wrap it in `tokio::time::timeout` for a deadline.
    ///
    /// # Errors
    /// How the call ended, when it ends before (or instead of) being established.
    pub async fn established(&mut self) -> Result<(), CallEnd> {
        loop {
            match self.phase() {
                CallPhase::Established => return Ok(()),
                CallPhase::Ended(end) => return Err(end),
                _ => {}
            }
            if self.rx.changed().await.is_err() {
                return match self.phase() {
                    CallPhase::Established => Ok(()),
                    CallPhase::Ended(end) => Err(end),
                    _ => Err(CallEnd::Forgotten),
                };
            }
        }
    }

    /// Waits until the call has ended, and says how.
    pub async fn ended(&mut self) -> CallEnd {
        loop {
            if let CallPhase::Ended(end) = self.phase() {
                return end;
            }
            if self.rx.changed().await.is_err() {
                return match self.phase() {
                    CallPhase::Ended(end) => end,
                    _ => CallEnd::Forgotten,
                };
            }
        }
    }
}

/// Awaits an operation's end; from [`CallLifecycle::follow_operation`].
#[derive(Debug)]
pub struct OperationFollower {
    rx: watch::Receiver<OperationPhase>,
}

impl OperationFollower {
    /// Where the operation stands now.
    pub fn phase(&self) -> OperationPhase {
        self.rx.borrow().clone()
    }

    /// Waits until the operation has finished: [`OperationPhase::Completed`],
    /// [`OperationPhase::Failed`] or [`OperationPhase::Forgotten`].
    pub async fn finished(&mut self) -> OperationPhase {
        loop {
            let phase = self.phase();
            if phase != OperationPhase::Running {
                return phase;
            }
            if self.rx.changed().await.is_err() {
                return match self.phase() {
                    OperationPhase::Running => OperationPhase::Forgotten,
                    other => other,
                };
            }
        }
    }
}
