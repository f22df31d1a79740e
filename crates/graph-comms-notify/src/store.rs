//! Where the tracker keeps its open transfers: the [`TransferStore`] trait, its plain-data
//! [`TransferRecord`], and the in-memory default, [`MemoryStore`].
//!
//! The shape is the one a store shared by several bot instances can implement: records are plain
//! data (serializable, deadlines in Unix time), and a store is only asked to register a transfer
//! exclusively, run the state machine on one record atomically
//! ([`update`](TransferStore::update): a read-modify-write), read one, and remove one. The wakers
//! that resolve handles stay in the process that called `track`.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

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
///
/// Records sit in the map beside their keys, and a call id of up to 46 bytes (Graph's
/// call ids are GUIDs: 36) is kept inline in the key, so finding a record and comparing its id
/// touch one place in memory instead of following a pointer to the id first: with 100 000
/// transfers open, each pointer followed is a likely cache miss on the notification hot path.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: HashMap<CallKey, TransferRecord>,
    /// Consultation call id → transferred call id.
    consultations: HashMap<CallKey, CallKey>,
}

/// The longest call id a [`CallKey`] keeps inline.
const INLINE: usize = 46;

/// A call id as a map key: its bytes inline when they fit, else on the heap. Hashed and compared
/// as its bytes, so a map of them is searched with a `&[u8]` (`call_id.as_bytes()`).
#[derive(Clone)]
enum CallKey {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl CallKey {
    fn new(call_id: &str) -> Self {
        let id = call_id.as_bytes();
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..id.len()].copy_from_slice(id);
                CallKey::Inline { len, bytes }
            }
            _ => CallKey::Heap(id.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            CallKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            CallKey::Heap(bytes) => bytes,
        }
    }
}

impl Borrow<[u8]> for CallKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for CallKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CallKey {}

impl Hash for CallKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `[u8]` hashes, so that a `&[u8]` finds it (the contract of `Borrow`).
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for CallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn is_taken(&self, call_id: &str) -> bool {
        let key = call_id.as_bytes();
        self.records.contains_key(key) || self.consultations.contains_key(key)
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
                .insert(CallKey::new(consultation), CallKey::new(&record.call_id));
        }
        self.records.insert(CallKey::new(&record.call_id), record);
        Ok(())
    }

    fn update(
        &mut self,
        call_id: &str,
        change: &mut dyn FnMut(CallRole, &mut TransferRecord),
    ) -> bool {
        if let Some(record) = self.records.get_mut(call_id.as_bytes()) {
            change(CallRole::Transferred, record);
            return true;
        }
        let Some(primary) = self.consultations.get(call_id.as_bytes()) else {
            return false;
        };
        match self.records.get_mut(primary.as_bytes()) {
            Some(record) => {
                change(CallRole::Consultation, record);
                true
            }
            None => false,
        }
    }

    fn read(&self, call_id: &str, read: &mut dyn FnMut(&TransferRecord)) -> bool {
        match self.records.get(call_id.as_bytes()) {
            Some(record) => {
                read(record);
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, call_id: &str, attempt: u64) -> Option<TransferRecord> {
        if self.records.get(call_id.as_bytes())?.attempt != attempt {
            return None;
        }
        let record = self.records.remove(call_id.as_bytes())?;
        if let Some(consultation) = &record.replaces_call_id {
            self.consultations.remove(consultation.as_bytes());
        }
        Some(record)
    }

    fn len(&self) -> usize {
        self.records.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids at, below and past the inline length, each found by its own bytes only.
    #[test]
    fn memory_store_finds_ids_of_every_length() {
        let ids: Vec<String> = [0, 1, 36, INLINE - 1, INLINE, INLINE + 1, 300]
            .iter()
            .map(|&n| "x".repeat(n))
            .collect();
        let mut store = MemoryStore::new();
        for (attempt, id) in ids.iter().enumerate() {
            let consultation = format!("{id}-c");
            let record = TransferRecord::new(id.clone(), Some(consultation), attempt as u64, 0);
            store.insert(record).expect("a fresh id is free");
        }
        assert_eq!(store.len(), ids.len());
        for (attempt, id) in ids.iter().enumerate() {
            let mut seen = None;
            assert!(store.read(id, &mut |r| seen = Some(r.attempt)));
            assert_eq!(seen, Some(attempt as u64), "{id:?}");
            let mut role = None;
            assert!(store.update(&format!("{id}-c"), &mut |r, record| {
                role = Some(r);
                record.consultation_ended = true;
            }));
            assert_eq!(role, Some(CallRole::Consultation));
            // A prefix or extension of a stored id is another id.
            assert!(!store.read(&format!("{id}y"), &mut |_| {}));
            let taken = TransferRecord::new(format!("{id}-c"), None, 99, 0);
            assert!(matches!(
                store.insert(taken),
                Err(Error::AlreadyTracking { .. })
            ));
        }
        for (attempt, id) in ids.iter().enumerate() {
            assert!(
                store.remove(id, attempt as u64 + 1000).is_none(),
                "wrong attempt"
            );
            let removed = store.remove(id, attempt as u64).expect("removes");
            assert!(removed.consultation_ended);
            assert!(!store.update(&format!("{id}-c"), &mut |_, _| {}));
        }
        assert!(store.is_empty());
    }

    #[test]
    fn call_keys_compare_and_hash_as_their_bytes() {
        use std::collections::hash_map::RandomState;
        use std::hash::BuildHasher;
        let state = RandomState::new();
        for n in [0, 5, INLINE, INLINE + 1, 200] {
            let id = "é".repeat(n / 2) + &"a".repeat(n % 2);
            let key = CallKey::new(&id);
            assert_eq!(key.as_bytes(), id.as_bytes());
            assert_eq!(state.hash_one(&key), state.hash_one(id.as_bytes()));
            assert_eq!(key, CallKey::new(&id));
            assert_ne!(key, CallKey::new(&format!("{id}b")));
            assert_eq!(format!("{key:?}"), format!("{id:?}"));
        }
    }
}
