//! [`TransferTracker`]: follows many transfers at once, from their notifications to one outcome
//! each.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::config::{TrackOptions, TrackerConfig};
use crate::error::{Error, Result};
use crate::event::{normalize_call_id, NotificationEvent};
use crate::handle::{Slot, TransferHandle};
use crate::machine::{apply_to_consultation, apply_to_transfer, is_relevant, Step};
use crate::outcome::{TransferOutcome, TransferProgress};
use crate::store::{read_with, update_with, CallRole, MemoryStore, TransferRecord, TransferStore};

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
/// - one open transfer per call ([`Error::AlreadyTracking`]); late or repeated events of an
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
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), graph_comms_notify::Error> {
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

pub(crate) struct Shared {
    pub(crate) config: TrackerConfig,
    core: Mutex<Core>,
}

/// Maps the tracker's monotonic clock (Tokio's, which tests may pause) to the Unix time records
/// carry: fixed when the tracker is created.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
    origin_unix_ms: u64,
}

impl Clock {
    fn new() -> Self {
        let origin_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Clock {
            origin: Instant::now(),
            origin_unix_ms,
        }
    }

    /// `at` in Unix milliseconds (rounded up, so a deadline never comes early).
    pub(crate) fn unix_ms(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.origin);
        let ms = since.as_nanos().div_ceil(1_000_000);
        self.origin_unix_ms
            .saturating_add(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// The instant of a Unix time in milliseconds.
    pub(crate) fn instant(&self, unix_ms: u64) -> Instant {
        later(
            self.origin,
            Duration::from_millis(unix_ms.saturating_sub(self.origin_unix_ms)),
        )
    }
}

pub(crate) struct Core {
    pub(crate) store: Box<dyn TransferStore>,
    pub(crate) clock: Clock,
    /// Attempt → the slot its handle waits on.
    slots: HashMap<u64, Arc<Slot>>,
    /// Deadlines of open transfers and ends of remembered ones (entries of removed transfers are
    /// skipped when popped).
    deadlines: BinaryHeap<Reverse<(Instant, u64, Box<str>)>>,
    // A call id is allocated once for its map entry and its place in the expiry order.
    early: HashMap<Arc<str>, Early>,
    early_order: VecDeque<(Instant, Arc<str>, u64)>,
    recent: HashMap<Arc<str>, Recent>,
    recent_order: VecDeque<(Instant, Arc<str>, u64)>,
    /// Followed transfers in the order they were tracked (stale entries skipped).
    followed_order: VecDeque<(Box<str>, u64)>,
    /// Followed transfers without an outcome.
    followed_open: usize,
    /// Remembered timed-out transfers in the order they timed out (stale entries skipped).
    remembered_order: VecDeque<(Box<str>, u64)>,
    remembered: usize,
    next_attempt: u64,
    next_gen: u64,
    pub(crate) stats: TrackerStats,
}

/// What applying one event to a stored record did, copied out of the store's update.
struct Change {
    step: Step,
    attempt: u64,
    was_open: bool,
    done: bool,
    followed: bool,
    accepted: bool,
    outcome: Option<TransferOutcome>,
    ending: Option<String>,
}

struct Early {
    gen: u64,
    /// Each event with the tenant it was authenticated for.
    events: Vec<(NotificationEvent, Option<Arc<str>>)>,
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
                    clock: Clock::new(),
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
    /// [`Error::EmptyCallId`]; [`Error::AlreadyTracking`] when a transfer of this call
    /// is open; [`Error::TrackerFull`] at [`TrackerConfig::max_open`].
    pub fn track_with(
        &self,
        call_id: impl Into<String>,
        options: TrackOptions,
    ) -> Result<TransferHandle> {
        let call_id = call_id.into();
        if call_id.is_empty() || options.replaces_call_id.as_deref() == Some("") {
            return Err(Error::EmptyCallId);
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
        let ended = read_with(core.store.as_ref(), &key, |old| {
            old.outcome.is_some().then_some(old.attempt)
        });
        if let Some(attempt) = ended.flatten() {
            core.finish(&key, attempt);
        }
        if options.followed {
            core.make_room_for_followed(config, now);
        }
        if core.store.len() >= config.max_open {
            return Err(Error::TrackerFull {
                limit: config.max_open,
            });
        }
        let attempt = core.next_attempt;
        let deadline_ms = core.clock.unix_ms(deadline);
        let mut record = TransferRecord::new(key.clone(), replaces.clone(), attempt, deadline_ms);
        record.tenant_id = options
            .tenant_id
            .as_deref()
            .map(|t| tenant_key(t).into_owned());
        record.followed = options.followed;
        core.store.insert(record).map_err(|e| match e {
            // Report the id as the caller spelled it.
            Error::AlreadyTracking { call_id: taken } if taken == key => Error::AlreadyTracking {
                call_id: call_id.clone(),
            },
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
    pub(crate) fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A tenant id as compared: GUIDs in lower case (borrowed when it already is one).
fn tenant_key(tenant: &str) -> std::borrow::Cow<'_, str> {
    normalize_call_id(tenant)
}

/// `now + duration`, saturating about thirty years out, so that a huge duration (such as
/// `Duration::MAX` for "never") cannot overflow.
fn later(now: Instant, duration: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);
    now.checked_add(duration.min(FAR))
        .or_else(|| now.checked_add(Duration::from_secs(24 * 60 * 60)))
        .unwrap_or(now)
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
        let recent = &self.recent;
        // Looked up only when a final event meets a transfer that saw no progress yet.
        let retried = |fp: u64| {
            recent
                .get(call_id.as_ref())
                .is_some_and(|r| r.until > now && r.fingerprint == fp)
        };
        let changed = update_with(self.store.as_mut(), &call_id, |role, record| {
            match (&record.tenant_id, tenant) {
                // Another tenant's transfer: not applied (`None`).
                (Some(own), Some(theirs)) if own.as_str() != theirs => return None,
                (None, Some(theirs)) if is_relevant(event) => {
                    record.tenant_id = Some(theirs.to_owned());
                }
                _ => {}
            }
            let was_open = record.outcome.is_none();
            let applied = match role {
                CallRole::Transferred => apply_to_transfer(record, event, retried),
                CallRole::Consultation => apply_to_consultation(record, event),
            };
            let done = matches!(applied, Step::LateResult(_))
                || (record.outcome.is_some()
                    && record.late_until.is_none()
                    && (record.replaces_call_id.is_none() || record.consultation_ended));
            // Only what changed is copied out of the store: duplicates copy nothing.
            let outcome = matches!(applied, Step::Resolved(_) | Step::LateResult(_))
                .then(|| record.outcome.as_deref().cloned())
                .flatten();
            let ending =
                (matches!(applied, Step::Resolved(_)) || done).then(|| record.call_id.clone());
            Some(Change {
                step: applied,
                attempt: record.attempt,
                was_open,
                done,
                followed: record.followed,
                accepted: record.seen_accepted,
                outcome,
                ending,
            })
        });
        let Some(change) = changed else {
            return self.apply_untracked(config, &call_id, event, tenant, now);
        };
        let Some(Change {
            step: applied,
            attempt,
            was_open,
            done,
            followed,
            accepted,
            outcome,
            ending,
        }) = change
        else {
            self.stats.other_tenant += 1;
            return Applied::OtherTenant;
        };
        // Wake whoever waits on the transfer, from what the state machine did. Duplicates, late
        // and ignored events wake nobody: their slot is not even looked up (a cache miss saved
        // on the most common path of a busy tracker).
        let wakes = matches!(
            applied,
            Step::Progress | Step::ConsultationEnded | Step::Resolved(_) | Step::LateResult(_)
        );
        if let Some(slot) = wakes.then(|| self.slots.get(&attempt)).flatten() {
            match (&applied, &outcome) {
                (Step::Progress, _) => slot.progress(if accepted {
                    TransferProgress::TransferAccepted
                } else {
                    TransferProgress::Transferring
                }),
                (Step::ConsultationEnded, _) => {
                    slot.progress(TransferProgress::ConsultationEnded {
                        call_id: call_id.clone().into_owned(),
                        termination_reason: event.termination_reason.clone(),
                    })
                }
                (Step::Resolved(_), Some(outcome)) => slot.resolve(outcome.clone()),
                (Step::LateResult(_), Some(outcome)) => slot.late(outcome.clone()),
                _ => {}
            }
        }
        match applied {
            Step::Progress | Step::ConsultationEnded => self.stats.progressed += 1,
            Step::Duplicate => self.stats.duplicates += 1,
            Step::Late => self.stats.late += 1,
            Step::Ignored => self.stats.ignored += 1,
            Step::LateResult(_) => self.stats.late_results += 1,
            Step::Resolved(_) => {}
        }
        if let Some(primary) = ending {
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
        if let Some(early) = self.early.get_mut(call_id) {
            if early.events.len() >= config.max_buffered_per_call {
                self.stats.untracked += 1;
                return Applied::Untracked;
            }
            // The call's events come from one sender: its tenant is shared, not copied.
            let tenant = match (early.events.last(), tenant) {
                (Some((_, Some(last))), Some(t)) if **last == *t => Some(Arc::clone(last)),
                (_, t) => t.map(Arc::from),
            };
            early.events.push((event.clone(), tenant));
            return Applied::Buffered;
        }
        let entry = (event.clone(), tenant.map(Arc::from));
        while self.early.len() >= config.max_buffered_calls {
            let Some((_, key, gen)) = self.early_order.pop_front() else {
                break;
            };
            self.drop_early(&key, gen);
        }
        let gen = self.next_gen;
        self.next_gen += 1;
        let key: Arc<str> = call_id.into();
        self.early.insert(
            Arc::clone(&key),
            Early {
                gen,
                events: vec![entry],
            },
        );
        self.early_order
            .push_back((later(now, config.early_buffer), key, gen));
        Applied::Buffered
    }

    fn take_early(&mut self, call_id: &str) -> Vec<(NotificationEvent, Option<Arc<str>>)> {
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
        let key: Arc<str> = call_id.into();
        self.recent.insert(
            Arc::clone(&key),
            Recent {
                gen,
                until,
                fingerprint: fp,
            },
        );
        self.recent_order.push_back((until, key, gen));
    }

    /// Removes a transfer from the store and closes its handle's progress stream.
    pub(crate) fn finish(&mut self, call_id: &str, attempt: u64) {
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
            let live = read_with(self.store.as_ref(), &key, |r| {
                r.attempt == attempt && r.outcome.is_none()
            });
            if live == Some(true) {
                self.stats.evicted += 1;
                self.expire(config, &key, attempt, now);
            }
        }
    }

    pub(crate) fn sweep(&mut self, config: &TrackerConfig, now: Instant) {
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
    pub(crate) fn expire(
        &mut self,
        config: &TrackerConfig,
        call_id: &str,
        attempt: u64,
        now: Instant,
    ) {
        let now_ms = self.clock.unix_ms(now);
        let Some((stored, has_outcome, remembered_until, followed)) =
            read_with(self.store.as_ref(), call_id, |r| {
                (r.attempt, r.outcome.is_some(), r.late_until, r.followed)
            })
        else {
            return;
        };
        if stored != attempt {
            return;
        }
        if has_outcome {
            if remembered_until.is_some_and(|until| until > now_ms) {
                return;
            }
            self.finish(call_id, attempt);
            return;
        }
        if let Some(slot) = self.slots.get(&attempt) {
            slot.resolve(TransferOutcome::TimedOut);
        }
        self.stats.timed_out += 1;
        if followed {
            self.followed_open = self.followed_open.saturating_sub(1);
        }
        let remember = !config.late_result_window.is_zero() && config.max_remembered > 0;
        if !remember {
            update_with(self.store.as_mut(), call_id, |_, record| {
                record.outcome = Some(Box::new(TransferOutcome::TimedOut));
            });
            self.finish(call_id, attempt);
            return;
        }
        while self.remembered >= config.max_remembered {
            let Some((key, old)) = self.remembered_order.pop_front() else {
                break;
            };
            let stale = read_with(self.store.as_ref(), &key, |r| {
                r.attempt == old && r.late_until.is_some()
            });
            if stale == Some(true) {
                self.finish(&key, old);
            }
        }
        let until = later(now, config.late_result_window);
        let until_ms = self.clock.unix_ms(until);
        update_with(self.store.as_mut(), call_id, |_, record| {
            record.outcome = Some(Box::new(TransferOutcome::TimedOut));
            record.late_until = Some(until_ms);
        });
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
                read_with(store.as_ref(), call_id, |r| r.attempt == *attempt) == Some(true)
            });
        }
        if self.followed_order.len() > 2 * self.followed_open + 1024 {
            self.followed_order.retain(|(key, attempt)| {
                read_with(store.as_ref(), key, |r| {
                    r.attempt == *attempt && r.outcome.is_none()
                }) == Some(true)
            });
        }
        if self.remembered_order.len() > 2 * self.remembered + 1024 {
            self.remembered_order.retain(|(key, attempt)| {
                read_with(store.as_ref(), key, |r| {
                    r.attempt == *attempt && r.late_until.is_some()
                }) == Some(true)
            });
        }
    }
}
