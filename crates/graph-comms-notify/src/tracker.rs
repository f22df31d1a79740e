//! [`TransferTracker`]: follows many transfers at once, from their notifications to one outcome
//! each.

use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::error::{NotifyError, Result};
use crate::event::{EventKind, NotificationEvent};
use crate::explain::explain_subcode;
use crate::store::{CallRole, MemoryStore, TransferRecord, TransferStore};

/// How a tracked transfer ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransferOutcome {
    /// The transfer completed: the call ended with sub-code 7015 (`GracefulTransferCompleted`) or
    /// `terminationReason: AppTransferred`.
    Completed,
    /// The transfer failed and the call is back to `established`.
    Failed {
        /// `resultInfo.code` (≥ 400).
        code: i64,
        /// `resultInfo.subcode` / `subCode`, when numeric.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
        /// `replacesContext` (consultative transfers).
        replaces_context: Option<String>,
    },
    /// The call ended without a transfer code (for example the caller hung up mid-transfer).
    CallEnded {
        /// `resultInfo.code`, when numeric.
        code: Option<i64>,
        /// `resultInfo.subcode` / `subCode`, when numeric.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
    },
    /// Nothing final arrived before the transfer's timeout.
    TimedOut,
}

impl TransferOutcome {
    /// `true` for [`Completed`](TransferOutcome::Completed).
    pub fn is_success(&self) -> bool {
        matches!(self, TransferOutcome::Completed)
    }

    /// A human explanation of the sub-code, when known.
    pub fn explanation(&self) -> Option<&'static str> {
        match self {
            TransferOutcome::Failed {
                subcode: Some(s), ..
            }
            | TransferOutcome::CallEnded {
                subcode: Some(s), ..
            } => explain_subcode(*s),
            _ => None,
        }
    }
}

impl fmt::Display for TransferOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = |f: &mut fmt::Formatter<'_>,
                      code: Option<i64>,
                      subcode: Option<i64>,
                      message: &Option<String>| {
            if let Some(c) = code {
                write!(f, " (code {c}")?;
                if let Some(s) = subcode {
                    write!(f, ", subcode {s}")?;
                }
                f.write_str(")")?;
            }
            if let Some(m) = message {
                write!(f, ": {m}")?;
            }
            if let Some(e) = subcode.and_then(explain_subcode) {
                write!(f, " — {e}")?;
            }
            Ok(())
        };
        match self {
            TransferOutcome::Completed => f.write_str("transfer completed"),
            TransferOutcome::Failed {
                code,
                subcode,
                message,
                ..
            } => {
                f.write_str("transfer failed")?;
                detail(f, Some(*code), *subcode, message)
            }
            TransferOutcome::CallEnded {
                code,
                subcode,
                message,
            } => {
                f.write_str("call ended before the transfer completed")?;
                detail(f, *code, *subcode, message)
            }
            TransferOutcome::TimedOut => f.write_str("no final transfer notification in time"),
        }
    }
}

/// A step of a tracked transfer, for UIs (see [`TransferHandle::progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferProgress {
    /// The call is being transferred.
    Transferring,
    /// The target accepted the transfer.
    TransferAccepted,
    /// The consultation call of a consultative transfer ended.
    ConsultationEnded {
        /// The consultation call's id (`replacesCallId`).
        call_id: String,
        /// Its `terminationReason`.
        termination_reason: Option<String>,
    },
    /// The transfer's outcome (always the last item but for a later `ConsultationEnded`).
    Finished(TransferOutcome),
}

/// What [`TransferTracker::apply`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// Moved a tracked transfer forward (`transferring` / `transferAccepted`).
    Progress,
    /// Resolved a tracked transfer.
    Resolved,
    /// Reported the end of a tracked transfer's consultation call.
    ConsultationEnded,
    /// Changed nothing: a repeat (or an older step) of what the transfer already saw.
    Duplicate,
    /// A late event of a transfer that already ended; dropped.
    Late,
    /// Held for a bounded time: a transfer event for a call nobody tracks yet.
    Buffered,
    /// For a call nobody tracks; counted and dropped.
    Untracked,
    /// Not about a transfer (roster update, other state, no call id); dropped.
    Ignored,
}

/// Counters and sizes of a [`TransferTracker`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackerStats {
    /// Transfers currently open (including consultative ones waiting for their consultation
    /// call's end).
    pub open: usize,
    /// Calls with buffered early events.
    pub buffered_calls: usize,
    /// Buffered early events.
    pub buffered_events: usize,
    /// Calls whose last transfer ended recently (late events for them are dropped).
    pub recent: usize,
    /// Events passed to `apply`.
    pub applied: u64,
    /// Events that moved a transfer forward.
    pub progressed: u64,
    /// Events that changed nothing.
    pub duplicates: u64,
    /// Late events of ended transfers.
    pub late: u64,
    /// Events for calls nobody tracked (including buffered events that expired).
    pub untracked: u64,
    /// Events not about a transfer.
    pub ignored: u64,
    /// Transfers that completed.
    pub completed: u64,
    /// Transfers that failed.
    pub failed: u64,
    /// Transfers whose call ended another way.
    pub call_ended: u64,
    /// Transfers that timed out.
    pub timed_out: u64,
    /// Transfers whose handle was dropped before an outcome.
    pub abandoned: u64,
}

/// Settings of a [`TransferTracker`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackerConfig {
    /// How long a transfer may wait for a final notification before it resolves as
    /// [`TransferOutcome::TimedOut`]. Default 120 s.
    pub timeout: Duration,
    /// How long transfer events for a call nobody tracks yet are kept, in case `track` follows
    /// (the first notification can beat the `202` to the caller). Default 10 s; zero disables it.
    pub early_buffer: Duration,
    /// At most this many calls have buffered events (the oldest is dropped). Default 10 000.
    pub max_buffered_calls: usize,
    /// At most this many events are buffered per call. Default 8.
    pub max_buffered_per_call: usize,
    /// After a transfer ends, events for its call within this window are late deliveries of it
    /// (dropped) unless a new transfer is tracked; and an event identical to its final event,
    /// arriving in this window before the new transfer saw progress of its own, is a retried
    /// delivery, not the new transfer's end. Default 60 s.
    pub late_window: Duration,
    /// At most this many recently ended calls are remembered. Default 100 000.
    pub max_recent: usize,
    /// At most this many transfers are open at once. Default 1 000 000.
    pub max_open: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            timeout: Duration::from_secs(120),
            early_buffer: Duration::from_secs(10),
            max_buffered_calls: 10_000,
            max_buffered_per_call: 8,
            late_window: Duration::from_secs(60),
            max_recent: 100_000,
            max_open: 1_000_000,
        }
    }
}

impl TrackerConfig {
    /// Sets [`timeout`](TrackerConfig::timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`early_buffer`](TrackerConfig::early_buffer).
    pub fn with_early_buffer(mut self, early_buffer: Duration) -> Self {
        self.early_buffer = early_buffer;
        self
    }

    /// Sets [`late_window`](TrackerConfig::late_window).
    pub fn with_late_window(mut self, late_window: Duration) -> Self {
        self.late_window = late_window;
        self
    }

    /// Sets [`max_open`](TrackerConfig::max_open).
    pub fn with_max_open(mut self, max_open: usize) -> Self {
        self.max_open = max_open;
        self
    }
}

/// Options of one [`TransferTracker::track_with`] call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackOptions {
    /// For a consultative transfer, the consultation call's id (the request's `replacesCallId`):
    /// its end is reported on the handle's progress stream.
    pub replaces_call_id: Option<String>,
    /// A timeout for this transfer instead of [`TrackerConfig::timeout`].
    pub timeout: Option<Duration>,
}

impl TrackOptions {
    /// Options for a consultative transfer whose consultation call is `replaces_call_id`.
    pub fn consultative(replaces_call_id: impl Into<String>) -> Self {
        TrackOptions {
            replaces_call_id: Some(replaces_call_id.into()),
            timeout: None,
        }
    }

    /// Sets [`timeout`](TrackOptions::timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Follows transfers from their notifications to one [`TransferOutcome`] each.
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`. Register a transfer with
/// [`track`](Self::track) — ideally *before* sending the transfer request, since the first
/// notification can arrive before the `202` — and feed every decoded notification to
/// [`apply`](Self::apply). The rules it keeps:
///
/// - events for a call nobody tracks yet are buffered for [`TrackerConfig::early_buffer`] and
///   replayed by `track`; after that they are counted ([`TrackerStats::untracked`]) and dropped;
/// - `transferAccepted` may come before `transferring`, or not at all; progress only moves forward;
/// - duplicates change nothing;
/// - one open transfer per call ([`NotifyError::AlreadyTracking`]); late or repeated events of an
///   ended attempt never resolve the next one (see [`TrackerConfig::late_window`]);
/// - a consultative transfer ([`TrackOptions::consultative`]) also reports its consultation call's
///   end;
/// - a transfer with no final event within its timeout resolves as
///   [`TransferOutcome::TimedOut`];
/// - memory is bounded: ended, timed-out and abandoned (handle dropped) transfers are removed;
///   buffers and the memory of recent calls have fixed caps.
///
/// ```
/// use graph_comms_notify::{decode, TransferOutcome, TransferTracker};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), graph_comms_notify::NotifyError> {
/// let tracker = TransferTracker::default();
/// let handle = tracker.track("341a0500-d4bf-4224-8b19-1581168d328b")?;
/// let body = br#"{"value":[{"changeType":"deleted",
///   "resourceUrl":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b",
///   "resourceData":{"state":"terminated","terminationReason":"AppTransferred"}}]}"#;
/// for event in decode(body)? {
///     tracker.apply(&event);
/// }
/// assert_eq!(handle.await, TransferOutcome::Completed);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TransferTracker {
    shared: Arc<Shared>,
}

impl fmt::Debug for TransferTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferTracker")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Default for TransferTracker {
    fn default() -> Self {
        Self::new(TrackerConfig::default())
    }
}

struct Shared {
    config: TrackerConfig,
    core: Mutex<Core>,
}

struct Core {
    store: Box<dyn TransferStore>,
    /// Attempt → the slot its handle waits on.
    slots: HashMap<u64, Arc<Slot>>,
    /// Deadlines of open transfers (entries of removed transfers are skipped when popped).
    deadlines: BinaryHeap<Reverse<(Instant, u64, Box<str>)>>,
    early: HashMap<Box<str>, Early>,
    early_order: VecDeque<(Instant, Box<str>, u64)>,
    recent: HashMap<Box<str>, Recent>,
    recent_order: VecDeque<(Instant, Box<str>, u64)>,
    next_attempt: u64,
    next_gen: u64,
    stats: TrackerStats,
}

struct Early {
    gen: u64,
    events: Vec<NotificationEvent>,
}

struct Recent {
    gen: u64,
    until: Instant,
    fingerprint: u64,
}

impl TransferTracker {
    /// A tracker with the in-memory store.
    pub fn new(config: TrackerConfig) -> Self {
        Self::with_store(config, MemoryStore::new())
    }

    /// A tracker over the given store.
    pub fn with_store(config: TrackerConfig, store: impl TransferStore) -> Self {
        TransferTracker {
            shared: Arc::new(Shared {
                config,
                core: Mutex::new(Core {
                    store: Box::new(store),
                    slots: HashMap::new(),
                    deadlines: BinaryHeap::new(),
                    early: HashMap::new(),
                    early_order: VecDeque::new(),
                    recent: HashMap::new(),
                    recent_order: VecDeque::new(),
                    next_attempt: 1,
                    next_gen: 1,
                    stats: TrackerStats::default(),
                }),
            }),
        }
    }

    /// The tracker's settings.
    pub fn config(&self) -> &TrackerConfig {
        &self.shared.config
    }

    /// Starts following the transfer of `call_id`. See [`track_with`](Self::track_with).
    ///
    /// # Errors
    /// As [`track_with`](Self::track_with).
    pub fn track(&self, call_id: impl Into<String>) -> Result<TransferHandle> {
        self.track_with(call_id, TrackOptions::default())
    }

    /// Starts following the transfer of `call_id`; events buffered for it (and for its
    /// consultation call) are applied at once.
    ///
    /// # Errors
    /// [`NotifyError::EmptyCallId`]; [`NotifyError::AlreadyTracking`] when a transfer of this call
    /// is open; [`NotifyError::TrackerFull`] at [`TrackerConfig::max_open`].
    pub fn track_with(
        &self,
        call_id: impl Into<String>,
        options: TrackOptions,
    ) -> Result<TransferHandle> {
        let call_id = call_id.into();
        if call_id.is_empty() || options.replaces_call_id.as_deref() == Some("") {
            return Err(NotifyError::EmptyCallId);
        }
        let config = &self.shared.config;
        let now = Instant::now();
        let deadline = later(now, options.timeout.unwrap_or(config.timeout));
        let mut core = self.lock();
        core.sweep(now);
        // A consultative transfer that already has its outcome but still waits for its
        // consultation call's end does not block a new attempt.
        if let Some(old) = core.store.get(&call_id) {
            if old.outcome.is_some() {
                let attempt = old.attempt;
                core.finish(&call_id, attempt);
            }
        }
        if core.store.len() >= config.max_open {
            return Err(NotifyError::TrackerFull {
                limit: config.max_open,
            });
        }
        let attempt = core.next_attempt;
        let record = TransferRecord::new(
            call_id.clone(),
            options.replaces_call_id.clone(),
            attempt,
            deadline,
        );
        core.store.insert(record)?;
        core.next_attempt += 1;
        let slot = Arc::new(Slot::default());
        core.slots.insert(attempt, Arc::clone(&slot));
        core.deadlines
            .push(Reverse((deadline, attempt, call_id.as_str().into())));
        core.compact_deadlines();
        // Replay what arrived before `track`.
        let mut buffered = core.take_early(&call_id);
        if let Some(consultation) = &options.replaces_call_id {
            buffered.extend(core.take_early(consultation));
        }
        for event in &buffered {
            core.apply_tracked(config, event, now);
        }
        drop(core);
        Ok(TransferHandle {
            call_id,
            attempt,
            deadline,
            slot,
            shared: Arc::clone(&self.shared),
            sleep: None,
        })
    }

    /// Applies one decoded notification. Synchronous and O(1) (amortized); never fails.
    pub fn apply(&self, event: &NotificationEvent) -> Applied {
        let config = &self.shared.config;
        let now = Instant::now();
        let mut core = self.lock();
        core.sweep(now);
        core.stats.applied += 1;
        core.apply_tracked(config, event, now)
    }

    /// Applies every event of a batch; returns how many moved or resolved a transfer.
    pub fn apply_all<'a>(&self, events: impl IntoIterator<Item = &'a NotificationEvent>) -> usize {
        events
            .into_iter()
            .map(|e| self.apply(e))
            .filter(|a| {
                matches!(
                    a,
                    Applied::Progress | Applied::Resolved | Applied::ConsultationEnded
                )
            })
            .count()
    }

    /// Resolves every transfer whose timeout has passed and drops expired buffers; `apply` and
    /// `track` do this too, so calling it is only needed when neither runs for a long time.
    pub fn sweep(&self) {
        let now = Instant::now();
        self.lock().sweep(now);
    }

    /// Counters and sizes.
    pub fn stats(&self) -> TrackerStats {
        let core = self.lock();
        let mut stats = core.stats;
        stats.open = core.store.len();
        stats.buffered_calls = core.early.len();
        stats.buffered_events = core.early.values().map(|e| e.events.len()).sum();
        stats.recent = core.recent.len();
        stats
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        self.shared.lock()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `now + duration`, saturating about thirty years out, so that a huge duration (such as
/// `Duration::MAX` for "never") cannot overflow.
fn later(now: Instant, duration: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);
    now.checked_add(duration.min(FAR))
        .or_else(|| now.checked_add(Duration::from_secs(24 * 60 * 60)))
        .unwrap_or(now)
}

/// Whether an event can matter to a transfer: a transfer step, or the call's end.
fn is_relevant(event: &NotificationEvent) -> bool {
    event.kind != EventKind::Other || event.is_call_end()
}

/// Identifies a final event, to recognise a retried delivery of it.
fn fingerprint(event: &NotificationEvent) -> u64 {
    let mut h = DefaultHasher::new();
    event.kind.hash(&mut h);
    event.state.hash(&mut h);
    event.result_code.hash(&mut h);
    event.result_subcode.hash(&mut h);
    event.result_message.hash(&mut h);
    event.termination_reason.hash(&mut h);
    event.replaces_context.hash(&mut h);
    h.finish()
}

impl Core {
    fn apply_tracked(
        &mut self,
        config: &TrackerConfig,
        event: &NotificationEvent,
        now: Instant,
    ) -> Applied {
        let Some(call_id) = event.call_id.as_deref() else {
            self.stats.ignored += 1;
            return Applied::Ignored;
        };
        let Some((role, record)) = self.store.find_mut(call_id) else {
            return self.apply_untracked(config, call_id, event, now);
        };
        let applied = match role {
            CallRole::Transferred => {
                apply_to_transfer(record, event, &self.recent, now, &self.slots)
            }
            CallRole::Consultation => apply_to_consultation(record, call_id, event, &self.slots),
        };
        let done = record.outcome.is_some()
            && (record.replaces_call_id.is_none() || record.consultation_ended);
        // Only an ending transfer needs its id copied out of the store.
        let ending = (matches!(applied, Step::Resolved(_)) || done).then(|| {
            (
                record.call_id.clone(),
                record.attempt,
                record.outcome.clone(),
            )
        });
        match applied {
            Step::Progress | Step::ConsultationEnded => self.stats.progressed += 1,
            Step::Duplicate => self.stats.duplicates += 1,
            Step::Late => self.stats.late += 1,
            Step::Ignored => self.stats.ignored += 1,
            Step::Resolved(_) => {}
        }
        if let Some((primary, attempt, outcome)) = ending {
            if let Step::Resolved(fp) = applied {
                match outcome {
                    Some(TransferOutcome::Completed) => self.stats.completed += 1,
                    Some(TransferOutcome::Failed { .. }) => self.stats.failed += 1,
                    Some(TransferOutcome::CallEnded { .. }) => self.stats.call_ended += 1,
                    _ => {}
                }
                self.remember(config, &primary, fp, now);
            }
            if done {
                self.finish(&primary, attempt);
            }
        }
        applied.public()
    }

    fn apply_untracked(
        &mut self,
        config: &TrackerConfig,
        call_id: &str,
        event: &NotificationEvent,
        now: Instant,
    ) -> Applied {
        if !is_relevant(event) {
            self.stats.untracked += 1;
            return Applied::Untracked;
        }
        if self.recent.get(call_id).is_some_and(|r| r.until > now) {
            self.stats.late += 1;
            return Applied::Late;
        }
        if config.early_buffer.is_zero() || config.max_buffered_calls == 0 {
            self.stats.untracked += 1;
            return Applied::Untracked;
        }
        if let Some(early) = self.early.get_mut(call_id) {
            if early.events.len() >= config.max_buffered_per_call {
                self.stats.untracked += 1;
                return Applied::Untracked;
            }
            early.events.push(event.clone());
            return Applied::Buffered;
        }
        while self.early.len() >= config.max_buffered_calls {
            let Some((_, key, gen)) = self.early_order.pop_front() else {
                break;
            };
            self.drop_early(&key, gen);
        }
        let gen = self.next_gen;
        self.next_gen += 1;
        self.early.insert(
            call_id.into(),
            Early {
                gen,
                events: vec![event.clone()],
            },
        );
        self.early_order
            .push_back((later(now, config.early_buffer), call_id.into(), gen));
        Applied::Buffered
    }

    fn take_early(&mut self, call_id: &str) -> Vec<NotificationEvent> {
        self.early
            .remove(call_id)
            .map(|e| e.events)
            .unwrap_or_default()
    }

    fn drop_early(&mut self, key: &str, gen: u64) {
        if self.early.get(key).is_some_and(|e| e.gen == gen) {
            if let Some(early) = self.early.remove(key) {
                self.stats.untracked += early.events.len() as u64;
            }
        }
    }

    /// Remembers that `call_id`'s transfer just ended with an event of fingerprint `fp`.
    fn remember(&mut self, config: &TrackerConfig, call_id: &str, fp: u64, now: Instant) {
        if config.late_window.is_zero() || config.max_recent == 0 {
            return;
        }
        while self.recent.len() >= config.max_recent {
            let Some((_, key, gen)) = self.recent_order.pop_front() else {
                break;
            };
            if self.recent.get(&key).is_some_and(|r| r.gen == gen) {
                self.recent.remove(&key);
            }
        }
        let gen = self.next_gen;
        self.next_gen += 1;
        let until = later(now, config.late_window);
        self.recent.insert(
            call_id.into(),
            Recent {
                gen,
                until,
                fingerprint: fp,
            },
        );
        self.recent_order.push_back((until, call_id.into(), gen));
    }

    /// Removes a transfer from the store and closes its handle's progress stream.
    fn finish(&mut self, call_id: &str, attempt: u64) {
        self.store.remove(call_id, attempt);
        if let Some(slot) = self.slots.remove(&attempt) {
            slot.close();
        }
    }

    fn sweep(&mut self, now: Instant) {
        while let Some(Reverse((deadline, attempt, _))) = self.deadlines.peek() {
            if *deadline > now {
                break;
            }
            let attempt = *attempt;
            let Some(Reverse((_, _, call_id))) = self.deadlines.pop() else {
                break;
            };
            self.expire(&call_id, attempt);
        }
        while let Some((until, _, _)) = self.early_order.front() {
            if *until > now {
                break;
            }
            let Some((_, key, gen)) = self.early_order.pop_front() else {
                break;
            };
            self.drop_early(&key, gen);
        }
        while let Some((until, _, _)) = self.recent_order.front() {
            if *until > now {
                break;
            }
            let Some((_, key, gen)) = self.recent_order.pop_front() else {
                break;
            };
            if self.recent.get(&key).is_some_and(|r| r.gen == gen) {
                self.recent.remove(&key);
            }
        }
    }

    /// The transfer's deadline passed: resolve it as timed out (or, when it only waited for its
    /// consultation call, just remove it).
    fn expire(&mut self, call_id: &str, attempt: u64) {
        let Some(record) = self.store.get(call_id) else {
            return;
        };
        if record.attempt != attempt {
            return;
        }
        if record.outcome.is_none() {
            if let Some(slot) = self.slots.get(&attempt) {
                slot.resolve(TransferOutcome::TimedOut);
            }
            self.stats.timed_out += 1;
        }
        self.finish(call_id, attempt);
    }

    /// Drops deadline entries of removed transfers once they dominate the heap.
    fn compact_deadlines(&mut self) {
        if self.deadlines.len() > 2 * self.store.len() + 1024 {
            let store = &self.store;
            self.deadlines.retain(|Reverse((_, attempt, call_id))| {
                store.get(call_id).is_some_and(|r| r.attempt == *attempt)
            });
        }
    }
}

/// What one event did, before it is reported as [`Applied`].
enum Step {
    Progress,
    Resolved(u64),
    ConsultationEnded,
    Duplicate,
    Late,
    Ignored,
}

impl Step {
    fn public(&self) -> Applied {
        match self {
            Step::Progress => Applied::Progress,
            Step::Resolved(_) => Applied::Resolved,
            Step::ConsultationEnded => Applied::ConsultationEnded,
            Step::Duplicate => Applied::Duplicate,
            Step::Late => Applied::Late,
            Step::Ignored => Applied::Ignored,
        }
    }
}

fn apply_to_transfer(
    record: &mut TransferRecord,
    event: &NotificationEvent,
    recent: &HashMap<Box<str>, Recent>,
    now: Instant,
    slots: &HashMap<u64, Arc<Slot>>,
) -> Step {
    if record.outcome.is_some() {
        // Only waiting for the consultation call's end; the transfer itself is over.
        return if is_relevant(event) {
            Step::Late
        } else {
            Step::Ignored
        };
    }
    // The slot is looked up only when something changes: duplicates touch nothing but the record.
    let outcome = match &event.kind {
        EventKind::Transferring => {
            if record.seen_transferring || record.seen_accepted {
                return Step::Duplicate;
            }
            record.seen_transferring = true;
            if let Some(slot) = slots.get(&record.attempt) {
                slot.progress(TransferProgress::Transferring);
            }
            return Step::Progress;
        }
        EventKind::TransferAccepted => {
            if record.seen_accepted {
                return Step::Duplicate;
            }
            record.seen_accepted = true;
            if let Some(slot) = slots.get(&record.attempt) {
                slot.progress(TransferProgress::TransferAccepted);
            }
            return Step::Progress;
        }
        EventKind::Completed => TransferOutcome::Completed,
        EventKind::Failed {
            code,
            subcode,
            message,
            replaces_context,
        } => TransferOutcome::Failed {
            code: *code,
            subcode: *subcode,
            message: message.clone(),
            replaces_context: replaces_context.clone(),
        },
        _ if event.is_call_end() => TransferOutcome::CallEnded {
            code: event.result_code,
            subcode: event.result_subcode,
            message: event.result_message.clone(),
        },
        _ => return Step::Ignored,
    };
    let fp = fingerprint(event);
    // A retried delivery of the previous attempt's final event must not end this attempt.
    let fresh = record.seen_transferring || record.seen_accepted;
    if !fresh
        && recent
            .get(record.call_id.as_str())
            .is_some_and(|r| r.until > now && r.fingerprint == fp)
    {
        return Step::Late;
    }
    if let Some(slot) = slots.get(&record.attempt) {
        slot.resolve(outcome.clone());
    }
    record.outcome = Some(outcome);
    Step::Resolved(fp)
}

fn apply_to_consultation(
    record: &mut TransferRecord,
    call_id: &str,
    event: &NotificationEvent,
    slots: &HashMap<u64, Arc<Slot>>,
) -> Step {
    if !event.is_call_end() {
        return Step::Ignored;
    }
    if record.consultation_ended {
        return Step::Duplicate;
    }
    record.consultation_ended = true;
    if let Some(slot) = slots.get(&record.attempt) {
        slot.progress(TransferProgress::ConsultationEnded {
            call_id: call_id.to_owned(),
            termination_reason: event.termination_reason.clone(),
        });
    }
    Step::ConsultationEnded
}

/// Where a handle and its progress stream wait.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    outcome: Option<TransferOutcome>,
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

    fn progress(&self, step: TransferProgress) {
        let mut s = self.lock();
        if s.closed {
            return;
        }
        s.progress.push_back(step);
        if let Some(w) = s.progress_waker.take() {
            w.wake();
        }
    }

    fn resolve(&self, outcome: TransferOutcome) {
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

    fn close(&self) {
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
    call_id: String,
    attempt: u64,
    deadline: Instant,
    slot: Arc<Slot>,
    shared: Arc<Shared>,
    sleep: Option<Pin<Box<Sleep>>>,
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

    /// The transfer's steps as they happen: `Transferring`, `TransferAccepted`,
    /// `ConsultationEnded`, then `Finished(outcome)`; the stream ends when the tracker is done
    /// with the transfer. Steps are queued from `track` on, so nothing is missed by asking late.
    /// Meant for one consumer: streams of the same handle share one queue.
    ///
    /// ```
    /// use graph_comms_model::CallState;
    /// use graph_comms_notify::{
    ///     EventKind, NotificationEvent, TransferOutcome, TransferProgress, TransferTracker,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), graph_comms_notify::NotifyError> {
    /// let tracker = TransferTracker::default();
    /// let handle = tracker.track("call-1")?;
    /// let mut progress = handle.progress();
    /// tracker.apply(&NotificationEvent::new("call-1", CallState::Transferring, EventKind::Transferring));
    /// tracker.apply(&NotificationEvent::new("call-1", CallState::Terminated, EventKind::Completed));
    /// assert_eq!(progress.next().await, Some(TransferProgress::Transferring));
    /// assert_eq!(
    ///     progress.next().await,
    ///     Some(TransferProgress::Finished(TransferOutcome::Completed))
    /// );
    /// assert_eq!(progress.next().await, None);
    /// # Ok(()) }
    /// ```
    pub fn progress(&self) -> ProgressStream {
        ProgressStream {
            slot: Arc::clone(&self.slot),
            shared: Arc::clone(&self.shared),
            call_id: self.call_id.clone(),
            attempt: self.attempt,
            deadline: self.deadline,
            sleep: None,
            deadline_passed: false,
        }
    }
}

/// Times the transfer out at its deadline, as the tracker's sweep would, and returns its outcome:
/// [`TransferOutcome::TimedOut`] unless something final came first. Shared by the handle and its
/// progress stream, so either one ends at the deadline on its own.
fn time_out(shared: &Shared, slot: &Slot, call_id: &str, attempt: u64) -> TransferOutcome {
    {
        let mut core = shared.lock();
        core.sweep(Instant::now());
        core.expire(call_id, attempt);
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
        Poll::Ready(time_out(
            &self.shared,
            &self.slot,
            &self.call_id,
            self.attempt,
        ))
    }
}

impl Drop for TransferHandle {
    fn drop(&mut self) {
        if self.slot.lock().outcome.is_some() {
            return;
        }
        let mut core = self.shared.lock();
        let open = core
            .store
            .get(&self.call_id)
            .is_some_and(|r| r.attempt == self.attempt && r.outcome.is_none());
        if open {
            core.stats.abandoned += 1;
            core.finish(&self.call_id, self.attempt);
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
            if s.outcome.is_some() || self.deadline_passed {
                return Poll::Pending;
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
}

impl futures_util::Stream for ProgressStream {
    type Item = TransferProgress;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TransferProgress>> {
        self.get_mut().poll_step(cx)
    }
}
