//! Test helpers: an RSA signing key, token minting (honest and forged), a JWKS server and a
//! minimal keep-alive HTTP/1.1 client, all on 127.0.0.1.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::RsaPrivateKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const APP_ID: &str = "8a4a2bbb-1e5b-4c25-b5b8-0c0d8e0f1a2b";
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const ISSUER: &str = "https://api.botframework.com";

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An RSA key pair with a `kid`.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub private: RsaPrivateKey,
    encoding: EncodingKey,
}

impl SigningKey {
    /// A fresh 2048-bit key.
    pub fn generate(kid: &str) -> Self {
        let private = graph_comms_testkit::rsa_key();
        let der = private.to_pkcs1_der().expect("PKCS#1 DER");
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        Self {
            kid: kid.to_owned(),
            private,
            encoding,
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> serde_json::Value {
        graph_comms_testkit::rsa_jwk(&self.private, &self.kid)
    }

    /// The public key in PKCS#1 PEM, as an attacker would find it.
    pub fn public_pem(&self) -> String {
        self.private
            .to_public_key()
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .expect("PEM")
    }

    /// Signs `claims` RS256 with this key and its kid.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signing")
    }

    /// Signs `claims` RS256 with this key but a header naming another kid.
    pub fn sign_with_kid(&self, claims: &serde_json::Value, kid: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signing")
    }
}

/// The claims a Graph callback token carries, valid for an hour.
pub fn claims(aud: &str) -> serde_json::Value {
    let now = now();
    serde_json::json!({
        "iss": ISSUER,
        "aud": aud,
        "tid": TENANT,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 3600,
    })
}

/// [`claims`] with a `jti` of their own: signed, a token unlike any other, as when every
/// callback carries a fresh one.
pub fn claims_with_jti(aud: &str, jti: impl Into<serde_json::Value>) -> serde_json::Value {
    let mut claims = claims(aud);
    claims["jti"] = jti.into();
    claims
}

/// An unsigned token (`alg: none`).
pub fn unsigned_token(kid: &str, claims: &serde_json::Value) -> String {
    let header = serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// An HS256 token whose HMAC secret is `secret` (the public key, in the classic confusion).
pub fn hs256_token(kid: &str, claims: &serde_json::Value, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("HS256")
}

/// A server publishing an OpenID configuration and a JWKS; the key list can change.
pub struct KeyServer {
    pub addr: SocketAddr,
    pub keys: Arc<Mutex<Vec<serde_json::Value>>>,
    pub jwks_fetches: Arc<AtomicUsize>,
}

impl KeyServer {
    pub async fn start(keys: Vec<serde_json::Value>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let keys = Arc::new(Mutex::new(keys));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let root = format!("http://{addr}");
        let config = serde_json::json!({
            "issuer": ISSUER,
            "jwks_uri": format!("{root}/v1/keys"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        });
        let (k, f) = (keys.clone(), jwks_fetches.clone());
        let router = Router::new()
            .route(
                "/v1/.well-known/OpenIdConfiguration",
                get(move || async move { axum::Json(config) }),
            )
            .route(
                "/v1/keys",
                get(move || async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let keys = k.lock().expect("keys").clone();
                    axum::Json(serde_json::json!({ "keys": keys }))
                }),
            )
            .fallback(|uri: http::Uri| async move {
                // Fails loudly: the receiver sees a 500 and the test fails on it.
                eprintln!("unexpected request to the key server: {uri}");
                (
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "unexpected request",
                )
            });
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            addr,
            keys,
            jwks_fetches,
        }
    }

    pub fn openid_url(&self) -> String {
        format!("http://{}/v1/.well-known/OpenIdConfiguration", self.addr)
    }

    pub fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

/// A response read by [`RawClient`].
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal keep-alive HTTP/1.1 client: one request at a time on one connection.
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Writes raw bytes (for hand-made requests).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Sends `POST path` with these headers and body and reads the response.
    pub async fn post(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<RawResponse> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(name);
            request.push_str(": ");
            request.push_str(value);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.stream.write_all(&bytes).await?;
        self.read_response().await
    }

    /// Reads one response (headers, then a Content-Length body).
    pub async fn read_response(&mut self) -> std::io::Result<RawResponse> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
                let status: u16 = status_line
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("bad status line"))?;
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let total = end + 4 + len;
                while self.buf.len() < total {
                    self.fill().await?;
                }
                let body = self.buf[end + 4..total].to_vec();
                self.buf.drain(..total);
                return Ok(RawResponse {
                    status,
                    headers,
                    body,
                });
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A commsNotifications body with one call notification in `state`.
pub fn notification(call_id: &str, state: &str) -> String {
    serde_json::json!({
        "value": [{
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": "updated",
            "resourceUrl": format!("/communications/calls/{call_id}"),
            "resourceData": {
                "@odata.type": "#microsoft.graph.call",
                "state": state,
            }
        }]
    })
    .to_string()
}

/// The callbacks of `calls` transfers, one notification each, cycling through a transfer's
/// states (`transferring`, `transferAccepted`, completed 0/7015): what the ingest bench and
/// `examples/ingest_cost.rs` send.
pub fn transfer_notifications(calls: usize) -> Vec<String> {
    (0..calls)
        .map(|i| {
            let call = format!("7a1f{i:04}-0000-4000-8000-{i:012}");
            match i % 3 {
                0 => notification(&call, "transferring"),
                1 => notification(&call, "transferAccepted"),
                _ => completed(&call),
            }
        })
        .collect()
}

/// The final notification of a successful transfer.
pub fn completed(call_id: &str) -> String {
    serde_json::json!({
        "value": [{
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": "deleted",
            "resourceUrl": format!("/communications/calls/{call_id}"),
            "resourceData": {
                "@odata.type": "#microsoft.graph.call",
                "state": "terminated",
                "resultInfo": {"@odata.type": "#microsoft.graph.resultInfo", "code": 0, "subcode": 7015, "message": "GracefulTransferCompleted"}
            }
        }]
    })
    .to_string()
}

/// The notification of a failed transfer (back to established with 500/7700).
pub fn failed(call_id: &str) -> String {
    serde_json::json!({
        "value": [{
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": "updated",
            "resourceUrl": format!("/communications/calls/{call_id}"),
            "resourceData": {
                "@odata.type": "#microsoft.graph.call",
                "state": "established",
                "resultInfo": {"@odata.type": "#microsoft.graph.resultInfo", "code": 500, "subcode": 7700, "message": "Call transfer failed"},
                "replacesContext": "replaced-context"
            }
        }]
    })
    .to_string()
}

/// One signing key per test binary (RSA key generation is the slow part of these tests).
pub fn key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate("test-key-1"))
}

/// A second key, unknown to the key server unless added.
pub fn other_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate("test-key-2"))
}

/// Serves `receiver` on 127.0.0.1 with the crate's server loop.
pub async fn start(receiver: &graph_comms_receiver::Receiver) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = receiver.router();
    tokio::spawn(
        async move { graph_comms_receiver::serve(listener, router, Default::default()).await },
    );
    addr
}

/// Headers of an honest callback.
pub fn auth_headers(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Authorization", format!("Bearer {token}")),
        ("Content-Type", "application/json".to_owned()),
    ]
}

/// Posts `body` to `addr` `path` on a fresh connection with `headers`.
pub async fn post_once(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> RawResponse {
    let mut client = RawClient::connect(addr).await.expect("connect");
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    client.post(path, &headers, body).await.expect("response")
}

/// A roster update for the call (not about the transfer).
pub fn roster(call_id: &str) -> String {
    serde_json::json!({
        "value": [{
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": "updated",
            "resourceUrl": format!("/communications/calls/{call_id}/participants"),
            "resourceData": [{
                "@odata.type": "#microsoft.graph.participant",
                "id": "b1e6a3ff-0000-4000-8000-000000000001",
                "info": {"identity": {"user": {"id": "u1", "displayName": "Caller"}}},
                "isInLobby": false
            }]
        }]
    })
    .to_string()
}

/// A transfer ended by `terminationReason: AppTransferred` (legacy string codes too).
pub fn app_transferred(call_id: &str) -> String {
    serde_json::json!({
        "value": [{
            "changeType": "deleted",
            "resourceUrl": format!("/communications/calls/{call_id}"),
            "resourceData": {
                "@odata.type": "#microsoft.graph.call",
                "state": "terminated",
                "terminationReason": "AppTransferred",
                "resultInfo": {"code": "200", "subCode": "5000"}
            }
        }]
    })
    .to_string()
}

/// The call ended without a transfer code (the caller hung up mid-transfer).
pub fn hung_up(call_id: &str) -> String {
    serde_json::json!({
        "value": [{
            "changeType": "deleted",
            "resourceUrl": format!("/communications/calls/{call_id}"),
            "resourceData": {
                "@odata.type": "#microsoft.graph.call",
                "state": "terminated",
                "resultInfo": {"code": 0, "subcode": 5010, "message": "The call was ended by the remote party."}
            }
        }]
    })
    .to_string()
}

/// What a recording handler saw: how many deliveries, and each one's tenant.
#[derive(Clone, Default)]
pub struct Recorder {
    pub deliveries: Arc<AtomicUsize>,
    pub tenants: Arc<Mutex<Vec<Option<String>>>>,
}

impl Recorder {
    /// A `NotificationHandler` that records into this recorder.
    pub fn handler(&self) -> impl Fn(&graph_comms_receiver::Delivery<'_>) + Send + Sync + 'static {
        let recorder = self.clone();
        move |delivery: &graph_comms_receiver::Delivery<'_>| {
            recorder.deliveries.fetch_add(1, Ordering::SeqCst);
            recorder
                .tenants
                .lock()
                .expect("tenants")
                .push(delivery.tenant_id().map(str::to_owned));
        }
    }
}
