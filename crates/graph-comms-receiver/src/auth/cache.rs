//! The verified-token cache: a sender reuses one token for many callbacks, so a token whose
//! signature and claims were verified once is remembered until it expires.
//!
//! Safety rules: the key is the SHA-256 of the complete token (header, claims and signature), so
//! any change to any byte is a miss; only successful verifications are stored; an entry is used
//! only strictly before the token's `exp` and only while the key set it was verified with has
//! withdrawn no key (the key-store generation); the cache is bounded (sharded, each shard evicts
//! expired entries first, then an arbitrary one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::VerifiedCaller;

const SHARDS: usize = 16;

/// SHA-256 of a token.
pub(crate) type TokenDigest = [u8; 32];

/// Hashes a token for the cache.
pub(crate) fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry {
    caller: Arc<VerifiedCaller>,
    /// Usable while `now < expires_at` (seconds since the epoch).
    expires_at: u64,
    generation: u64,
}

/// A bounded map from token digest to the verified caller.
pub(crate) struct TokenCache {
    shards: Vec<Mutex<HashMap<TokenDigest, Entry>>>,
    per_shard: usize,
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
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard,
        }
    }

    fn shard(&self, key: &TokenDigest) -> &Mutex<HashMap<TokenDigest, Entry>> {
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// The cached caller for this token, if it was verified under `generation` and `now` (seconds
    /// since the epoch) is before its expiry.
    pub(crate) fn get(
        &self,
        key: &TokenDigest,
        now: u64,
        generation: u64,
    ) -> Option<Arc<VerifiedCaller>> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = self
            .shard(key)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match shard.get(key) {
            Some(entry) if now < entry.expires_at && entry.generation == generation => {
                Some(entry.caller.clone())
            }
            Some(_) => {
                shard.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers a successful verification.
    pub(crate) fn insert(
        &self,
        key: TokenDigest,
        caller: Arc<VerifiedCaller>,
        now: u64,
        generation: u64,
    ) {
        if self.per_shard == 0 || caller.expires_at <= now {
            return;
        }
        let mut shard = self
            .shard(&key)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, entry| now < entry.expires_at && entry.generation == generation);
            if shard.len() >= self.per_shard {
                if let Some(victim) = shard.keys().next().copied() {
                    shard.remove(&victim);
                }
            }
        }
        let expires_at = caller.expires_at;
        shard.insert(
            key,
            Entry {
                caller,
                expires_at,
                generation,
            },
        );
    }

    /// How many entries are stored (expired ones included until evicted).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
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
        let key = digest("a.b.c");
        cache.insert(key, caller(100), 50, 0);
        assert!(cache.get(&key, 99, 0).is_some());
        assert!(
            cache.get(&key, 99, 1).is_none(),
            "a withdrawn key invalidates"
        );
        cache.insert(key, caller(100), 50, 0);
        assert!(cache.get(&key, 100, 0).is_none(), "expired at exp");
        assert!(cache.get(&digest("a.b.d"), 10, 0).is_none());
    }

    #[test]
    fn stays_bounded() {
        let cache = TokenCache::new(32);
        for i in 0..10_000u32 {
            cache.insert(digest(&i.to_string()), caller(1_000), 0, 0);
        }
        assert!(cache.len() <= 32, "len {}", cache.len());
    }

    #[test]
    fn capacity_zero_disables() {
        let cache = TokenCache::new(0);
        let key = digest("x");
        cache.insert(key, caller(100), 0, 0);
        assert!(cache.get(&key, 1, 0).is_none());
    }
}
