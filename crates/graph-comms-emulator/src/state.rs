//! The emulator's shared state: calls, scripts, delivery logs, and each call's delivery task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use graph_comms_transport::{HttpRequest, Transport};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch, Notify};

use crate::config::{DeliveryPolicy, EmulatorConfig};
use crate::keys::SigningKey;
use crate::notifications::Outgoing;
use crate::script::{Script, Throttle};

/// The issuer of callback JWTs, as Graph's (Bot Framework's) tokens carry it.
pub const CALLBACK_ISSUER: &str = "https://api.botframework.com";

/// Lifetime of a callback JWT in seconds.
const CALLBACK_TOKEN_LIFETIME: u64 = 3600;

/// What one callback delivery did: recorded per call, queryable after the call has ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeliveryRecord {
    /// Position in the call's delivery order, from 0.
    pub seq: u64,
    /// The call's id.
    pub call_id: String,
    /// `changeType` of the notification.
    pub change_type: String,
    /// `resourceData.state` of the notification.
    pub state: Option<String>,
    /// POST attempts made (1 when the first succeeded).
    pub attempts: u32,
    /// The last HTTP status the callback answered, if it answered.
    pub status: Option<u16>,
    /// The callback answered `2xx`.
    pub delivered: bool,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
    /// The commsNotifications body that was posted.
    pub body: Value,
}

/// One call the emulator knows.
#[derive(Debug)]
pub(crate) struct CallRecord {
    pub(crate) tenant_id: String,
    pub(crate) app_id: String,
    pub(crate) callback_uri: String,
    pub(crate) direction: &'static str,
    /// The call resource answered by `GET` (its `state` kept current).
    pub(crate) resource: Value,
    pub(crate) group: bool,
    /// The remote participants (participantInfo objects with `participantId`).
    pub(crate) participants: Vec<Value>,
    pub(crate) script: Script,
    pub(crate) throttle_left: u32,
    pub(crate) retry_after: u64,
    pub(crate) transfer_pending: bool,
    pub(crate) ending: bool,
    /// The participant on hold (hold music playing), if any: one at a time.
    pub(crate) on_hold: Option<String>,
    tx: mpsc::UnboundedSender<Outgoing>,
}

impl CallRecord {
    pub(crate) fn state(&self) -> &str {
        self.resource["state"].as_str().unwrap_or("unknown")
    }

    pub(crate) fn set_script(&mut self, script: Script) {
        let (left, after) = script
            .throttle
            .map(|t| (t.count, t.retry_after_seconds))
            .unwrap_or((0, 1));
        self.throttle_left = left;
        self.retry_after = after;
        self.script = script;
    }

    /// Queues notifications for this call's delivery task.
    pub(crate) fn enqueue(&self, items: impl IntoIterator<Item = Outgoing>) {
        for item in items {
            // The task only stops at shutdown; a send error then is harmless.
            let _ = self.tx.send(item);
        }
    }
}

/// Everything the handlers and tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) key: SigningKey,
    pub(crate) root_url: String,
    pub(crate) config: EmulatorConfig,
    /// Callbacks are POSTed through it (redirects are never followed: the transport does not).
    pub(crate) http: Arc<dyn Transport>,
    calls: Mutex<HashMap<String, CallRecord>>,
    deliveries: Mutex<DeliveryLog>,
    /// Callback JWTs per (app id, tenant) with their expiry: reused, as Graph reuses its tokens,
    /// until 5 minutes before they expire (an RSA signature costs milliseconds).
    callback_tokens: Mutex<HashMap<(String, String), (String, u64)>>,
    pub(crate) delivered: Notify,
    pub(crate) default_script: Mutex<Script>,
    pub(crate) global_throttle: Mutex<Option<Throttle>>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The runtime the emulator was started on: delivery tasks run there, so calls can be placed
    /// from any thread.
    runtime: tokio::runtime::Handle,
}

/// Delivery records of the most recent [`DeliveryLog::MAX_CALLS`] calls (older ones are
/// forgotten, so a long-running emulator does not grow without bound).
#[derive(Debug, Default)]
struct DeliveryLog {
    by_call: HashMap<String, Vec<DeliveryRecord>>,
    order: std::collections::VecDeque<String>,
}

impl DeliveryLog {
    const MAX_CALLS: usize = 10_000;

    fn open(&mut self, call_id: &str) {
        if self.by_call.contains_key(call_id) {
            return;
        }
        if self.order.len() >= Self::MAX_CALLS {
            if let Some(old) = self.order.pop_front() {
                self.by_call.remove(&old);
            }
        }
        self.order.push_back(call_id.to_owned());
        self.by_call.insert(call_id.to_owned(), Vec::new());
    }

    fn push(&mut self, rec: DeliveryRecord) {
        if let Some(v) = self.by_call.get_mut(&rec.call_id) {
            v.push(rec);
        }
    }

    fn get(&self, call_id: &str) -> Vec<DeliveryRecord> {
        self.by_call.get(call_id).cloned().unwrap_or_default()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a handler panicked mid-update; the data is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Shared {
    pub(crate) fn new(
        key: SigningKey,
        root_url: String,
        config: EmulatorConfig,
        http: Arc<dyn Transport>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Shared {
            key,
            root_url,
            default_script: Mutex::new(config.default_script.clone()),
            config,
            http,
            calls: Mutex::new(HashMap::new()),
            deliveries: Mutex::new(DeliveryLog::default()),
            callback_tokens: Mutex::new(HashMap::new()),
            delivered: Notify::new(),
            global_throttle: Mutex::new(None),
            shutdown,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    pub(crate) fn calls(&self) -> MutexGuard<'_, HashMap<String, CallRecord>> {
        lock(&self.calls)
    }

    pub(crate) fn default_script(&self) -> Script {
        lock(&self.default_script).clone()
    }

    pub(crate) fn set_default_script(&self, script: Script) {
        *lock(&self.default_script) = script;
    }

    pub(crate) fn set_global_throttle(&self, t: Option<Throttle>) {
        *lock(&self.global_throttle) = t;
    }

    /// Takes one from the global throttle; `Some(retry_after)` when this request is throttled.
    pub(crate) fn take_global_throttle(&self) -> Option<u64> {
        let mut g = lock(&self.global_throttle);
        match g.as_mut() {
            Some(t) if t.count > 0 => {
                t.count -= 1;
                let after = t.retry_after_seconds;
                if t.count == 0 {
                    *g = None;
                }
                Some(after)
            }
            _ => None,
        }
    }

    pub(crate) fn deliveries(&self, call_id: &str) -> Vec<DeliveryRecord> {
        lock(&self.deliveries).get(call_id)
    }

    /// Creates a call record and starts its delivery task.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert_call(
        self: &Arc<Self>,
        id: String,
        tenant_id: String,
        app_id: String,
        callback_uri: String,
        direction: &'static str,
        resource: Value,
        participants: Vec<Value>,
        group: bool,
        script: Script,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut rec = CallRecord {
            tenant_id,
            app_id,
            callback_uri,
            direction,
            resource,
            group,
            participants,
            script: Script::default(),
            throttle_left: 0,
            retry_after: 1,
            transfer_pending: false,
            ending: false,
            on_hold: None,
            tx,
        };
        rec.set_script(script);
        self.calls().insert(id.clone(), rec);
        lock(&self.deliveries).open(&id);
        self.runtime.spawn(delivery_task(Arc::clone(self), id, rx));
    }

    /// Applies what a body's notifications say about the call before it is posted; returns the
    /// call's callback URI, app id and tenant, or `None` when the call is gone.
    fn apply(&self, call_id: &str, item: &Outgoing) -> Option<(String, String, String)> {
        let mut calls = self.calls();
        let rec = calls.get_mut(call_id)?;
        let target = (
            rec.callback_uri.clone(),
            rec.app_id.clone(),
            rec.tenant_id.clone(),
        );
        if !item.apply_state {
            return Some(target);
        }
        let url = crate::notifications::call_url(call_id);
        let notes = item.body["value"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for note in notes.iter().filter(|n| n["resourceUrl"] == url.as_str()) {
            let data = &note["resourceData"];
            if let Some(state) = data["state"].as_str() {
                rec.resource["state"] = Value::from(state);
            }
            for field in ["resultInfo", "terminationReason", "replacesContext"] {
                if let Some(v) = data.get(field) {
                    rec.resource[field] = v.clone();
                }
            }
        }
        if item.ends_transfer {
            rec.transfer_pending = false;
        }
        if ends_call(call_id, item) {
            calls.remove(call_id);
        }
        Some(target)
    }

    /// A callback JWT for `app_id` in `tenant`, reused while it has 5 minutes or more to live.
    pub(crate) fn callback_jwt(&self, app_id: &str, tenant: &str) -> crate::Result<String> {
        let key = (app_id.to_owned(), tenant.to_owned());
        let now = now_secs();
        if let Some((jwt, exp)) = lock(&self.callback_tokens).get(&key) {
            if *exp > now + 300 {
                return Ok(jwt.clone());
            }
        }
        let jwt = callback_token(&self.key, app_id, tenant)?;
        lock(&self.callback_tokens).insert(key, (jwt.clone(), now + CALLBACK_TOKEN_LIFETIME));
        Ok(jwt)
    }

    fn record(&self, rec: DeliveryRecord) {
        lock(&self.deliveries).push(rec);
        self.delivered.notify_waiters();
    }
}

#[derive(Serialize)]
struct CallbackClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    tid: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// The last notification body of a flow that holds a `deleted` notification about the call
/// itself (not one of its operations or its roster): the call ends with it.
fn ends_call(call_id: &str, item: &Outgoing) -> bool {
    let url = crate::notifications::call_url(call_id);
    item.ends_transfer
        && item.body["value"].as_array().is_some_and(|notes| {
            notes
                .iter()
                .any(|n| n["changeType"] == "deleted" && n["resourceUrl"] == url.as_str())
        })
}

/// Signs the JWT of one callback: RS256, `iss` Bot Framework, `aud` the bot's app id, `tid`.
pub(crate) fn callback_token(
    key: &SigningKey,
    app_id: &str,
    tenant_id: &str,
) -> crate::Result<String> {
    let now = now_secs();
    key.sign(&CallbackClaims {
        iss: CALLBACK_ISSUER,
        aud: app_id,
        tid: tenant_id,
        iat: now,
        nbf: now.saturating_sub(5),
        exp: now + CALLBACK_TOKEN_LIFETIME,
    })
}

/// Posts one call's notifications, in order, one at a time, until shutdown or the call ends.
async fn delivery_task(
    shared: Arc<Shared>,
    call_id: String,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    let mut shutdown = shared.shutdown.clone();
    let mut seq = 0u64;
    loop {
        let item = tokio::select! {
            item = rx.recv() => match item { Some(i) => i, None => break },
            _ = shutdown.changed() => break,
        };
        if !item.delay.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(item.delay) => {}
                _ = shutdown.changed() => break,
            }
        }
        let ends_call = ends_call(&call_id, &item);
        let Some((uri, app_id, tenant)) = shared.apply(&call_id, &item) else {
            break;
        };
        let outcome = tokio::select! {
            o = post_with_retries(&shared, &uri, &app_id, &tenant, &item.body, shared.config.delivery) => o,
            _ = shutdown.changed() => break,
        };
        let note = &item.body["value"][0];
        let rec = DeliveryRecord {
            seq,
            call_id: call_id.clone(),
            change_type: note["changeType"].as_str().unwrap_or_default().to_owned(),
            state: note["resourceData"]["state"].as_str().map(str::to_owned),
            attempts: outcome.attempts,
            status: outcome.status,
            delivered: outcome.delivered,
            error: outcome.error,
            body: item.body,
        };
        if rec.delivered {
            tracing::debug!(call_id = %call_id, seq, state = ?rec.state, "callback delivered");
        } else {
            tracing::warn!(call_id = %call_id, seq, state = ?rec.state, error = ?rec.error, status = ?rec.status,
                "callback not delivered; giving up on this notification");
        }
        shared.record(rec);
        seq += 1;
        if ends_call {
            break;
        }
    }
}

struct PostOutcome {
    attempts: u32,
    status: Option<u16>,
    delivered: bool,
    error: Option<String>,
}

/// The POST of one notification to a callback: the bearer token and the JSON body.
fn callback_request(uri: &str, token: &str, body: &str) -> Result<HttpRequest, String> {
    let url = url::Url::parse(uri).map_err(|e| format!("callback URI {uri:?}: {e}"))?;
    let mut headers = http::HeaderMap::new();
    let bearer = http::HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|e| format!("callback token: {e}"))?;
    headers.insert(http::header::AUTHORIZATION, bearer);
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(HttpRequest {
        method: http::Method::POST,
        url,
        headers,
        body: bytes::Bytes::from(body.to_owned()),
    })
}

async fn post_with_retries(
    shared: &Shared,
    uri: &str,
    app_id: &str,
    tenant: &str,
    body: &Value,
    policy: DeliveryPolicy,
) -> PostOutcome {
    let bytes = body.to_string();
    let max = policy.max_attempts.max(1);
    let mut out = PostOutcome {
        attempts: 0,
        status: None,
        delivered: false,
        error: None,
    };
    for attempt in 1..=max {
        out.attempts = attempt;
        let token = match shared.callback_jwt(app_id, tenant) {
            Ok(t) => t,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        };
        let request = match callback_request(uri, &token, &bytes) {
            Ok(r) => r,
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        };
        let res = tokio::time::timeout(policy.timeout, shared.http.send(request)).await;
        let retryable = match res {
            Ok(Ok(resp)) => {
                let s = resp.status;
                out.status = Some(s.as_u16());
                if s.is_success() {
                    out.delivered = true;
                    out.error = None;
                    return out;
                }
                out.error = Some(format!("callback answered {s}"));
                s.is_server_error() || s.as_u16() == 408 || s.as_u16() == 429
            }
            Ok(Err(e)) => {
                out.status = None;
                out.error = Some(format!("callback POST failed: {e}"));
                true
            }
            Err(_) => {
                out.status = None;
                out.error = Some(format!(
                    "callback POST timed out after {:?}",
                    policy.timeout
                ));
                true
            }
        };
        if !retryable || attempt == max {
            break;
        }
        let backoff = policy
            .initial_backoff
            .saturating_mul(1 << (attempt - 1).min(16));
        tokio::time::sleep(backoff.min(Duration::from_secs(30))).await;
    }
    out
}
