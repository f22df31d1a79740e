//! The verified-token cache: a sender reuses one token for many callbacks, so a token whose
//! signature and claims were verified once is remembered until it expires.
//!
//! Safety rules: an entry matches only a token equal to the stored one in every byte (header,
//! claims and signature); a keyed SipHash (random keys per process) of the token's tail — its
//! signature — only picks the bucket, so it costs a few dozen nanoseconds instead of hashing the
//! whole token; only successful verifications are stored; an entry is used only strictly before
//! the token's `exp` and only while the key set it was verified with has withdrawn no key (the
//! key-store generation); the cache is bounded (sharded; a full shard evicts the entry it took in
//! first, in constant time; a bucket collision simply replaces the older entry).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, RwLock};

use super::VerifiedCaller;

const SHARDS: usize = 16;
/// How many trailing bytes of the token pick its bucket (the signature's last 64 base64url
/// characters: 384 bits that differ between any two honestly signed tokens).
const TAIL: usize = 64;

struct Entry {
    token: Box<str>,
    caller: Arc<VerifiedCaller>,
    /// Usable while `now < expires_at` (seconds since the epoch).
    expires_at: u64,
    generation: u64,
    /// When the shard took it in (the shard's insertion count then).
    inserted: u64,
}

/// A bucket hashed for the shard's table. The bucket is already a keyed SipHash of the token's
/// tail, so it is used as it is instead of being hashed a second time (the table's own
/// `RandomState` cost a second SipHash per lookup). It is rotated so that the bits the table
/// reads (the low ones pick the slot, the top seven make the tag) are not the top five, which
/// picked the shard and are the same for all of a shard's entries.
#[derive(Default, Clone, Copy)]
struct BucketHasher(u64);

impl Hasher for BucketHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; any other input is still mixed in, byte by byte.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, bucket: u64) {
        self.0 = bucket.rotate_left(32);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One shard: the entries by bucket, and the order they came in.
#[derive(Default)]
struct Shard {
    entries: HashMap<u64, Entry, BuildHasherDefault<BucketHasher>>,
    /// `(bucket, inserted)` oldest first: the eviction order. An entry replaced or removed since
    /// leaves its pair behind; such pairs are skipped when met, and dropped all at once when
    /// the queue grows past twice the shard's capacity, so the queue stays bounded and each
    /// insertion costs constant time on average (the previous eviction scanned the whole shard
    /// on every insertion into a full one).
    order: VecDeque<(u64, u64)>,
    insertions: u64,
}

impl Shard {
    fn is_current(&self, (bucket, inserted): (u64, u64)) -> bool {
        self.entries
            .get(&bucket)
            .is_some_and(|e| e.inserted == inserted)
    }

    /// Removes the entry taken in first.
    fn evict_oldest(&mut self) {
        while let Some(pair) = self.order.pop_front() {
            if self.is_current(pair) {
                self.entries.remove(&pair.0);
                return;
            }
        }
    }

    fn insert(&mut self, bucket: u64, mut entry: Entry, capacity: usize) {
        if self.entries.len() >= capacity && !self.entries.contains_key(&bucket) {
            self.evict_oldest();
        }
        entry.inserted = self.insertions;
        self.insertions += 1;
        self.order.push_back((bucket, entry.inserted));
        self.entries.insert(bucket, entry);
        if self.order.len() > 2 * capacity {
            let order = std::mem::take(&mut self.order);
            self.order = order.into_iter().filter(|&p| self.is_current(p)).collect();
        }
    }
}

/// The shard a bucket lives in: its top bits (the table inside the shard reads the others).
fn shard_of(bucket: u64) -> usize {
    (bucket >> 59) as usize % SHARDS
}

/// A bounded map from token to the verified caller.
pub(crate) struct TokenCache {
    /// Read-locked on a hit, so that the callbacks of one sender, all carrying one token, never
    /// wait for each other (nor for a worker thread preempted while it holds a lock).
    shards: Vec<RwLock<Shard>>,
    per_shard: usize,
    hasher: RandomState,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &(self.per_shard * self.shards.len()))
            .field("len", &self.len())
            .finish()
    }
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (0 disables caching).
    pub(crate) fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS);
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            per_shard,
            hasher: RandomState::new(),
        }
    }

    /// Whether anything is cached at all (capacity above zero).
    pub(crate) fn enabled(&self) -> bool {
        self.per_shard > 0
    }

    /// The token's bucket: a keyed hash of its tail.
    pub(crate) fn bucket(&self, token: &str) -> u64 {
        let bytes = token.as_bytes();
        self.hasher
            .hash_one(&bytes[bytes.len().saturating_sub(TAIL)..])
    }

    fn slot(&self, token: &str) -> (u64, &RwLock<Shard>) {
        let bucket = self.bucket(token);
        (bucket, &self.shards[shard_of(bucket)])
    }

    /// The cached caller for exactly this token, if it was verified under `generation` and `now`
    /// (seconds since the epoch) is before its expiry.
    pub(crate) fn get(
        &self,
        token: &str,
        now: u64,
        generation: u64,
    ) -> Option<Arc<VerifiedCaller>> {
        if self.per_shard == 0 {
            return None;
        }
        let (bucket, shard) = self.slot(token);
        {
            let read = shard
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match read.entries.get(&bucket) {
                Some(entry) if &*entry.token != token => return None,
                Some(entry) if now < entry.expires_at && entry.generation == generation => {
                    return Some(entry.caller.clone());
                }
                Some(_) => {}
                None => return None,
            }
        }
        // Expired or verified under withdrawn keys: removed, unless replaced in between.
        let mut write = shard
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if write.entries.get(&bucket).is_some_and(|e| {
            &*e.token == token && !(now < e.expires_at && e.generation == generation)
        }) {
            write.entries.remove(&bucket);
        }
        None
    }

    /// Remembers a successful verification of `token`.
    pub(crate) fn insert(
        &self,
        token: &str,
        caller: Arc<VerifiedCaller>,
        now: u64,
        generation: u64,
    ) {
        if self.per_shard == 0 || caller.expires_at <= now {
            return;
        }
        let (bucket, shard) = self.slot(token);
        let expires_at = caller.expires_at;
        let entry = Entry {
            token: token.into(),
            caller,
            expires_at,
            generation,
            inserted: 0,
        };
        shard
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(bucket, entry, self.per_shard);
    }

    /// How many entries are stored (expired ones included until evicted).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).entries.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(exp: u64) -> Arc<VerifiedCaller> {
        Arc::new(VerifiedCaller {
            tenant_id: Some("t".into()),
            issuer: "iss".into(),
            audience: "app".into(),
            app_id: None,
            expires_at: exp,
            not_before: None,
        })
    }

    #[test]
    fn entries_expire_at_exp_and_with_a_new_generation() {
        let cache = TokenCache::new(64);
        cache.insert("a.b.c", caller(100), 50, 0);
        assert!(cache.get("a.b.c", 99, 0).is_some());
        assert!(
            cache.get("a.b.c", 99, 1).is_none(),
            "a withdrawn key invalidates"
        );
        cache.insert("a.b.c", caller(100), 50, 0);
        assert!(cache.get("a.b.c", 100, 0).is_none(), "expired at exp");
        assert!(cache.get("a.b.d", 10, 0).is_none());
    }

    #[test]
    fn only_the_identical_token_matches_even_with_the_same_tail() {
        let cache = TokenCache::new(64);
        let tail = "s".repeat(TAIL);
        let honest = format!("header.claims-for-app.{tail}");
        let forged = format!("header.claims-for-evil.{tail}");
        cache.insert(&honest, caller(100), 0, 0);
        assert!(cache.get(&honest, 1, 0).is_some());
        assert!(cache.get(&forged, 1, 0).is_none());
        // And the honest entry is still there.
        assert!(cache.get(&honest, 1, 0).is_some());
    }

    #[test]
    fn stays_bounded() {
        let cache = TokenCache::new(32);
        for i in 0..10_000u32 {
            cache.insert(&i.to_string(), caller(1_000), 0, 0);
        }
        assert!(cache.len() <= 32, "len {}", cache.len());
    }

    #[test]
    fn a_full_shard_evicts_the_entry_it_took_in_first_and_its_queue_stays_bounded() {
        let cache = TokenCache::new(SHARDS * 4);
        // Tokens of one shard, in the order they are inserted.
        let tokens: Vec<String> = (0..10_000u32)
            .map(|i| format!("token-{i}"))
            .filter(|t| shard_of(cache.bucket(t)) == 0)
            .take(40)
            .collect();
        for (i, token) in tokens.iter().enumerate() {
            cache.insert(token, caller(1_000), 0, 0);
            // Re-inserting the newest one replaces it and leaves a stale pair behind.
            cache.insert(token, caller(1_000), 0, 0);
            let kept: Vec<usize> = (0..=i)
                .filter(|&j| cache.get(&tokens[j], 1, 0).is_some())
                .collect();
            let first = i.saturating_sub(3);
            assert_eq!(kept, (first..=i).collect::<Vec<_>>(), "after {i}");
            let shard = cache.shards[0].read().expect("not poisoned");
            assert!(shard.order.len() <= 2 * 4, "queue {}", shard.order.len());
        }
    }

    #[test]
    fn a_shards_table_hashes_the_bucket_bits_that_did_not_pick_the_shard() {
        let cache = TokenCache::new(SHARDS * 4);
        let table_hash = |bucket: u64| {
            let mut h = BucketHasher::default();
            h.write_u64(bucket);
            h.finish()
        };
        // Buckets of one shard: their top bits are the same.
        let buckets: Vec<u64> = (0..10_000u32)
            .map(|i| cache.bucket(&format!("token-{i}")))
            .filter(|&b| shard_of(b) == 0)
            .take(64)
            .collect();
        assert_eq!(buckets.len(), 64);
        // The tags (top seven bits) and the slots (low bits) of the table still differ.
        let tags: std::collections::HashSet<u64> =
            buckets.iter().map(|&b| table_hash(b) >> 57).collect();
        let slots: std::collections::HashSet<u64> =
            buckets.iter().map(|&b| table_hash(b) & 0x3ff).collect();
        assert!(tags.len() > 16, "{} distinct tags of 64", tags.len());
        assert!(slots.len() > 48, "{} distinct slots of 64", slots.len());
        // Distinct buckets stay distinct keys.
        let mut table: HashMap<u64, usize, BuildHasherDefault<BucketHasher>> = HashMap::default();
        for (i, &b) in buckets.iter().enumerate() {
            table.insert(b, i);
        }
        assert!(buckets.iter().enumerate().all(|(i, b)| table[b] == i));
    }

    #[test]
    fn capacity_zero_disables() {
        let cache = TokenCache::new(0);
        cache.insert("x", caller(100), 0, 0);
        assert!(cache.get("x", 1, 0).is_none());
    }
}
