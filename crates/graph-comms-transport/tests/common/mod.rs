//! Test helpers: a recording Graph-like server on 127.0.0.1, raw TCP servers that misbehave,
//! and a closure mock of the `Transport` trait.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use graph_comms_transport::{HttpRequest, HttpResponse, Transport, TransportError};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The request as JSON for snapshots: method, path, sorted headers, body (JSON or form).
    pub fn to_json(&self) -> Value {
        let mut headers = serde_json::Map::new();
        let mut sorted = self.headers.clone();
        sorted.sort();
        for (k, v) in sorted {
            headers.insert(k, Value::String(v));
        }
        let text = String::from_utf8_lossy(&self.body).into_owned();
        let body = if self.body.is_empty() {
            Value::Null
        } else if let Ok(v) = serde_json::from_slice::<Value>(&self.body) {
            v
        } else if self.header("content-type") == Some("application/x-www-form-urlencoded") {
            let pairs: serde_json::Map<String, Value> =
                url::form_urlencoded::parse(self.body.as_ref())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect();
            Value::Object(pairs)
        } else {
            Value::String(text)
        };
        json!({ "method": self.method, "uri": self.uri, "headers": headers, "body": body })
    }
}

/// A scripted reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Reply {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_owned(), v.into()));
        self
    }
    pub fn body(mut self, b: impl Into<Bytes>) -> Self {
        self.body = b.into();
        self
    }
    /// A 202 with Graph's response headers.
    pub fn accepted() -> Self {
        Self::new(202)
            .header("request-id", "11111111-2222-3333-4444-555555555555")
            .header("date", "Tue, 24 Nov 2026 10:00:00 GMT")
    }
    pub fn graph_error(status: u16, code: &str, message: &str) -> Self {
        Self::new(status).header("content-type", "application/json").body(
            json!({"error":{"code":code,"message":message,"innerError":{
                "date":"2026-11-24T10:00:00","request-id":"rid-from-body","client-request-id":"crid-from-body"}}})
            .to_string(),
        )
    }
}

/// What the token endpoint does.
#[derive(Clone, Debug)]
pub struct TokenBehaviour {
    pub delay: Duration,
    pub expires_in: Value,
    /// When set, the endpoint answers with this instead of a token.
    pub error: Option<Reply>,
}

impl Default for TokenBehaviour {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            expires_in: json!(3599),
            error: None,
        }
    }
}

#[derive(Default)]
pub struct ServerState {
    pub requests: Mutex<Vec<Recorded>>,
    pub token_requests: Mutex<Vec<(String, Recorded)>>,
    pub script: Mutex<VecDeque<Reply>>,
    pub fallback: Mutex<Option<Reply>>,
    pub token: Mutex<TokenBehaviour>,
    pub tokens_issued: AtomicUsize,
}

/// A Graph-like server: `POST /{tenant}/oauth2/v2.0/token` issues tokens, everything else is
/// recorded and answered from the script (then the fallback, else 202).
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<ServerState>,
}

async fn record(req: Request) -> Recorded {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    Recorded {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.to_str().unwrap_or("<non-ascii>").to_owned(),
                )
            })
            .collect(),
        body,
    }
}

fn respond(reply: Reply) -> Response {
    let mut b = Response::builder().status(reply.status);
    for (k, v) in reply.headers {
        b = b.header(k, v);
    }
    b.body(Body::from(reply.body)).unwrap()
}

async fn token_handler(
    State(s): State<Arc<ServerState>>,
    Path(tenant): Path<String>,
    req: Request,
) -> Response {
    let rec = record(req).await;
    s.token_requests.lock().unwrap().push((tenant.clone(), rec));
    let behaviour = s.token.lock().unwrap().clone();
    if !behaviour.delay.is_zero() {
        tokio::time::sleep(behaviour.delay).await;
    }
    if let Some(reply) = behaviour.error {
        return respond(reply);
    }
    let n = s.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    respond(Reply::new(200).header("content-type", "application/json").body(
        json!({"token_type":"Bearer","expires_in":behaviour.expires_in,"access_token":format!("token-{tenant}-{n}")})
            .to_string(),
    ))
}

async fn any_handler(State(s): State<Arc<ServerState>>, req: Request) -> Response {
    let rec = record(req).await;
    s.requests.lock().unwrap().push(rec);
    let next = s.script.lock().unwrap().pop_front();
    let reply = next
        .or_else(|| s.fallback.lock().unwrap().clone())
        .unwrap_or_else(Reply::accepted);
    respond(reply)
}

impl TestServer {
    pub async fn start() -> Self {
        let state = Arc::new(ServerState::default());
        let app = Router::new()
            .route(
                "/{tenant}/oauth2/v2.0/token",
                axum::routing::post(token_handler),
            )
            .fallback(any_handler)
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    pub fn root(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn base(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    pub fn fallback(&self, reply: Reply) {
        *self.state.fallback.lock().unwrap() = Some(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn token_requests(&self) -> Vec<(String, Recorded)> {
        self.state.token_requests.lock().unwrap().clone()
    }
}

/// What a raw TCP server does once it has read a whole request.
#[derive(Clone, Copy, Debug)]
pub enum Misbehave {
    /// Closes the connection without answering.
    Drop,
    /// Keeps the connection open and never answers.
    Hang,
}

/// A TCP server that reads each request (headers and `Content-Length` body) then misbehaves;
/// counts the requests it read.
pub async fn raw_server(how: Misbehave) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        for _ in 0..100 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let c = c.clone();
            tokio::spawn(async move { serve_raw(stream, how, c).await });
        }
    });
    (addr, count)
}

async fn serve_raw(mut stream: TcpStream, how: Misbehave, count: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    for _ in 0..1000 {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    count.fetch_add(1, Ordering::SeqCst);
    match how {
        Misbehave::Drop => {
            let _ = stream.shutdown().await;
            drop(stream);
        }
        Misbehave::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

type BoxFut = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send>>;
type Handler = Box<dyn Fn(usize, &HttpRequest) -> BoxFut + Send + Sync>;

/// A closure mock of the `Transport` trait; records every request it is given.
pub struct MockTransport {
    handler: Handler,
    pub seen: Mutex<Vec<HttpRequest>>,
    /// tokio time (since the mock was made) at which each request arrived.
    pub at: Mutex<Vec<Duration>>,
    start: tokio::time::Instant,
}

impl std::fmt::Debug for MockTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockTransport")
    }
}

impl MockTransport {
    /// `handler(n, request)` answers the n-th (0-based) request.
    pub fn new<F, Fut>(handler: F) -> Arc<Self>
    where
        F: Fn(usize, &HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HttpResponse, TransportError>> + Send + 'static,
    {
        Arc::new(Self {
            handler: Box::new(move |n, r| Box::pin(handler(n, r))),
            seen: Mutex::new(Vec::new()),
            at: Mutex::new(Vec::new()),
            start: tokio::time::Instant::now(),
        })
    }

    /// Answers the n-th request with `replies[n]` (the last one repeated).
    pub fn replies(replies: Vec<Result<HttpResponse, TransportErrorSpec>>) -> Arc<Self> {
        Self::new(move |n, _| {
            let r = replies[n.min(replies.len() - 1)].clone();
            async move { r.map_err(|(k, m)| TransportError::new(k, m)) }
        })
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Delays between consecutive requests.
    pub fn gaps(&self) -> Vec<Duration> {
        let at = self.at.lock().unwrap();
        at.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

pub type TransportErrorSpec = (graph_comms_transport::TransportErrorKind, &'static str);

#[async_trait]
impl Transport for MockTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let n = {
            let mut seen = self.seen.lock().unwrap();
            seen.push(request.clone());
            self.at.lock().unwrap().push(self.start.elapsed());
            seen.len() - 1
        };
        (self.handler)(n, &request).await
    }
}

/// A raw response for mocks.
pub fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    HttpResponse {
        status: http::StatusCode::from_u16(status).unwrap(),
        headers: map,
        body: Bytes::from(body.to_owned()),
    }
}

/// The five seed transfer bodies of the spec (example 5 as corrected in the fixtures).
pub fn seed_bodies() -> Vec<(String, graph_comms_model::TransferRequestBody)> {
    let dir = graph_comms_testkit::fixtures_dir()
        .join("spec")
        .join("requests");
    (1..=5)
        .map(|n| {
            let name = format!("ex{n}-request.json");
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect()
}
