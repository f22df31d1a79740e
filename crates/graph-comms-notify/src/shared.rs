//! Transfer state shared by a fleet of bot instances: the async [`SharedStore`] trait, its
//! in-memory implementation [`MemorySharedStore`], and [`SharedTracker`], the engine that runs the
//! state machine over a store.
//!
//! Graph's callbacks for one transfer may reach any instance of a fleet, and the instance that
//! sent the transfer may restart before it ends. The state machine (`machine.rs`) is a pure
//! function of a transfer's notifications: the orders Graph can produce, and duplicates, don't
//! change the outcome. So a shared store only keeps, per transfer, its registration (a
//! [`TransferRecord`]: call ids, tenant, Unix-time deadline), the log of its notifications, and
//! its outcome, written once; any instance folds the log through the state machine and records
//! the outcome when it is final (the first writer wins, and every writer learns the winner).
//!
//! A call is transferred more than once (a bot tries each target of a chain in turn): each
//! transfer is an **attempt**. A new registration for a call whose latest attempt has an outcome
//! starts the next attempt (its `attempt` number one more, a fresh log, dedupe set and outcome);
//! a registration while an attempt is in flight is refused, so one call never has two transfers
//! at once. The previous attempt's log is kept beside the new one
//! ([`SharedTransfer::previous`]): a redelivery of one of its notifications that arrives after
//! the next attempt was registered, before that attempt's own `transferring` or
//! `transferAccepted`, does not end it (the rule [`TransferTracker`](crate::TransferTracker)
//! applies to retried finals). Notifications that arrive while the latest attempt has an outcome
//! and no new one is registered are kept in that attempt's log and change nothing (`Late`).
//!
//! [`SharedStore::claim`] is the fleet's other primitive: an atomic, expiring claim of a key by
//! one owner (a bot takes an offered call by claiming its id, so that two instances that both
//! receive the offer never both answer it).
//!
//! [`TransferTracker`](crate::TransferTracker) keeps its synchronous, in-memory hot path; this
//! module is the asynchronous path for fleets. `RedisStore` (the `redis` feature) is the shared
//! implementation; [`MemorySharedStore`] serves tests and single-process bots, and the same
//! conformance tests run over both.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::config::{TrackOptions, TrackerConfig};
use crate::error::{Error, Result};
use crate::event::{normalize_call_id, EventKind, NotificationEvent};
use crate::machine::{apply_to_consultation, apply_to_transfer, fingerprint, is_relevant};
use crate::outcome::TransferOutcome;
use crate::store::TransferRecord;
use crate::tracker::Applied;

/// The future a [`SharedStore`] method returns: boxed and `Send`, so the trait stays
/// dyn-compatible (`Arc<dyn SharedStore>`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The current time in Unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `now + d` in Unix milliseconds, saturating.
pub(crate) fn ms_after(now: u64, d: Duration) -> u64 {
    now.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Bounds of a shared store: everything it keeps is bounded per transfer, and everything expires.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreLimits {
    /// At most this many notifications are kept in one transfer's log (later ones are refused
    /// with [`Appended::Full`]). Default 64: a transfer sees a handful.
    pub max_log: usize,
    /// A notification whose serialized form is longer than this many bytes is refused
    /// ([`Appended::TooLarge`]). Default 16 KiB.
    pub max_event_bytes: usize,
    /// How long a transfer is kept after its outcome (and after its deadline when nobody records
    /// one): a final notification for a timed-out transfer within it is kept as the late result.
    /// Default 10 minutes (as `TrackerConfig::late_result_window`).
    pub retention: Duration,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_log: 64,
            max_event_bytes: 16 * 1024,
            retention: Duration::from_secs(600),
        }
    }
}

impl StoreLimits {
    /// Sets [`max_log`](Self::max_log).
    pub fn with_max_log(mut self, max_log: usize) -> Self {
        self.max_log = max_log;
        self
    }

    /// Sets [`max_event_bytes`](Self::max_event_bytes).
    pub fn with_max_event_bytes(mut self, max_event_bytes: usize) -> Self {
        self.max_event_bytes = max_event_bytes;
        self
    }

    /// Sets [`retention`](Self::retention).
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }
}

/// What [`SharedStore::append`] did with a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Appended {
    /// Added to the log of the transfer of `call_id` (the transferred call: the notification may
    /// be about its consultation call).
    Added {
        /// The transferred call's id (normalized).
        call_id: String,
    },
    /// Already in the log (a redelivery); nothing changed.
    Duplicate,
    /// No registered transfer has this call (as transferred or as consultation call).
    Unknown,
    /// The transfer belongs to another tenant; not added.
    OtherTenant,
    /// The transfer's log is full ([`StoreLimits::max_log`]); not added.
    Full,
    /// The notification is larger than [`StoreLimits::max_event_bytes`]; not added.
    TooLarge,
    /// A final notification already in the previous attempt's log, arriving before this
    /// attempt's own `transferring` or `transferAccepted`: a redelivery of that attempt's
    /// result, not added (it must not end this attempt).
    Previous,
}

/// Whether `event` is a transfer's progress step (`transferring`, `transferAccepted`).
pub(crate) fn is_progress(event: &NotificationEvent) -> bool {
    matches!(
        event.kind,
        EventKind::Transferring | EventKind::TransferAccepted
    )
}

/// Everything a shared store keeps about one transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SharedTransfer {
    /// The registration: call ids, tenant (the first authenticated notification's when it was
    /// registered without one), Unix-ms deadline. Its machine fields are as registered: the
    /// state is the fold of [`log`](Self::log).
    pub record: TransferRecord,
    /// The notifications appended, in arrival order, without duplicates.
    pub log: Vec<NotificationEvent>,
    /// The outcome, once recorded (first writer wins).
    pub outcome: Option<TransferOutcome>,
    /// The final result that arrived after the transfer was recorded as `TimedOut`.
    pub late: Option<TransferOutcome>,
    /// The log of the call's previous attempt (empty for a first attempt): a redelivery of one
    /// of these notifications does not end this attempt before its own `transferring` or
    /// `transferAccepted` (see [`fold`](Self::fold)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<NotificationEvent>,
}

impl SharedTransfer {
    /// Folds this attempt's log through the state machine, from its registration: its outcome,
    /// if the log holds a final one. A final notification that is also in the
    /// [`previous`](Self::previous) attempt's log, seen before this attempt's own
    /// `transferring` or `transferAccepted`, is taken as a redelivery of that attempt's result
    /// and skipped.
    pub fn fold(&self) -> Option<TransferOutcome> {
        fold_attempt(&self.record, &self.log, &self.previous)
    }
}

/// Transfer state that several bot instances share.
///
/// Call ids are passed normalized ([`normalize_call_id`]) and compared exactly. Every method is
/// one atomic step of the store (a Lua script on Redis, one lock in memory); none scans the store.
/// The methods return boxed `Send` futures, so `Arc<dyn SharedStore>` works.
pub trait SharedStore: Send + Sync + fmt::Debug + 'static {
    /// Registers a transfer, atomically and exclusively, and returns its attempt number.
    ///
    /// Its call must not be another transfer's consultation call, and its consultation call
    /// ([`TransferRecord::replaces_call_id`]) must belong to no registered transfer. When the
    /// call's latest attempt has an outcome, this is the call's next attempt: numbered one more,
    /// with a fresh log, dedupe set and outcome, the previous attempt's log kept as
    /// [`SharedTransfer::previous`], its tenant kept when the record names none, and its
    /// consultation index dropped. When it has none (in flight), the call is taken. A first
    /// attempt is numbered `record.attempt` (at least 1).
    ///
    /// The record's `deadline` (Unix ms) is when waiters record `TimedOut`; the store forgets
    /// the transfer [`StoreLimits::retention`] after it.
    ///
    /// # Errors
    /// [`Error::AlreadyTracking`] when a call is taken; [`Error::Store`] when the
    /// store fails.
    fn register<'a>(&'a self, record: &'a TransferRecord) -> StoreFuture<'a, u64>;

    /// Claims `key` for `owner` until `ttl` has passed, atomically: `true` when the key was free
    /// (or expired) or is already `owner`'s, `false` when another owner holds it. A claim is
    /// never released early: it expires.
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails.
    fn claim<'a>(&'a self, key: &'a str, owner: &'a str, ttl: Duration) -> StoreFuture<'a, bool>;

    /// Appends `event` (about the call `call_id`) to the log of the transfer that call belongs
    /// to, idempotently: a notification already in the log is a [`Appended::Duplicate`]; a
    /// final one already in the previous attempt's log, before this attempt's own progress, is
    /// [`Appended::Previous`] and not added. When the
    /// transfer has no tenant yet and `tenant_id` is given, the transfer takes it; when it has
    /// another, nothing is appended ([`Appended::OtherTenant`]).
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails.
    fn append<'a>(
        &'a self,
        call_id: &'a str,
        event: &'a NotificationEvent,
        tenant_id: Option<&'a str>,
    ) -> StoreFuture<'a, Appended>;

    /// The registration, log and outcome of the transfer of the transferred call `call_id`.
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails or holds something unreadable.
    fn log<'a>(&'a self, call_id: &'a str) -> StoreFuture<'a, Option<SharedTransfer>>;

    /// Records the transfer's outcome once: the first writer wins, and every writer gets the
    /// winner back (`None` when no such transfer is registered). When the winner is
    /// [`TransferOutcome::TimedOut`] and `outcome` is final, it is kept as the late result
    /// (marked `late`), once. Wakes whoever waits.
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails.
    fn record_outcome<'a>(
        &'a self,
        call_id: &'a str,
        outcome: &'a TransferOutcome,
    ) -> StoreFuture<'a, Option<TransferOutcome>>;

    /// The recorded outcome, or, when it is `TimedOut` and a late result came, that late result
    /// (marked `late`).
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails.
    fn outcome<'a>(&'a self, call_id: &'a str) -> StoreFuture<'a, Option<TransferOutcome>>;

    /// Waits until an outcome is recorded (returning it as [`outcome`](Self::outcome) does) or
    /// until `deadline_ms` (Unix ms) passes (returning `None`). Waiting on a call nobody
    /// registered is allowed: another instance may register it.
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails.
    fn wait_outcome<'a>(
        &'a self,
        call_id: &'a str,
        deadline_ms: u64,
    ) -> StoreFuture<'a, Option<TransferOutcome>>;
}

/// Folds a transfer's log through the state machine, from its registration: the transfer's
/// outcome, if the log holds a final one.
pub fn fold_log(record: &TransferRecord, log: &[NotificationEvent]) -> Option<TransferOutcome> {
    fold_attempt(record, log, &[])
}

/// [`fold_log`], skipping a final notification of the `previous` attempt's log seen before this
/// attempt's own progress.
fn fold_attempt(
    record: &TransferRecord,
    log: &[NotificationEvent],
    previous: &[NotificationEvent],
) -> Option<TransferOutcome> {
    let retried = |fp: u64| previous.iter().any(|e| fingerprint(e) == fp);
    let mut state = TransferRecord::new(
        record.call_id.clone(),
        record.replaces_call_id.clone(),
        record.attempt,
        record.deadline,
    );
    for event in log {
        let call = event.call_id.as_deref().map(normalize_call_id);
        if call.as_deref() == Some(record.call_id.as_str()) {
            apply_to_transfer(&mut state, event, retried);
        } else {
            apply_to_consultation(&mut state, event);
        }
        if state.outcome.is_some() {
            break;
        }
    }
    state.outcome.map(|o| *o)
}

/// The outcome a waiter reports: the late result when there is one (see
/// [`SharedStore::outcome`]).
pub(crate) fn visible(outcome: TransferOutcome, late: Option<TransferOutcome>) -> TransferOutcome {
    match (outcome, late) {
        (TransferOutcome::TimedOut, Some(late)) => late,
        (outcome, _) => outcome,
    }
}

/// The state machine over a [`SharedStore`]: what every instance of a fleet runs.
///
/// [`register`](Self::register) a transfer before sending it, [`apply`](Self::apply) every
/// notification any instance receives, [`wait`](Self::wait) for the outcome from any instance.
#[derive(Debug, Clone)]
pub struct SharedTracker {
    store: Arc<dyn SharedStore>,
    config: TrackerConfig,
    follow: bool,
    /// Deadlines (Unix ms) of the transfers this instance registered on its own initiative,
    /// oldest first: at most `config.max_followed` of them are open at once.
    followed: Arc<Mutex<VecDeque<u64>>>,
}

impl SharedTracker {
    /// An engine over `store`; `config.timeout` is the default deadline of a registration.
    pub fn new(store: Arc<dyn SharedStore>, config: TrackerConfig) -> Self {
        SharedTracker {
            store,
            config,
            follow: false,
            followed: Arc::default(),
        }
    }

    /// Registers, on this instance's own initiative, a transfer whose `transferring` or
    /// `transferAccepted` notification arrives for a call nobody registered (as
    /// [`TrackOptions::followed`]); off by default. At most `TrackerConfig::max_followed` such
    /// registrations of this instance are open (before their deadline) at once; past it, such a
    /// notification is [`Applied::Untracked`].
    pub fn following(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SharedStore> {
        &self.store
    }

    /// Registers the transfer of `call_id` with `options` (consultation call, tenant, timeout),
    /// its deadline `options.timeout` (else `config.timeout`) from now; returns the record, its
    /// `attempt` the number the store gave it (see [`SharedStore::register`]).
    ///
    /// # Errors
    /// [`Error::EmptyCallId`], [`Error::AlreadyTracking`], [`Error::Store`].
    pub async fn register(&self, call_id: &str, options: &TrackOptions) -> Result<TransferRecord> {
        if call_id.trim().is_empty() {
            return Err(Error::EmptyCallId);
        }
        let now = unix_ms();
        let timeout = options.timeout.unwrap_or(self.config.timeout);
        let mut record = TransferRecord::new(
            normalize_call_id(call_id).into_owned(),
            options
                .replaces_call_id
                .as_deref()
                .map(|c| normalize_call_id(c).into_owned()),
            1,
            ms_after(now, timeout),
        );
        record.tenant_id = options
            .tenant_id
            .as_deref()
            .map(|t| normalize_call_id(t).into_owned());
        record.followed = options.followed;
        record.attempt = self.store.register(&record).await?;
        Ok(record)
    }

    /// Appends one notification to its transfer's log and, when the log now ends the transfer,
    /// records the outcome (first writer wins). The tenant is the callback token's `tid`.
    ///
    /// Progress steps are appended without reading the log back; a final step costs one more
    /// read and, when it ends the transfer, the outcome write.
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails: answer Graph with a 5xx so that it redelivers.
    pub async fn apply(
        &self,
        event: &NotificationEvent,
        tenant_id: Option<&str>,
    ) -> Result<Applied> {
        let Some(raw) = event.call_id.as_deref() else {
            return Ok(Applied::Ignored);
        };
        if !is_relevant(event) {
            return Ok(Applied::Ignored);
        }
        let call_id = normalize_call_id(raw);
        let tenant = tenant_id.map(normalize_call_id);
        let mut appended = self
            .store
            .append(&call_id, event, tenant.as_deref())
            .await?;
        let progress = is_progress(event);
        if appended == Appended::Unknown && self.follow && progress {
            if !self.may_follow() {
                return Ok(Applied::Untracked);
            }
            let mut options = TrackOptions::followed();
            options.tenant_id = tenant.as_deref().map(str::to_owned);
            match self.register(&call_id, &options).await {
                Ok(record) => self.lock_followed().push_back(record.deadline),
                Err(Error::AlreadyTracking { .. }) => {}
                Err(e) => return Err(e),
            }
            appended = self
                .store
                .append(&call_id, event, tenant.as_deref())
                .await?;
        }
        let primary = match appended {
            Appended::Added { call_id } => call_id,
            Appended::Duplicate => return Ok(Applied::Duplicate),
            Appended::Previous => return Ok(Applied::Late),
            Appended::Unknown => return Ok(Applied::Untracked),
            Appended::OtherTenant => return Ok(Applied::OtherTenant),
            Appended::Full | Appended::TooLarge => return Ok(Applied::Ignored),
        };
        if progress {
            return Ok(Applied::Progress);
        }
        let Some(transfer) = self.store.log(&primary).await? else {
            return Ok(Applied::Late);
        };
        let already_late = transfer.late.is_some();
        let was = transfer.outcome.clone();
        let Some(outcome) = transfer.fold() else {
            return Ok(Applied::Ignored);
        };
        match was {
            Some(TransferOutcome::TimedOut) if !already_late => {
                self.store.record_outcome(&primary, &outcome).await?;
                Ok(Applied::LateResult)
            }
            Some(_) => Ok(Applied::Late),
            None => match self.store.record_outcome(&primary, &outcome).await? {
                Some(winner) if winner == outcome => Ok(Applied::Resolved),
                Some(TransferOutcome::TimedOut) => Ok(Applied::LateResult),
                _ => Ok(Applied::Late),
            },
        }
    }

    fn lock_followed(&self) -> MutexGuard<'_, VecDeque<u64>> {
        self.followed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this instance may register one more transfer on its own initiative.
    fn may_follow(&self) -> bool {
        let now = unix_ms();
        let mut followed = self.lock_followed();
        // Deadlines are pushed in registration order with one timeout: oldest first.
        while followed.front().is_some_and(|d| *d <= now) {
            followed.pop_front();
        }
        followed.len() < self.config.max_followed
    }

    /// Waits for the outcome of the transfer of `call_id` until its registered deadline; at the
    /// deadline, records `TimedOut` (first writer wins: a final outcome recorded just before
    /// stands). A call nobody registered waits `config.timeout` and reports `TimedOut`.
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails.
    pub async fn wait(&self, call_id: &str) -> Result<TransferOutcome> {
        let call_id = normalize_call_id(call_id);
        let deadline = match self.store.log(&call_id).await? {
            Some(t) => {
                if let Some(o) = t.outcome {
                    return Ok(visible(o, t.late));
                }
                t.record.deadline
            }
            None => ms_after(unix_ms(), self.config.timeout),
        };
        self.wait_until(&call_id, deadline).await
    }

    /// Waits for the outcome of the transfer of `call_id` until `deadline_ms` (Unix ms); then
    /// records `TimedOut` when the transfer is registered, and returns `TimedOut` either way.
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails.
    pub async fn wait_until(&self, call_id: &str, deadline_ms: u64) -> Result<TransferOutcome> {
        let call_id = normalize_call_id(call_id);
        if let Some(o) = self.store.wait_outcome(&call_id, deadline_ms).await? {
            return Ok(o);
        }
        Ok(self
            .store
            .record_outcome(&call_id, &TransferOutcome::TimedOut)
            .await?
            .unwrap_or(TransferOutcome::TimedOut))
    }
}

/// One transfer in a [`MemorySharedStore`].
#[derive(Debug)]
struct Entry {
    transfer: SharedTransfer,
    /// When the store forgets it (Unix ms).
    expires: u64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Consultation call id → transferred call id.
    consultations: HashMap<String, String>,
    /// (expiry, call id): lazily checked against `entries`.
    expiries: BinaryHeap<Reverse<(u64, String)>>,
    /// Waiters' wake-ups, per call; removed when nobody waits.
    waiters: HashMap<String, Arc<Notify>>,
    /// Claims: key → (owner, expiry in Unix ms); the expired are dropped at each claim.
    claims: HashMap<String, (String, u64)>,
}

impl Inner {
    fn expire(&mut self, now: u64) {
        while let Some(Reverse((at, _))) = self.expiries.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, call))) = self.expiries.pop() else {
                break;
            };
            if self.entries.get(&call).is_some_and(|e| e.expires <= now) {
                if let Some(e) = self.entries.remove(&call) {
                    if let Some(c) = &e.transfer.record.replaces_call_id {
                        self.consultations.remove(c);
                    }
                }
            }
        }
    }

    fn set_expiry(&mut self, call: &str, at: u64) {
        if let Some(e) = self.entries.get_mut(call) {
            e.expires = at;
            self.expiries.push(Reverse((at, call.to_owned())));
        }
    }
}

/// A [`SharedStore`] in this process's memory: for tests and single-process bots (the conformance
/// tests run over it and over `RedisStore`). Bounded as [`StoreLimits`] says; transfers expire.
#[derive(Debug, Default)]
pub struct MemorySharedStore {
    inner: Mutex<Inner>,
    limits: StoreLimits,
}

impl MemorySharedStore {
    /// An empty store with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store with `limits`.
    pub fn with_limits(limits: StoreLimits) -> Self {
        MemorySharedStore {
            inner: Mutex::default(),
            limits,
        }
    }

    /// The number of transfers kept.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// `true` when no transfer is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.expire(unix_ms());
        inner
    }

    fn register_now(&self, record: &TransferRecord) -> Result<u64> {
        let mut inner = self.lock();
        let call = record.call_id.clone();
        let taken = |call_id: &str| Error::AlreadyTracking {
            call_id: call_id.to_owned(),
        };
        if inner.consultations.contains_key(&call) {
            return Err(taken(&call));
        }
        // The call's previous attempt, when it has ended: (number, consultation, log, tenant).
        let previous = match inner.entries.get(&call) {
            None => None,
            Some(e) if e.transfer.outcome.is_none() => return Err(taken(&call)),
            Some(e) => {
                let t = &e.transfer;
                Some((
                    t.record.attempt,
                    t.record.replaces_call_id.clone(),
                    t.log.clone(),
                    t.record.tenant_id.clone(),
                ))
            }
        };
        let old_consultation = previous.as_ref().and_then(|p| p.1.clone());
        if let Some(c) = &record.replaces_call_id {
            let own = old_consultation.as_ref() == Some(c);
            if *c == call
                || inner.entries.contains_key(c)
                || (inner.consultations.contains_key(c) && !own)
            {
                return Err(taken(c));
            }
        }
        if let Some(old) = &old_consultation {
            if inner.consultations.get(old) == Some(&call) {
                inner.consultations.remove(old);
            }
        }
        if let Some(c) = &record.replaces_call_id {
            inner.consultations.insert(c.clone(), call.clone());
        }
        let mut stored = record.clone();
        let (attempt, log) = match previous {
            None => (record.attempt.max(1), Vec::new()),
            Some((n, _, log, tenant)) => {
                if stored.tenant_id.is_none() {
                    stored.tenant_id = tenant;
                }
                (n.saturating_add(1), log)
            }
        };
        stored.attempt = attempt;
        inner.entries.insert(
            call.clone(),
            Entry {
                transfer: SharedTransfer {
                    record: stored,
                    log: Vec::new(),
                    outcome: None,
                    late: None,
                    previous: log,
                },
                expires: 0,
            },
        );
        inner.set_expiry(&call, ms_after(record.deadline, self.limits.retention));
        Ok(attempt)
    }

    fn claim_now(&self, key: &str, owner: &str, ttl: Duration) -> bool {
        let now = unix_ms();
        let mut inner = self.lock();
        inner.claims.retain(|_, (_, until)| *until > now);
        match inner.claims.get(key) {
            Some((holder, _)) => holder == owner,
            None => {
                inner
                    .claims
                    .insert(key.to_owned(), (owner.to_owned(), ms_after(now, ttl)));
                true
            }
        }
    }

    fn append_now(
        &self,
        call_id: &str,
        event: &NotificationEvent,
        tenant_id: Option<&str>,
    ) -> Appended {
        let size = serde_json::to_vec(event)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > self.limits.max_event_bytes {
            return Appended::TooLarge;
        }
        let mut inner = self.lock();
        let primary = if inner.entries.contains_key(call_id) {
            call_id.to_owned()
        } else if let Some(p) = inner.consultations.get(call_id) {
            p.clone()
        } else {
            return Appended::Unknown;
        };
        let Some(entry) = inner.entries.get_mut(&primary) else {
            return Appended::Unknown;
        };
        let t = &mut entry.transfer;
        match (&t.record.tenant_id, tenant_id) {
            (Some(own), Some(theirs)) if own != theirs => return Appended::OtherTenant,
            (None, Some(theirs)) => t.record.tenant_id = Some(theirs.to_owned()),
            _ => {}
        }
        if t.log.contains(event) {
            return Appended::Duplicate;
        }
        if !is_progress(event) && t.previous.contains(event) && !t.log.iter().any(is_progress) {
            return Appended::Previous;
        }
        if t.log.len() >= self.limits.max_log {
            return Appended::Full;
        }
        t.log.push(event.clone());
        Appended::Added { call_id: primary }
    }

    fn record_now(&self, call_id: &str, outcome: &TransferOutcome) -> Option<TransferOutcome> {
        let retention = self.limits.retention;
        let mut inner = self.lock();
        let entry = inner.entries.get_mut(call_id)?;
        let t = &mut entry.transfer;
        let winner = match &t.outcome {
            None => {
                t.outcome = Some(outcome.clone());
                outcome.clone()
            }
            Some(TransferOutcome::TimedOut)
                if t.late.is_none() && *outcome != TransferOutcome::TimedOut =>
            {
                t.late = Some(outcome.clone().into_late());
                TransferOutcome::TimedOut
            }
            Some(w) => return Some(w.clone()),
        };
        inner.set_expiry(call_id, ms_after(unix_ms(), retention));
        if let Some(n) = inner.waiters.get(call_id) {
            n.notify_waiters();
        }
        Some(winner)
    }

    fn outcome_now(&self, call_id: &str) -> Option<TransferOutcome> {
        let inner = self.lock();
        let t = &inner.entries.get(call_id)?.transfer;
        let outcome = t.outcome.clone()?;
        Some(visible(outcome, t.late.clone()))
    }

    async fn wait_now(&self, call_id: &str, deadline_ms: u64) -> Option<TransferOutcome> {
        let notify = {
            let mut inner = self.lock();
            Arc::clone(inner.waiters.entry(call_id.to_owned()).or_default())
        };
        let result = loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(o) = self.outcome_now(call_id) {
                break Some(o);
            }
            let now = unix_ms();
            if now >= deadline_ms {
                break None;
            }
            let left = Duration::from_millis(deadline_ms - now);
            let _ = tokio::time::timeout(left, notified).await;
        };
        let mut inner = self.lock();
        // Two references: the map's and ours; drop the map's when nobody else waits.
        if inner
            .waiters
            .get(call_id)
            .is_some_and(|n| Arc::strong_count(n) <= 2)
        {
            inner.waiters.remove(call_id);
        }
        result
    }
}

/// Writes the [`SharedStore`] methods whose work is done at once, under the lock: each returns a
/// future that, when polled, gives what its body gives.
macro_rules! done_at_once {
    ($self:ident; $($name:ident($($arg:ident: $ty:ty),*) -> $out:ty = $body:expr;)*) => {
        $(fn $name<'a>(&'a $self, $($arg: $ty),*) -> StoreFuture<'a, $out> {
            Box::pin(async move { $body })
        })*
    };
}

impl SharedStore for MemorySharedStore {
    done_at_once! {
        self;
        register(record: &'a TransferRecord) -> u64 = self.register_now(record);
        claim(key: &'a str, owner: &'a str, ttl: Duration) -> bool =
            Ok(self.claim_now(key, owner, ttl));
        append(call_id: &'a str, event: &'a NotificationEvent, tenant_id: Option<&'a str>)
            -> Appended = Ok(self.append_now(call_id, event, tenant_id));
        log(call_id: &'a str) -> Option<SharedTransfer> =
            Ok(self.lock().entries.get(call_id).map(|e| e.transfer.clone()));
        record_outcome(call_id: &'a str, outcome: &'a TransferOutcome) -> Option<TransferOutcome> =
            Ok(self.record_now(call_id, outcome));
        outcome(call_id: &'a str) -> Option<TransferOutcome> = Ok(self.outcome_now(call_id));
    }

    fn wait_outcome<'a>(
        &'a self,
        call_id: &'a str,
        deadline_ms: u64,
    ) -> StoreFuture<'a, Option<TransferOutcome>> {
        Box::pin(async move { Ok(self.wait_now(call_id, deadline_ms).await) })
    }
}
