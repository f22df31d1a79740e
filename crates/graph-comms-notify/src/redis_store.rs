//! [`RedisStore`]: the [`SharedStore`] of a bot fleet, on Redis (the `redis` feature).
//!
//! Keys (`P` is the prefix, `graph-comms:` by default; `C` a normalized call id):
//!
//! | key | type | holds | expires |
//! | --- | --- | --- | --- |
//! | `Pt:C` | hash | `rec` (the registration, JSON), `tenant`, `outcome`, `late` | `retention` after the deadline; `retention` after the outcome |
//! | `Pl:C` | list | the transfer's notifications (JSON), at most `max_log` | with the hash |
//! | `Pd:C` | set | SHA-1 of each logged notification (the dedupe guard) | with the hash |
//! | `Pq:C` | list | the previous attempt's notifications (see below) | with the hash |
//! | `Pc:C` | string | consultation call → transferred call | with the hash |
//! | `Pk:K` | string | the owner of claim `K` (a bot's offered call) | the claim's TTL |
//! | `Po:C` | channel | published when the outcome (or the late result) is written | |
//!
//! The hash also holds `attempt` (the call's attempt number) and `consult` (its consultation
//! call). Registering a call whose latest attempt has an outcome starts its next attempt: the
//! script numbers it, renames `Pl:C` to `Pq:C`, deletes `Pd:C` and the outcome, and drops the
//! old consultation index, in one step. A final notification byte for byte in `Pq:C`, arriving
//! before the new attempt's own progress (the hash's `progress` field), is not appended.
//!
//! Every operation is one Lua script (atomic on the server); none scans keys. The outcome is
//! written by whichever instance first folds a final log (or by a waiter recording `TimedOut` at
//! the deadline): the script keeps the first and answers every writer with it.
//!
//! Waiters are woken through one pub/sub connection per store (a pattern subscription on
//! `Po:*`), re-opened with backoff when it drops; a waiter also re-reads the outcome every
//! second, so a message lost while the subscription was down delays it by a second at most, and
//! a waiter outlives a server restart (a failed read is retried until the deadline).
//! Commands go through the `redis` crate's `ConnectionManager`, which reconnects with backoff and
//! pipelines the commands of concurrent tasks on one connection.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::event::NotificationEvent;
use crate::outcome::TransferOutcome;
use crate::shared::{
    is_progress, unix_ms, visible, Appended, SharedStore, SharedTransfer, StoreFuture, StoreLimits,
};
use crate::store::TransferRecord;

/// Registers a transfer (or the call's next attempt): KEYS = hash, consultation index (or the
/// hash's prefix), the call's own index as a consultation, the consultation's hash, log, dedupe
/// set, previous log; ARGV = record JSON, tenant, call id, consultation id (or ""), expiry
/// (Unix ms), first attempt number, prefix. Returns `ok:N` (N the attempt) or `taken:ID`.
const REGISTER: &str = r#"
if redis.call('EXISTS', KEYS[3]) == 1 then return 'taken:' .. ARGV[3] end
local attempt = tonumber(ARGV[6])
local old = false
if redis.call('EXISTS', KEYS[1]) == 1 then
  old = redis.call('HMGET', KEYS[1], 'outcome', 'attempt', 'consult', 'tenant')
  if not old[1] then return 'taken:' .. ARGV[3] end
  attempt = (tonumber(old[2]) or 1) + 1
end
if ARGV[4] ~= '' then
  local own = old and old[3] == ARGV[4]
  if ARGV[4] == ARGV[3] or redis.call('EXISTS', KEYS[4]) == 1
     or (redis.call('EXISTS', KEYS[2]) == 1 and not own) then
    return 'taken:' .. ARGV[4]
  end
end
local tenant = ARGV[2]
if old then
  if old[3] and old[3] ~= '' and old[3] ~= ARGV[4] then
    local c = ARGV[7] .. 'c:' .. old[3]
    if redis.call('GET', c) == ARGV[3] then redis.call('DEL', c) end
  end
  if tenant == '' and old[4] then tenant = old[4] end
  redis.call('DEL', KEYS[6], KEYS[7])
  if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('RENAME', KEYS[5], KEYS[7]) end
  redis.call('HDEL', KEYS[1], 'outcome', 'late', 'progress')
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'PXAT', ARGV[5]) end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'tenant', tenant, 'consult', ARGV[4], 'attempt', attempt)
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
if redis.call('EXISTS', KEYS[7]) == 1 then redis.call('PEXPIREAT', KEYS[7], ARGV[5]) end
return 'ok:' .. attempt
"#;

/// Claims a key: KEYS = claim key; ARGV = owner, TTL (ms). Returns 1 when `owner` holds it.
const CLAIM: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
"#;

/// Appends a notification: KEYS = hash of the call, consultation index of the call;
/// ARGV = prefix, event JSON, tenant (or ""), max log length, call id, "1" when the event is a
/// progress step (else "0"). The hash's `progress` field records that the attempt has one.
const APPEND: &str = r#"
local primary = ARGV[5]
if redis.call('EXISTS', KEYS[1]) == 0 then
  primary = redis.call('GET', KEYS[2])
  if not primary then return {'unknown'} end
end
local p = ARGV[1]
local hash = p .. 't:' .. primary
local ttl = redis.call('PTTL', hash)
if ttl == -2 then return {'unknown'} end
local own = redis.call('HGET', hash, 'tenant')
if ARGV[3] ~= '' then
  if own and own ~= '' and own ~= ARGV[3] then return {'otherTenant'} end
  if not own or own == '' then redis.call('HSET', hash, 'tenant', ARGV[3]) end
end
local log = p .. 'l:' .. primary
local seen = p .. 'd:' .. primary
if redis.call('SISMEMBER', seen, redis.sha1hex(ARGV[2])) == 1 then return {'duplicate'} end
if ARGV[6] ~= '1' and redis.call('HEXISTS', hash, 'progress') == 0 then
  for _, e in ipairs(redis.call('LRANGE', p .. 'q:' .. primary, 0, -1)) do
    if e == ARGV[2] then return {'previous'} end
  end
end
if redis.call('LLEN', log) >= tonumber(ARGV[4]) then return {'full'} end
redis.call('SADD', seen, redis.sha1hex(ARGV[2]))
redis.call('RPUSH', log, ARGV[2])
if ARGV[6] == '1' then redis.call('HSET', hash, 'progress', '1') end
if ttl > 0 then
  redis.call('PEXPIRE', log, ttl)
  redis.call('PEXPIRE', seen, ttl)
end
return {'added', primary}
"#;

/// Reads a transfer: KEYS = hash, log, previous log. Returns {rec, tenant, outcome, late,
/// attempt, n, the n previous notifications..., log...} or nil.
const READ: &str = r#"
local h = redis.call('HMGET', KEYS[1], 'rec', 'tenant', 'outcome', 'late', 'attempt')
if not h[1] then return false end
local previous = redis.call('LRANGE', KEYS[3], 0, -1)
local out = {h[1], h[2] or '', h[3] or '', h[4] or '', h[5] or '', tostring(#previous)}
for _, e in ipairs(previous) do table.insert(out, e) end
for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do table.insert(out, e) end
return out
"#;

/// Records the outcome: KEYS = hash, log, dedupe set, channel, previous log; ARGV = outcome JSON, its late
/// form, retention (ms), prefix. Returns the winner's JSON or nil.
const RECORD: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local consult = redis.call('HGET', KEYS[1], 'consult')
local cur = redis.call('HGET', KEYS[1], 'outcome')
local publish = false
if not cur then
  redis.call('HSET', KEYS[1], 'outcome', ARGV[1])
  cur = ARGV[1]
  publish = true
elseif cur == '"TimedOut"' and ARGV[1] ~= '"TimedOut"' and redis.call('HEXISTS', KEYS[1], 'late') == 0 then
  redis.call('HSET', KEYS[1], 'late', ARGV[2])
  publish = true
end
if publish then
  for _, i in ipairs({1, 2, 3, 5}) do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
  end
  if consult and consult ~= '' then
    local c = ARGV[4] .. 'c:' .. consult
    if redis.call('EXISTS', c) == 1 then redis.call('PEXPIRE', c, ARGV[3]) end
  end
  redis.call('PUBLISH', KEYS[4], cur)
end
return cur
"#;

/// Reads the outcome: KEYS = hash. Returns {outcome, late} or nil.
const OUTCOME: &str = r#"
local h = redis.call('HMGET', KEYS[1], 'outcome', 'late')
if not h[1] then return false end
return {h[1], h[2] or ''}
"#;

/// How often a waiter re-reads the outcome besides being woken by pub/sub.
const REPOLL: Duration = Duration::from_secs(1);

fn store_error(operation: &'static str, e: impl fmt::Display) -> Error {
    Error::Store {
        operation,
        message: format!("{:?}", e.to_string()),
    }
}

fn decode<T: serde::de::DeserializeOwned>(operation: &'static str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| store_error(operation, e))
}

fn encode<T: serde::Serialize>(operation: &'static str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| store_error(operation, e))
}

/// Per-call wake-ups of the waiters in this process.
type Waiters = Arc<Mutex<HashMap<String, Arc<Notify>>>>;

fn lock(waiters: &Waiters) -> MutexGuard<'_, HashMap<String, Arc<Notify>>> {
    waiters.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Scripts, loaded once per store (`EVALSHA`, falling back to `EVAL` after a restart).
struct Scripts {
    register: Script,
    claim: Script,
    append: Script,
    read: Script,
    record: Script,
    outcome: Script,
}

/// The [`SharedStore`] on Redis: see the module's documentation for keys, expiry and wake-ups.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    limits: StoreLimits,
    scripts: Scripts,
    waiters: Waiters,
    subscriber: JoinHandle<()>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://HOST:PORT[/DB]`) with the default prefix (`graph-comms:`) and
    /// limits. Must run inside a Tokio runtime (it spawns the pub/sub task).
    ///
    /// # Errors
    /// [`Error::Store`] when the URL is invalid or the server cannot be reached (a few
    /// attempts with backoff, about two seconds in all).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, "graph-comms:", StoreLimits::default()).await
    }

    /// Connects to `url` with a key `prefix` and `limits`.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(url: &str, prefix: &str, limits: StoreLimits) -> Result<Self> {
        let client = Client::open(url).map_err(|e| store_error("connect", e))?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(3)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(2))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let mut conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| store_error("connect", e))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| store_error("connect", e))?;
        let waiters = Waiters::default();
        let subscriber = tokio::spawn(subscribe(client, format!("{prefix}o:*"), {
            let waiters = Arc::clone(&waiters);
            move |call: &str| {
                if let Some(n) = lock(&waiters).get(call) {
                    n.notify_waiters();
                }
            }
        }));
        Ok(RedisStore {
            conn,
            prefix: prefix.to_owned(),
            limits,
            scripts: Scripts {
                register: Script::new(REGISTER),
                claim: Script::new(CLAIM),
                append: Script::new(APPEND),
                read: Script::new(READ),
                record: Script::new(RECORD),
                outcome: Script::new(OUTCOME),
            },
            waiters,
            subscriber,
        })
    }

    fn key(&self, kind: &str, call_id: &str) -> String {
        format!("{}{kind}:{call_id}", self.prefix)
    }

    async fn read_outcome(&self, call_id: &str) -> Result<Option<TransferOutcome>> {
        let mut conn = self.conn.clone();
        let got: Option<Vec<String>> = self
            .scripts
            .outcome
            .key(self.key("t", call_id))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| store_error("outcome", e))?;
        let Some(got) = got else {
            return Ok(None);
        };
        let outcome: TransferOutcome = decode("outcome", &got[0])?;
        let late = match got.get(1).map(String::as_str) {
            None | Some("") => None,
            Some(l) => Some(decode("outcome", l)?),
        };
        Ok(Some(visible(outcome, late)))
    }

    async fn wait(&self, call_id: &str, deadline_ms: u64) -> Result<Option<TransferOutcome>> {
        let notify = Arc::clone(lock(&self.waiters).entry(call_id.to_owned()).or_default());
        let result = async {
            loop {
                let notified = notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                // A failed read (the server restarting) is retried until the deadline.
                let read = self.read_outcome(call_id).await;
                let now = unix_ms();
                match read {
                    Ok(Some(o)) => return Ok(Some(o)),
                    Err(e) if now >= deadline_ms => return Err(e),
                    Ok(None) if now >= deadline_ms => return Ok(None),
                    _ => {}
                }
                let left = Duration::from_millis(deadline_ms - now).min(REPOLL);
                let _ = tokio::time::timeout(left, notified).await;
            }
        }
        .await;
        let mut waiters = lock(&self.waiters);
        if waiters
            .get(call_id)
            .is_some_and(|n| Arc::strong_count(n) <= 2)
        {
            waiters.remove(call_id);
        }
        result
    }
}

/// Keeps a pattern subscription open (re-opening it with backoff) and hands each message's call
/// id to `wake`; after every (re)connection, wakes nobody in particular: waiters re-read on their
/// own at least every [`REPOLL`].
async fn subscribe(client: Client, pattern: String, wake: impl Fn(&str) + Send + 'static) {
    let prefix_len = pattern.len() - 1;
    let mut backoff = Duration::from_millis(100);
    loop {
        if let Ok(mut pubsub) = client.get_async_pubsub().await {
            if pubsub.psubscribe(&pattern).await.is_ok() {
                backoff = Duration::from_millis(100);
                let mut messages = pubsub.on_message();
                while let Some(msg) = messages.next().await {
                    if let Some(call) = msg.get_channel_name().get(prefix_len..) {
                        wake(call);
                    }
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

impl SharedStore for RedisStore {
    fn register<'a>(&'a self, record: &'a TransferRecord) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let json = encode("register", record)?;
            let consultation = record.replaces_call_id.as_deref().unwrap_or("");
            let expires = record
                .deadline
                .saturating_add(u64::try_from(self.limits.retention.as_millis()).unwrap_or(0));
            let mut conn = self.conn.clone();
            let answer: String = self
                .scripts
                .register
                .key(self.key("t", &record.call_id))
                .key(self.key("c", consultation))
                .key(self.key("c", &record.call_id))
                .key(self.key("t", consultation))
                .key(self.key("l", &record.call_id))
                .key(self.key("d", &record.call_id))
                .key(self.key("q", &record.call_id))
                .arg(json)
                .arg(record.tenant_id.as_deref().unwrap_or(""))
                .arg(&record.call_id)
                .arg(consultation)
                .arg(expires)
                .arg(record.attempt.max(1))
                .arg(&self.prefix)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| store_error("register", e))?;
            if let Some(call) = answer.strip_prefix("taken:") {
                return Err(Error::AlreadyTracking {
                    call_id: call.to_owned(),
                });
            }
            answer
                .strip_prefix("ok:")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| store_error("register", format!("unexpected answer {answer:?}")))
        })
    }

    fn claim<'a>(&'a self, key: &'a str, owner: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut conn = self.conn.clone();
            let held: i64 = self
                .scripts
                .claim
                .key(self.key("k", key))
                .arg(owner)
                .arg(ttl)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| store_error("claim", e))?;
            Ok(held == 1)
        })
    }

    fn append<'a>(
        &'a self,
        call_id: &'a str,
        event: &'a NotificationEvent,
        tenant_id: Option<&'a str>,
    ) -> StoreFuture<'a, Appended> {
        Box::pin(async move {
            let json = encode("append", event)?;
            if json.len() > self.limits.max_event_bytes {
                return Ok(Appended::TooLarge);
            }
            let mut conn = self.conn.clone();
            let answer: Vec<String> = self
                .scripts
                .append
                .key(self.key("t", call_id))
                .key(self.key("c", call_id))
                .arg(&self.prefix)
                .arg(json)
                .arg(tenant_id.unwrap_or(""))
                .arg(self.limits.max_log)
                .arg(call_id)
                .arg(if is_progress(event) { "1" } else { "0" })
                .invoke_async(&mut conn)
                .await
                .map_err(|e| store_error("append", e))?;
            Ok(match answer.first().map(String::as_str) {
                Some("added") => Appended::Added {
                    call_id: answer.get(1).cloned().unwrap_or_else(|| call_id.to_owned()),
                },
                Some("duplicate") => Appended::Duplicate,
                Some("previous") => Appended::Previous,
                Some("otherTenant") => Appended::OtherTenant,
                Some("full") => Appended::Full,
                _ => Appended::Unknown,
            })
        })
    }

    fn log<'a>(&'a self, call_id: &'a str) -> StoreFuture<'a, Option<SharedTransfer>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let got: Option<Vec<String>> = self
                .scripts
                .read
                .key(self.key("t", call_id))
                .key(self.key("l", call_id))
                .key(self.key("q", call_id))
                .invoke_async(&mut conn)
                .await
                .map_err(|e| store_error("log", e))?;
            let Some(got) = got else {
                return Ok(None);
            };
            let mut parts = got.into_iter();
            let mut record: TransferRecord = decode("log", &parts.next().unwrap_or_default())?;
            let tenant = parts.next().unwrap_or_default();
            if !tenant.is_empty() {
                record.tenant_id = Some(tenant);
            }
            let optional = |s: Option<String>| -> Result<Option<TransferOutcome>> {
                match s.as_deref() {
                    None | Some("") => Ok(None),
                    Some(json) => decode("log", json).map(Some),
                }
            };
            let outcome = optional(parts.next())?;
            let late = optional(parts.next())?;
            if let Some(n) = parts.next().and_then(|a| a.parse().ok()) {
                record.attempt = n;
            }
            let previous_len: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let mut events = parts.map(|e| decode("log", &e));
            let previous = events
                .by_ref()
                .take(previous_len)
                .collect::<Result<Vec<NotificationEvent>>>()?;
            let log = events.collect::<Result<Vec<NotificationEvent>>>()?;
            Ok(Some(SharedTransfer {
                record,
                log,
                outcome,
                late,
                previous,
            }))
        })
    }

    fn record_outcome<'a>(
        &'a self,
        call_id: &'a str,
        outcome: &'a TransferOutcome,
    ) -> StoreFuture<'a, Option<TransferOutcome>> {
        Box::pin(async move {
            let json = encode("record outcome", outcome)?;
            let late = encode("record outcome", &outcome.clone().into_late())?;
            let retention = u64::try_from(self.limits.retention.as_millis()).unwrap_or(u64::MAX);
            let mut conn = self.conn.clone();
            let winner: Option<String> = self
                .scripts
                .record
                .key(self.key("t", call_id))
                .key(self.key("l", call_id))
                .key(self.key("d", call_id))
                .key(self.key("o", call_id))
                .key(self.key("q", call_id))
                .arg(json)
                .arg(late)
                .arg(retention.max(1))
                .arg(&self.prefix)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| store_error("record outcome", e))?;
            winner.map(|w| decode("record outcome", &w)).transpose()
        })
    }

    fn outcome<'a>(&'a self, call_id: &'a str) -> StoreFuture<'a, Option<TransferOutcome>> {
        Box::pin(self.read_outcome(call_id))
    }

    fn wait_outcome<'a>(
        &'a self,
        call_id: &'a str,
        deadline_ms: u64,
    ) -> StoreFuture<'a, Option<TransferOutcome>> {
        Box::pin(self.wait(call_id, deadline_ms))
    }
}
