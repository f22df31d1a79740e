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
use graph_comms_model::CallState;

use crate::event::{normalize_call_id, EventKind, NotificationEvent};
use crate::explain::explain_subcode;
use crate::store::{CallRole, MemoryStore, TransferRecord, TransferStore};

/// How a tracked transfer ended.
///
/// Every variant but [`TimedOut`](TransferOutcome::TimedOut) carries what the final notification
/// said (`resultInfo` code, sub-code and message, `terminationReason`), whether the outcome was
/// **inferred** (no final code was seen: e.g. the call was deleted after `transferAccepted`, or
/// reconciliation found it gone) and whether it arrived **late** (after the transfer had been
/// reported [`TimedOut`](TransferOutcome::TimedOut)). The accessors ([`code`](Self::code),
/// [`subcode`](Self::subcode), ...) read them whatever the variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransferOutcome {
    /// The transfer completed: the call ended with sub-code 7015 (`GracefulTransferCompleted`) or
    /// `terminationReason: AppTransferred`, or (inferred) it was deleted after `transferAccepted`.
    Completed {
        /// `resultInfo.code`, when numeric.
        code: Option<i64>,
        /// `resultInfo.subcode` / `subCode`, when numeric.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
        /// `terminationReason`.
        termination_reason: Option<String>,
        /// No final code was seen; the outcome follows from what was.
        inferred: bool,
        /// Reported after the transfer had timed out.
        late: bool,
    },
    /// The transfer failed and the call is back to `established` (or the transfer's operation
    /// failed).
    Failed {
        /// `resultInfo.code`, when numeric (`None` only for an inferred failure).
        code: Option<i64>,
        /// `resultInfo.subcode` / `subCode`, when numeric.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
        /// `replacesContext` (consultative transfers).
        replaces_context: Option<String>,
        /// `terminationReason`.
        termination_reason: Option<String>,
        /// No failure code was seen; the outcome follows from what was (e.g. the call was found
        /// back in `established`).
        inferred: bool,
        /// Reported after the transfer had timed out.
        late: bool,
    },
    /// The call ended without a transfer code (for example the caller hung up mid-transfer).
    CallEnded {
        /// `resultInfo.code`, when numeric.
        code: Option<i64>,
        /// `resultInfo.subcode` / `subCode`, when numeric.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
        /// `terminationReason`.
        termination_reason: Option<String>,
        /// No final notification said so; the outcome follows from what was (e.g. Graph answered
        /// 404 for the call).
        inferred: bool,
        /// Reported after the transfer had timed out.
        late: bool,
    },
    /// Nothing final arrived before the transfer's timeout.
    TimedOut,
}

impl TransferOutcome {
    /// A completion with nothing but its inference flag set; fill the rest with struct update
    /// syntax on the variant, or use it as it is.
    pub fn completed(inferred: bool) -> Self {
        TransferOutcome::Completed {
            code: None,
            subcode: None,
            message: None,
            termination_reason: None,
            inferred,
            late: false,
        }
    }

    /// `true` for [`Completed`](TransferOutcome::Completed).
    pub fn is_success(&self) -> bool {
        matches!(self, TransferOutcome::Completed { .. })
    }

    /// The outcome's name as `listen` prints it: `transferCompleted`, `transferFailed`,
    /// `callEnded` or `timedOut`.
    pub fn name(&self) -> &'static str {
        match self {
            TransferOutcome::Completed { .. } => "transferCompleted",
            TransferOutcome::Failed { .. } => "transferFailed",
            TransferOutcome::CallEnded { .. } => "callEnded",
            TransferOutcome::TimedOut => "timedOut",
        }
    }

    /// `resultInfo.code` of the final notification.
    pub fn code(&self) -> Option<i64> {
        match self {
            TransferOutcome::Completed { code, .. }
            | TransferOutcome::Failed { code, .. }
            | TransferOutcome::CallEnded { code, .. } => *code,
            TransferOutcome::TimedOut => None,
        }
    }

    /// `resultInfo.subcode` / `subCode` of the final notification.
    pub fn subcode(&self) -> Option<i64> {
        match self {
            TransferOutcome::Completed { subcode, .. }
            | TransferOutcome::Failed { subcode, .. }
            | TransferOutcome::CallEnded { subcode, .. } => *subcode,
            TransferOutcome::TimedOut => None,
        }
    }

    /// `resultInfo.message` of the final notification.
    pub fn message(&self) -> Option<&str> {
        match self {
            TransferOutcome::Completed { message, .. }
            | TransferOutcome::Failed { message, .. }
            | TransferOutcome::CallEnded { message, .. } => message.as_deref(),
            TransferOutcome::TimedOut => None,
        }
    }

    /// `terminationReason` of the final notification.
    pub fn termination_reason(&self) -> Option<&str> {
        match self {
            TransferOutcome::Completed {
                termination_reason, ..
            }
            | TransferOutcome::Failed {
                termination_reason, ..
            }
            | TransferOutcome::CallEnded {
                termination_reason, ..
            } => termination_reason.as_deref(),
            TransferOutcome::TimedOut => None,
        }
    }

    /// `replacesContext` of a failed consultative transfer.
    pub fn replaces_context(&self) -> Option<&str> {
        match self {
            TransferOutcome::Failed {
                replaces_context, ..
            } => replaces_context.as_deref(),
            _ => None,
        }
    }

    /// `true` when no final code was seen and the outcome follows from what was.
    pub fn is_inferred(&self) -> bool {
        match self {
            TransferOutcome::Completed { inferred, .. }
            | TransferOutcome::Failed { inferred, .. }
            | TransferOutcome::CallEnded { inferred, .. } => *inferred,
            TransferOutcome::TimedOut => false,
        }
    }

    /// `true` when the outcome arrived after the transfer had been reported timed out.
    pub fn is_late(&self) -> bool {
        match self {
            TransferOutcome::Completed { late, .. }
            | TransferOutcome::Failed { late, .. }
            | TransferOutcome::CallEnded { late, .. } => *late,
            TransferOutcome::TimedOut => false,
        }
    }

    /// The same outcome marked late.
    pub fn into_late(mut self) -> Self {
        match &mut self {
            TransferOutcome::Completed { late, .. }
            | TransferOutcome::Failed { late, .. }
            | TransferOutcome::CallEnded { late, .. } => *late = true,
            TransferOutcome::TimedOut => {}
        }
        self
    }

    /// What the outcome means for the bot and what to do next: the sub-code's explanation when
    /// it is known, else one for the outcome itself.
    pub fn explanation(&self) -> Option<&'static str> {
        if let Some(known) = self.subcode().and_then(explain_subcode) {
            return Some(known);
        }
        Some(match self {
            TransferOutcome::Completed { inferred: true, .. } => {
                "the call was deleted after the target accepted, so the transfer is taken as \
                 completed; the bot's leg is gone and there is nothing more to do for this call"
            }
            TransferOutcome::Completed { .. } => return None,
            TransferOutcome::Failed { .. } => {
                "the transfer did not happen and the caller is still connected to the bot; \
                 tell the caller, then retry, transfer elsewhere or keep handling the call"
            }
            TransferOutcome::CallEnded { .. } => {
                "the call ended before the transfer completed (often the caller hung up); \
                 there is no call left to act on"
            }
            TransferOutcome::TimedOut => {
                "no final notification came in time; read the call (GET \
                 /communications/calls/{id}) to learn what happened before acting on it again"
            }
        })
    }
}

impl fmt::Display for TransferOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransferOutcome::Completed { .. } => "transfer completed",
            TransferOutcome::Failed { .. } => "transfer failed",
            TransferOutcome::CallEnded { .. } => "call ended before the transfer completed",
            TransferOutcome::TimedOut => "no final transfer notification in time",
        })?;
        match (self.code(), self.subcode()) {
            (Some(c), Some(s)) => write!(f, " ({c}/{s})")?,
            (Some(c), None) => write!(f, " ({c})")?,
            (None, Some(s)) => write!(f, " (sub-code {s})")?,
            (None, None) => {}
        }
        if self.is_inferred() {
            f.write_str(", inferred")?;
        }
        if self.is_late() {
            f.write_str(", reported late")?;
        }
        Ok(())
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
    /// The transfer's outcome (always the last item but for a later `ConsultationEnded` or
    /// `Late`).
    Finished(TransferOutcome),
    /// The final result of a transfer already reported `Finished(TimedOut)`, which arrived
    /// within [`TrackerConfig::late_result_window`]; its outcome is marked
    /// [late](TransferOutcome::is_late).
    Late(TransferOutcome),
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
    /// The final result of a transfer that had timed out, reported as its late outcome.
    LateResult,
    /// For a transfer that belongs to another tenant than the notification's token says; not
    /// applied (count it and log it, escaped).
    OtherTenant,
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
    /// Timed-out transfers remembered for a late result.
    pub remembered: usize,
    /// Late results reported for timed-out transfers.
    pub late_results: u64,
    /// Events not applied because they came under another tenant than their transfer's.
    pub other_tenant: u64,
    /// Followed transfers timed out early to stay within [`TrackerConfig::max_followed`].
    pub evicted: u64,
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
    /// A transfer that timed out is remembered this long, so that a final notification arriving
    /// later is reported as the late outcome of that same transfer
    /// ([`TransferProgress::Late`]), never as a new one. Default 10 minutes; zero disables it.
    pub late_result_window: Duration,
    /// At most this many timed-out transfers are remembered (the oldest is forgotten first).
    /// Default 10 000.
    pub max_remembered: usize,
    /// At most this many transfers followed on the tracker's own initiative
    /// ([`TrackOptions::followed`]) are open at once; past it the oldest of them is timed out.
    /// Default 10 000.
    pub max_followed: usize,
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
            late_result_window: Duration::from_secs(600),
            max_remembered: 10_000,
            max_followed: 10_000,
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

    /// Sets [`late_result_window`](TrackerConfig::late_result_window).
    pub fn with_late_result_window(mut self, window: Duration) -> Self {
        self.late_result_window = window;
        self
    }

    /// Sets [`max_followed`](TrackerConfig::max_followed).
    pub fn with_max_followed(mut self, max_followed: usize) -> Self {
        self.max_followed = max_followed;
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
    /// The tenant the call belongs to (a `tid`). Notifications authenticated for another tenant
    /// are not applied to this transfer ([`Applied::OtherTenant`]). Without it, the transfer
    /// belongs to the tenant of the first authenticated notification applied to it.
    pub tenant_id: Option<String>,
    /// The tracker follows this transfer on its own initiative (a listener that saw a transfer
    /// notification), not because this process sent it: such transfers are bounded by
    /// [`TrackerConfig::max_followed`], the oldest timed out first.
    pub followed: bool,
}

impl TrackOptions {
    /// Options for a consultative transfer whose consultation call is `replaces_call_id`.
    pub fn consultative(replaces_call_id: impl Into<String>) -> Self {
        TrackOptions {
            replaces_call_id: Some(replaces_call_id.into()),
            ..TrackOptions::default()
        }
    }

    /// Options for a transfer followed on the tracker's own initiative (see
    /// [`followed`](TrackOptions::followed)).
    pub fn followed() -> Self {
        TrackOptions {
            followed: true,
            ..TrackOptions::default()
        }
    }

    /// Sets [`tenant_id`](TrackOptions::tenant_id).
    pub fn with_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
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
/// let outcome = handle.await;
/// assert!(outcome.is_success());
/// assert_eq!(outcome.termination_reason(), Some("AppTransferred"));
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
    /// Deadlines of open transfers and ends of remembered ones (entries of removed transfers are
    /// skipped when popped).
    deadlines: BinaryHeap<Reverse<(Instant, u64, Box<str>)>>,
    early: HashMap<Box<str>, Early>,
    early_order: VecDeque<(Instant, Box<str>, u64)>,
    recent: HashMap<Box<str>, Recent>,
    recent_order: VecDeque<(Instant, Box<str>, u64)>,
    /// Followed transfers in the order they were tracked (stale entries skipped).
    followed_order: VecDeque<(Box<str>, u64)>,
    /// Followed transfers without an outcome.
    followed_open: usize,
    /// Remembered timed-out transfers in the order they timed out (stale entries skipped).
    remembered_order: VecDeque<(Box<str>, u64)>,
    remembered: usize,
    next_attempt: u64,
    next_gen: u64,
    stats: TrackerStats,
}

struct Early {
    gen: u64,
    /// Each event with the tenant it was authenticated for.
    events: Vec<(NotificationEvent, Option<Box<str>>)>,
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
                    followed_order: VecDeque::new(),
                    followed_open: 0,
                    remembered_order: VecDeque::new(),
                    remembered: 0,
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
    /// consultation call) are applied at once, in the order they arrived.
    ///
    /// Call ids are compared as Graph means them ([`normalize_call_id`](crate::normalize_call_id)):
    /// `57DAB8B1894C409AB240BD8BEAE78896` is `57dab8b1-894c-409a-b240-bd8beae78896`. Tracking a call
    /// whose previous transfer timed out and is remembered for a late result starts afresh and
    /// forgets that one.
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
        let key = normalize_call_id(&call_id).into_owned();
        let replaces = options
            .replaces_call_id
            .as_deref()
            .map(|r| normalize_call_id(r).into_owned());
        let config = &self.shared.config;
        let now = Instant::now();
        let deadline = later(now, options.timeout.unwrap_or(config.timeout));
        let mut core = self.lock();
        core.sweep(config, now);
        // A transfer that already has its outcome (a consultative one waiting for its
        // consultation call's end, or a timed-out one remembered for a late result) does not
        // block a new attempt.
        if let Some(old) = core.store.get(&key) {
            if old.outcome.is_some() {
                let attempt = old.attempt;
                core.finish(&key, attempt);
            }
        }
        if options.followed {
            core.make_room_for_followed(config, now);
        }
        if core.store.len() >= config.max_open {
            return Err(NotifyError::TrackerFull {
                limit: config.max_open,
            });
        }
        let attempt = core.next_attempt;
        let mut record = TransferRecord::new(key.clone(), replaces.clone(), attempt, deadline);
        record.tenant_id = options.tenant_id.as_deref().map(tenant_key);
        record.followed = options.followed;
        core.store.insert(record).map_err(|e| match e {
            // Report the id as the caller spelled it.
            NotifyError::AlreadyTracking { call_id: taken } if taken == key => {
                NotifyError::AlreadyTracking {
                    call_id: call_id.clone(),
                }
            }
            other => other,
        })?;
        core.next_attempt += 1;
        if options.followed {
            core.followed_open += 1;
            core.followed_order
                .push_back((key.as_str().into(), attempt));
        }
        let slot = Arc::new(Slot::default());
        core.slots.insert(attempt, Arc::clone(&slot));
        core.deadlines
            .push(Reverse((deadline, attempt, key.as_str().into())));
        core.compact();
        // Replay what arrived before `track`, in arrival order.
        let mut buffered = core.take_early(&key);
        if let Some(consultation) = &replaces {
            buffered.extend(core.take_early(consultation));
        }
        for (event, tenant) in &buffered {
            core.apply_tracked(config, event, tenant.as_deref(), now);
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
    ///
    /// The notification's tenant is not known here: use
    /// [`apply_for_tenant`](Self::apply_for_tenant) for authenticated callbacks.
    pub fn apply(&self, event: &NotificationEvent) -> Applied {
        self.apply_for_tenant(event, None)
    }

    /// Applies one decoded notification whose callback was authenticated for `tenant_id` (the
    /// token's `tid`). A transfer belongs to one tenant (see [`TrackOptions::tenant_id`]); an event
    /// for it under another tenant is not applied and returns [`Applied::OtherTenant`].
    pub fn apply_for_tenant(&self, event: &NotificationEvent, tenant_id: Option<&str>) -> Applied {
        let config = &self.shared.config;
        let now = Instant::now();
        let tenant = tenant_id.map(tenant_key);
        let mut core = self.lock();
        core.sweep(config, now);
        core.stats.applied += 1;
        core.apply_tracked(config, event, tenant.as_deref(), now)
    }

    /// Applies every event of a batch, in order; returns how many moved or resolved a transfer.
    pub fn apply_all<'a>(&self, events: impl IntoIterator<Item = &'a NotificationEvent>) -> usize {
        events
            .into_iter()
            .map(|e| self.apply(e))
            .filter(|a| {
                matches!(
                    a,
                    Applied::Progress
                        | Applied::Resolved
                        | Applied::ConsultationEnded
                        | Applied::LateResult
                )
            })
            .count()
    }

    /// Resolves every transfer whose timeout has passed and drops expired buffers; `apply` and
    /// `track` do this too, so calling it is only needed when neither runs for a long time.
    pub fn sweep(&self) {
        let now = Instant::now();
        self.lock().sweep(&self.shared.config, now);
    }

    /// Counters and sizes.
    pub fn stats(&self) -> TrackerStats {
        let core = self.lock();
        let mut stats = core.stats;
        stats.open = core.store.len() - core.remembered.min(core.store.len());
        stats.buffered_calls = core.early.len();
        stats.buffered_events = core.early.values().map(|e| e.events.len()).sum();
        stats.recent = core.recent.len();
        stats.remembered = core.remembered;
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

/// A tenant id as compared: GUIDs in lower case.
fn tenant_key(tenant: &str) -> String {
    normalize_call_id(tenant).into_owned()
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
    event.change_type.hash(&mut h);
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
        tenant: Option<&str>,
        now: Instant,
    ) -> Applied {
        let Some(raw_id) = event.call_id.as_deref() else {
            self.stats.ignored += 1;
            return Applied::Ignored;
        };
        let call_id = normalize_call_id(raw_id);
        let Some((role, record)) = self.store.find_mut(&call_id) else {
            return self.apply_untracked(config, &call_id, event, tenant, now);
        };
        match (&record.tenant_id, tenant) {
            (Some(own), Some(theirs)) if own.as_str() != theirs => {
                self.stats.other_tenant += 1;
                return Applied::OtherTenant;
            }
            (None, Some(theirs)) if is_relevant(event) => {
                record.tenant_id = Some(theirs.to_owned());
            }
            _ => {}
        }
        let was_open = record.outcome.is_none();
        let applied = match role {
            CallRole::Transferred => {
                apply_to_transfer(record, event, &self.recent, now, &self.slots)
            }
            CallRole::Consultation => apply_to_consultation(record, &call_id, event, &self.slots),
        };
        let done = matches!(applied, Step::LateResult(_))
            || (record.outcome.is_some()
                && record.late_until.is_none()
                && (record.replaces_call_id.is_none() || record.consultation_ended));
        let followed = record.followed;
        // Only an ending transfer needs its id copied out of the store.
        let ending = (matches!(applied, Step::Resolved(_)) || done).then(|| {
            (
                record.call_id.clone(),
                record.attempt,
                record.outcome.as_deref().cloned(),
            )
        });
        match applied {
            Step::Progress | Step::ConsultationEnded => self.stats.progressed += 1,
            Step::Duplicate => self.stats.duplicates += 1,
            Step::Late => self.stats.late += 1,
            Step::Ignored => self.stats.ignored += 1,
            Step::LateResult(_) => self.stats.late_results += 1,
            Step::Resolved(_) => {}
        }
        if let Some((primary, attempt, outcome)) = ending {
            if let Step::Resolved(fp) = applied {
                if was_open && followed {
                    self.followed_open = self.followed_open.saturating_sub(1);
                }
                self.count_outcome(outcome.as_ref());
                self.remember(config, &primary, fp, now);
            }
            if let Step::LateResult(fp) = applied {
                self.count_outcome(outcome.as_ref());
                self.remember(config, &primary, fp, now);
            }
            if done {
                self.finish(&primary, attempt);
            }
        }
        applied.public()
    }

    fn count_outcome(&mut self, outcome: Option<&TransferOutcome>) {
        match outcome {
            Some(TransferOutcome::Completed { .. }) => self.stats.completed += 1,
            Some(TransferOutcome::Failed { .. }) => self.stats.failed += 1,
            Some(TransferOutcome::CallEnded { .. }) => self.stats.call_ended += 1,
            _ => {}
        }
    }

    fn apply_untracked(
        &mut self,
        config: &TrackerConfig,
        call_id: &str,
        event: &NotificationEvent,
        tenant: Option<&str>,
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
        let entry = (event.clone(), tenant.map(Box::from));
        if let Some(early) = self.early.get_mut(call_id) {
            if early.events.len() >= config.max_buffered_per_call {
                self.stats.untracked += 1;
                return Applied::Untracked;
            }
            early.events.push(entry);
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
                events: vec![entry],
            },
        );
        self.early_order
            .push_back((later(now, config.early_buffer), call_id.into(), gen));
        Applied::Buffered
    }

    fn take_early(&mut self, call_id: &str) -> Vec<(NotificationEvent, Option<Box<str>>)> {
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
        if let Some(record) = self.store.remove(call_id, attempt) {
            if record.followed && record.outcome.is_none() {
                self.followed_open = self.followed_open.saturating_sub(1);
            }
            if record.late_until.is_some() {
                self.remembered = self.remembered.saturating_sub(1);
            }
        }
        if let Some(slot) = self.slots.remove(&attempt) {
            slot.close();
        }
    }

    /// Before a new followed transfer: time out the oldest followed ones at the limit.
    fn make_room_for_followed(&mut self, config: &TrackerConfig, now: Instant) {
        while self.followed_open >= config.max_followed.max(1) {
            let Some((key, attempt)) = self.followed_order.pop_front() else {
                break;
            };
            let live = self
                .store
                .get(&key)
                .is_some_and(|r| r.attempt == attempt && r.outcome.is_none());
            if live {
                self.stats.evicted += 1;
                self.expire(config, &key, attempt, now);
            }
        }
    }

    fn sweep(&mut self, config: &TrackerConfig, now: Instant) {
        while let Some(Reverse((deadline, attempt, _))) = self.deadlines.peek() {
            if *deadline > now {
                break;
            }
            let attempt = *attempt;
            let Some(Reverse((_, _, call_id))) = self.deadlines.pop() else {
                break;
            };
            self.expire(config, &call_id, attempt, now);
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

    /// The transfer's deadline passed: resolve it as timed out and remember it for a late result
    /// (or, when it only waited for its consultation call or for a late result, remove it).
    fn expire(&mut self, config: &TrackerConfig, call_id: &str, attempt: u64, now: Instant) {
        let Some(record) = self.store.get(call_id) else {
            return;
        };
        if record.attempt != attempt {
            return;
        }
        if record.outcome.is_some() {
            if record.late_until.is_some_and(|until| until > now) {
                return;
            }
            self.finish(call_id, attempt);
            return;
        }
        if let Some(slot) = self.slots.get(&attempt) {
            slot.resolve(TransferOutcome::TimedOut);
        }
        self.stats.timed_out += 1;
        let followed = record.followed;
        if followed {
            self.followed_open = self.followed_open.saturating_sub(1);
        }
        let remember = !config.late_result_window.is_zero() && config.max_remembered > 0;
        if !remember {
            if let Some(record) = self.store.find_mut(call_id).map(|(_, r)| r) {
                record.outcome = Some(Box::new(TransferOutcome::TimedOut));
            }
            self.finish(call_id, attempt);
            return;
        }
        while self.remembered >= config.max_remembered {
            let Some((key, old)) = self.remembered_order.pop_front() else {
                break;
            };
            if self
                .store
                .get(&key)
                .is_some_and(|r| r.attempt == old && r.late_until.is_some())
            {
                self.finish(&key, old);
            }
        }
        let until = later(now, config.late_result_window);
        if let Some((_, record)) = self.store.find_mut(call_id) {
            record.outcome = Some(Box::new(TransferOutcome::TimedOut));
            record.late_until = Some(until);
        }
        self.remembered += 1;
        self.remembered_order.push_back((call_id.into(), attempt));
        self.deadlines
            .push(Reverse((until, attempt, call_id.into())));
    }

    /// Drops stale bookkeeping once it dominates what it tracks.
    fn compact(&mut self) {
        let store = &self.store;
        if self.deadlines.len() > 2 * store.len() + 1024 {
            self.deadlines.retain(|Reverse((_, attempt, call_id))| {
                store.get(call_id).is_some_and(|r| r.attempt == *attempt)
            });
        }
        if self.followed_order.len() > 2 * self.followed_open + 1024 {
            self.followed_order.retain(|(key, attempt)| {
                store
                    .get(key)
                    .is_some_and(|r| r.attempt == *attempt && r.outcome.is_none())
            });
        }
        if self.remembered_order.len() > 2 * self.remembered + 1024 {
            self.remembered_order.retain(|(key, attempt)| {
                store
                    .get(key)
                    .is_some_and(|r| r.attempt == *attempt && r.late_until.is_some())
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
    LateResult(u64),
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
            Step::LateResult(_) => Applied::LateResult,
            Step::Ignored => Applied::Ignored,
        }
    }
}

/// Operation ids compare like call ids (the older payloads spell them as bare upper-case GUIDs).
fn same_operation(a: &str, b: &str) -> bool {
    normalize_call_id(a) == normalize_call_id(b)
}

/// What a final (or failing) event means for this transfer, if anything. Progress events and
/// events that say nothing final return `None`.
fn final_outcome(record: &TransferRecord, event: &NotificationEvent) -> Option<TransferOutcome> {
    let code = event.result_code;
    let subcode = event.result_subcode;
    let message = event.result_message.clone();
    let termination_reason = event.termination_reason.clone();
    match &event.kind {
        EventKind::Completed => Some(TransferOutcome::Completed {
            code,
            subcode,
            message,
            termination_reason,
            inferred: false,
            late: false,
        }),
        EventKind::Failed {
            code,
            subcode,
            message,
            replaces_context,
        } => Some(TransferOutcome::Failed {
            code: Some(*code),
            subcode: *subcode,
            message: message.clone(),
            replaces_context: replaces_context.clone(),
            termination_reason,
            inferred: false,
            late: false,
        }),
        EventKind::OperationFailed {
            code,
            subcode,
            message,
        } => {
            let ours = match (&record.operation_id, &event.operation_id) {
                (Some(mine), Some(theirs)) => same_operation(mine, theirs),
                _ => false,
            };
            ours.then(|| TransferOutcome::Failed {
                code: *code,
                subcode: *subcode,
                message: message.clone(),
                replaces_context: None,
                termination_reason,
                inferred: false,
                late: false,
            })
        }
        _ if event.is_bare_delete() => Some(if record.seen_accepted {
            TransferOutcome::completed(true)
        } else {
            TransferOutcome::CallEnded {
                code: None,
                subcode: None,
                message: None,
                termination_reason: None,
                inferred: false,
                late: false,
            }
        }),
        _ if event.is_call_end() => Some(TransferOutcome::CallEnded {
            code,
            subcode,
            message,
            termination_reason,
            inferred: false,
            late: false,
        }),
        _ => None,
    }
}

/// Notes what a progress event says about the transfer; `true` when it moved it forward.
fn note_progress(record: &mut TransferRecord, event: &NotificationEvent) -> Option<bool> {
    if let (EventKind::Transferring | EventKind::TransferAccepted, Some(op)) =
        (&event.kind, &event.operation_id)
    {
        if record.operation_id.is_none() {
            record.operation_id = Some(op.clone());
        }
    }
    match &event.kind {
        EventKind::Transferring => {
            if record.seen_transferring || record.seen_accepted {
                return Some(false);
            }
            record.seen_transferring = true;
            Some(true)
        }
        EventKind::TransferAccepted => {
            if record.seen_accepted {
                return Some(false);
            }
            record.seen_accepted = true;
            Some(true)
        }
        _ => {
            if event.on_call
                && event.state == Some(CallState::Established)
                && (record.seen_transferring || record.seen_accepted)
            {
                // Back to `established` without a failure code: no outcome by itself (it may be
                // a late notification from before the transfer); reconciliation weighs it.
                record.seen_established = true;
            }
            None
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
        if record.late_until.is_some() {
            // Timed out and remembered: a final result now is this transfer's late outcome.
            if note_progress(record, event).is_some() {
                return Step::Duplicate;
            }
            let Some(outcome) = final_outcome(record, event) else {
                return Step::Ignored;
            };
            let outcome = outcome.into_late();
            if let Some(slot) = slots.get(&record.attempt) {
                slot.late(outcome.clone());
            }
            record.outcome = Some(Box::new(outcome));
            return Step::LateResult(fingerprint(event));
        }
        // Only waiting for the consultation call's end; the transfer itself is over.
        return if is_relevant(event) {
            Step::Late
        } else {
            Step::Ignored
        };
    }
    // The slot is looked up only when something changes: duplicates touch nothing but the record.
    match note_progress(record, event) {
        Some(true) => {
            if let Some(slot) = slots.get(&record.attempt) {
                slot.progress(if record.seen_accepted {
                    TransferProgress::TransferAccepted
                } else {
                    TransferProgress::Transferring
                });
            }
            return Step::Progress;
        }
        Some(false) => return Step::Duplicate,
        None => {}
    }
    let Some(outcome) = final_outcome(record, event) else {
        return Step::Ignored;
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
    record.outcome = Some(Box::new(outcome));
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

    fn progress(&self, step: TransferProgress) {
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

    fn late(&self, outcome: TransferOutcome) {
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
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), graph_comms_notify::NotifyError> {
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
        let open = core
            .store
            .get(&key)
            .is_some_and(|r| r.attempt == self.attempt && r.outcome.is_none());
        if open {
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
                core.store
                    .get(&self.call_id)
                    .filter(|r| r.attempt == self.attempt)
                    .and_then(|r| r.late_until)
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
