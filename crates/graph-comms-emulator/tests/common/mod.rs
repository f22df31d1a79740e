//! Shared helpers: a shared signing key, a minimal callback server, and a small Graph client.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use graph_comms_emulator::{
    ApiVersion, Emulator, EmulatorConfig, PlaceCall, PlacedCall, Script, SigningKey,
};
use serde_json::Value;
use tokio::sync::mpsc;

pub const APP_ID: &str = "2891555a-92ff-42e6-80fa-6e1300c6b5c6";
pub const TENANT: &str = "aa67bd4c-8475-432d-bd41-39f255720e0a";
/// A bound for waits that only fail a broken test; never a timing assertion.
pub const WAIT: Duration = Duration::from_secs(10);

/// One signing key for every test of a binary (generating one costs a fraction of a second).
pub fn key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("key generation"))
        .clone()
}

pub fn config() -> EmulatorConfig {
    EmulatorConfig::default()
        .with_signing_key(key())
        .with_bot_app_id(APP_ID)
}

pub async fn emulator() -> Emulator {
    Emulator::start(config()).await.expect("emulator starts")
}

/// What the callback server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub authorization: Option<String>,
    pub body: Value,
}

impl Received {
    pub fn note(&self) -> &Value {
        &self.body["value"][0]
    }
    pub fn state(&self) -> &str {
        self.note()["resourceData"]["state"].as_str().unwrap_or("?")
    }
}

#[derive(Clone)]
struct CbState {
    tx: mpsc::UnboundedSender<Received>,
    fail_first: Arc<Mutex<u32>>,
}

/// A minimal bot callback on 127.0.0.1: records every POST; can fail the first N with `500`.
pub struct Callback {
    pub url: String,
    rx: mpsc::UnboundedReceiver<Received>,
    fail_first: Arc<Mutex<u32>>,
    _server: tokio::task::JoinHandle<()>,
}

async fn receive(State(st): State<CbState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    {
        let mut f = st.fail_first.lock().unwrap();
        if *f > 0 {
            *f -= 1;
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = serde_json::from_slice(&body).expect("callback body is JSON");
    let _ = st.tx.send(Received {
        authorization,
        body,
    });
    StatusCode::ACCEPTED
}

impl Callback {
    pub async fn start() -> Callback {
        let (tx, rx) = mpsc::unbounded_channel();
        let fail_first = Arc::new(Mutex::new(0));
        let st = CbState {
            tx,
            fail_first: Arc::clone(&fail_first),
        };
        let app = Router::new()
            .route("/api/calls", post(receive))
            .with_state(st);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/calls", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Callback {
            url,
            rx,
            fail_first,
            _server: server,
        }
    }

    pub fn fail_next(&self, n: u32) {
        *self.fail_first.lock().unwrap() = n;
    }

    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("a notification arrives")
            .expect("open")
    }

    /// The next `n` notifications.
    pub async fn take(&mut self, n: usize) -> Vec<Received> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(self.next().await);
        }
        v
    }

    /// Nothing else has arrived (checked after the emulator has logged all deliveries).
    pub fn assert_empty(&mut self) {
        if let Ok(r) = self.rx.try_recv() {
            panic!("unexpected notification: {}", r.body);
        }
    }
}

/// A bare Graph client over reqwest.
pub struct Graph {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Graph {
    pub async fn new(em: &Emulator, version: &str) -> Graph {
        let token = token(em, TENANT, APP_ID, "secret").await;
        Graph {
            http: reqwest::Client::new(),
            base: em
                .base_url(match version {
                    "beta" => ApiVersion::Beta,
                    _ => ApiVersion::V1,
                })
                .to_string(),
            token: Some(token),
        }
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> Resp {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON answer")
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, body: &str) -> Resp {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn transfer(&self, call_id: &str, body: &str) -> Resp {
        self.post(&format!("/communications/calls/{call_id}/transfer"), body)
            .await
    }
}

/// Gets a token from the token endpoint with a client secret.
pub async fn token(em: &Emulator, tenant: &str, client_id: &str, secret: &str) -> String {
    let resp = token_request(
        em,
        tenant,
        &[("client_id", client_id), ("client_secret", secret)],
    )
    .await;
    assert_eq!(resp.0, 200, "{}", resp.1);
    resp.1["access_token"].as_str().unwrap().to_owned()
}

/// POSTs a client-credentials form (grant_type and scope added) and returns status and body.
pub async fn token_request(em: &Emulator, tenant: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "client_credentials"),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    form.extend_from_slice(fields);
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&");
    let resp = reqwest::Client::new()
        .post(em.token_url(tenant))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap(),
    )
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A peer transfer body (Example 1 of the spec page).
pub const PEER_BODY: &str = r#"{"transferTarget":{"endpointType":"default","identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","displayName":"Heidi Steen"}},"languageId":"languageId-value","region":"region-value"}}"#;

/// A consultative transfer body (Example 2).
pub const CONSULTATIVE_BODY: &str = r##"{"transferTarget":{"@odata.type":"#microsoft.graph.invitationParticipantInfo","endpointType":"default","identity":{"@odata.type":"#microsoft.graph.identitySet","user":{"@odata.type":"#microsoft.graph.identity","id":"550fae72-d251-43ec-868c-373732c2704f","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","displayName":"Heidi Steen"}},"languageId":"en-us","region":"amer","replacesCallId":"e5d39592-99bd-4db8-bca8-30fb894ec51d"}}"##;

/// Places an auto-answered call at `cb` (with `script`, else the default) and consumes its
/// `establishing` and `established`.
pub async fn established(em: &Emulator, cb: &mut Callback, script: Script) -> PlacedCall {
    let placed = em
        .place_call(PlaceCall::new(&cb.url).with_script(script))
        .expect("a placed call");
    let first = cb.take(2).await;
    assert_eq!(
        first.iter().map(Received::state).collect::<Vec<_>>(),
        ["establishing", "established"]
    );
    placed
}

/// The status of a v1.0 transfer of `call_id` with `body`.
pub async fn transfer_status(em: &Emulator, call_id: &str, body: &str) -> u16 {
    Graph::new(em, "v1.0")
        .await
        .transfer(call_id, body)
        .await
        .status
}
