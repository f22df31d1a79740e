//! Where the tracker keeps its open transfers: the [`TransferStore`] trait, its plain-data
//! [`TransferRecord`], and the in-memory default, [`MemoryStore`].
//!
//! The shape is the one a store shared by several bot instances can implement: records are plain
//! data (serializable, deadlines in Unix time), and a store is only asked to register a transfer
//! exclusively, run the state machine on one record atomically
//! ([`update`](TransferStore::update): a read-modify-write), read one, and remove one. The wakers
//! that resolve handles stay in the process that called `track`.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::outcome::TransferOutcome;

/// Which call of an open transfer a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum CallRole {
    /// The call being transferred (the id given to `track`).
    Transferred,
    /// The consultation call of a consultative transfer (its `replacesCallId`).
    Consultation,
}

/// The state of one open transfer, as a [`TransferStore`] keeps it.
///
/// Everything here is plain data (it round-trips through JSON with serde), so a store shared by
/// several bot instances can serialize it; times are Unix milliseconds. The wakers that resolve
/// handles stay in the process that called `track`. The tenant the transfer belongs to, the
/// remembered `TimedOut` awaiting a late result ([`late_until`](Self::late_until)) and whether it
/// counts against `TrackerConfig::max_followed` ([`followed`](Self::followed)) travel with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TransferRecord {
    /// The call being transferred.
    pub call_id: String,
    /// The consultation call of a consultative transfer.
    pub replaces_call_id: Option<String>,
    /// Tells attempts on the same call apart; unique per tracker.
    pub attempt: u64,
    /// When the transfer times out, in Unix milliseconds.
    pub deadline: u64,
    /// A `transferring` notification was applied.
    pub seen_transferring: bool,
    /// A `transferAccepted` notification was applied.
    pub seen_accepted: bool,
    /// The consultation call has ended.
    pub consultation_ended: bool,
    /// The outcome, once known. A consultative transfer stays in the store after its outcome
    /// until its consultation call ends (or its deadline passes), so that end can be reported;
    /// a timed-out transfer stays until [`late_until`](Self::late_until).
    /// Boxed: most records never hold one, and they stay small.
    pub outcome: Option<Box<TransferOutcome>>,
    /// The tenant (`tid`) the transfer belongs to, lower case: given to `track`, else the tenant of
    /// the first authenticated notification applied to it.
    pub tenant_id: Option<String>,
    /// The operation that reported the transfer's progress (the older `commsOperation` flow).
    pub operation_id: Option<String>,
    /// The call was seen back in `established` (without a failure code) after `transferring`.
    pub seen_established: bool,
    /// Followed on the tracker's own initiative (bounded by `TrackerConfig::max_followed`).
    pub followed: bool,
    /// The transfer timed out and is remembered until then (Unix milliseconds) for a late
    /// result.
    pub late_until: Option<u64>,
}

impl TransferRecord {
    /// A fresh record with nothing seen yet.
    pub fn new(
        call_id: String,
        replaces_call_id: Option<String>,
        attempt: u64,
        deadline: u64,
    ) -> Self {
        TransferRecord {
            call_id,
            replaces_call_id,
            attempt,
            deadline,
            seen_transferring: false,
            seen_accepted: false,
            consultation_ended: false,
            outcome: None,
            tenant_id: None,
            operation_id: None,
            seen_established: false,
            followed: false,
            late_until: None,
        }
    }
}

/// Storage for open transfers, indexed by the transferred call's id and by its consultation call's
/// id. The tracker passes ids already normalized ([`normalize_call_id`](crate::normalize_call_id)),
/// so a store compares them exactly.
///
/// Records are handed over by value and changed through a closure, never lent out as `&mut`, so
/// a store may keep them serialized (see the tests' JSON store) or in a shared engine: `update`
/// is a read-modify-write that such a store runs atomically (compare-and-set, or a transaction).
///
/// The tracker serializes every call into the store behind one lock, so implementations need no
/// locking of their own. Every method must be O(1) (amortized): the tracker calls them on the
/// notification hot path.
pub trait TransferStore: Send + fmt::Debug + 'static {
    /// Registers a new open transfer, atomically and exclusively.
    ///
    /// # Errors
    /// [`Error::AlreadyTracking`] when the call, or the record's consultation call, already
    /// belongs to a stored transfer.
    fn insert(&mut self, record: TransferRecord) -> Result<()>;

    /// Runs `change` on the transfer that `call_id` belongs to, as the transferred call or as its
    /// consultation call, and stores the changed record; `false` when no transfer has the call.
    fn update(
        &mut self,
        call_id: &str,
        change: &mut dyn FnMut(CallRole, &mut TransferRecord),
    ) -> bool;

    /// Shows the transfer of the transferred call `call_id` to `read`; `false` when there is
    /// none.
    fn read(&self, call_id: &str, read: &mut dyn FnMut(&TransferRecord)) -> bool;

    /// Removes the transfer of the transferred call `call_id` when it is attempt `attempt`.
    fn remove(&mut self, call_id: &str, attempt: u64) -> Option<TransferRecord>;

    /// The number of stored transfers.
    fn len(&self) -> usize;

    /// `true` when no transfer is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads the transfer of the transferred call `call_id` through `read`, returning what it returns.
pub(crate) fn read_with<R>(
    store: &dyn TransferStore,
    call_id: &str,
    read: impl FnOnce(&TransferRecord) -> R,
) -> Option<R> {
    let mut read = Some(read);
    let mut out = None;
    store.read(call_id, &mut |record| {
        if let Some(read) = read.take() {
            out = Some(read(record));
        }
    });
    out
}

/// Changes the transfer that `call_id` belongs to through `change`, returning what it returns.
pub(crate) fn update_with<R>(
    store: &mut dyn TransferStore,
    call_id: &str,
    change: impl FnOnce(CallRole, &mut TransferRecord) -> R,
) -> Option<R> {
    let mut change = Some(change);
    let mut out = None;
    store.update(call_id, &mut |role, record| {
        if let Some(change) = change.take() {
            out = Some(change(role, record));
        }
    });
    out
}

/// The default [`TransferStore`]: two hash maps in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: HashMap<Box<str>, TransferRecord>,
    /// Consultation call id → transferred call id.
    consultations: HashMap<Box<str>, Box<str>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn is_taken(&self, call_id: &str) -> bool {
        self.records.contains_key(call_id) || self.consultations.contains_key(call_id)
    }
}

impl TransferStore for MemoryStore {
    fn insert(&mut self, record: TransferRecord) -> Result<()> {
        if self.is_taken(&record.call_id) {
            return Err(Error::AlreadyTracking {
                call_id: record.call_id,
            });
        }
        if let Some(consultation) = &record.replaces_call_id {
            if self.is_taken(consultation) || *consultation == record.call_id {
                return Err(Error::AlreadyTracking {
                    call_id: consultation.clone(),
                });
            }
            self.consultations
                .insert(consultation.as_str().into(), record.call_id.as_str().into());
        }
        self.records.insert(record.call_id.as_str().into(), record);
        Ok(())
    }

    fn update(
        &mut self,
        call_id: &str,
        change: &mut dyn FnMut(CallRole, &mut TransferRecord),
    ) -> bool {
        if let Some(record) = self.records.get_mut(call_id) {
            change(CallRole::Transferred, record);
            return true;
        }
        let Some(primary) = self.consultations.get(call_id) else {
            return false;
        };
        match self.records.get_mut(primary) {
            Some(record) => {
                change(CallRole::Consultation, record);
                true
            }
            None => false,
        }
    }

    fn read(&self, call_id: &str, read: &mut dyn FnMut(&TransferRecord)) -> bool {
        match self.records.get(call_id) {
            Some(record) => {
                read(record);
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, call_id: &str, attempt: u64) -> Option<TransferRecord> {
        if self.records.get(call_id)?.attempt != attempt {
            return None;
        }
        let record = self.records.remove(call_id)?;
        if let Some(consultation) = &record.replaces_call_id {
            self.consultations.remove(consultation.as_str());
        }
        Some(record)
    }

    fn len(&self) -> usize {
        self.records.len()
    }
}
