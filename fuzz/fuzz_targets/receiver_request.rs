//! Fuzz target: any request through the webhook receiver's axum router, with no sockets.
//!
//! The first byte of the input picks the headers, the rest is the body:
//! - bits 0..=2, the `Authorization` header: a valid RS256 token (0 and 7), a token taken from
//!   the body up to its first newline (1), none (2), a genuine token for another app (3), an
//!   expired token (4), a `Basic` scheme (5), a token signed by an unpublished key (6);
//! - bits 3..=4, the `Content-Type`: `application/json` (0), with a charset (1), `text/plain`
//!   (2), none (3);
//! - bit 5: a `Content-Length` header that lies (one more than the body);
//! - bit 6: a receiver whose body limit is [`SMALL_LIMIT`] bytes instead of 1 MiB, so that the
//!   413 paths (declared length, then while reading) are reached.
//!
//! So a selector byte of 0 sends the body as Graph would. The signing keys are served from
//! memory by a [`Transport`] given to the [`AuthConfig`], so valid tokens reach the decoder.
//!
//! Checks, besides "no panic": the status is one the receiver documents (never a 5xx); it is the
//! one the headers call for (401 for no, an expired, an unpublished or a `Basic` token, 403 for
//! another app's, 415 for a valid token with the wrong content type); with a valid token and
//! JSON it is 202 exactly when [`graph_comms_notify::decode`] reads the body into at most
//! [`MAX_NOTIFICATIONS`] events, 413 when it reads more, else 400 (or 413 when the receiver's
//! count before decoding finds more than the limit: then the body has at least that many commas);
//! and a request answered anything but 202 applies nothing to the tracker.
#![no_main]

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use axum::body::Body;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use graph_comms_receiver::{AuthConfig, Receiver};
use graph_comms_transport::{HttpRequest, HttpResponse, Transport, TransportError};
use http::{header, HeaderValue, Method, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use tower::ServiceExt;

const APP_ID: &str = "8a4a2bbb-1e5b-4c25-b5b8-0c0d8e0f1a2b";
const OPENID: &str = "http://keys.invalid/v1/.well-known/OpenIdConfiguration";
const JWKS: &str = "http://keys.invalid/v1/keys";
const PATH: &str = "/api/calls";

/// Serves the OpenID configuration and the JWKS from memory.
#[derive(Debug)]
struct MemoryKeys {
    jwks: Vec<u8>,
}

#[async_trait]
impl Transport for MemoryKeys {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (status, body) = match request.url.as_str() {
            OPENID => (
                StatusCode::OK,
                serde_json::json!({
                    "issuer": "https://api.botframework.com",
                    "jwks_uri": JWKS,
                    "id_token_signing_alg_values_supported": ["RS256"],
                })
                .to_string()
                .into_bytes(),
            ),
            JWKS => (StatusCode::OK, self.jwks.clone()),
            _ => (StatusCode::NOT_FOUND, Vec::new()),
        };
        Ok(HttpResponse {
            status,
            headers: http::HeaderMap::new(),
            body: body.into(),
        })
    }
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    /// The default receiver, and one with a body limit of [`SMALL_LIMIT`].
    receivers: [(Receiver, Router); 2],
    valid: String,
    other_app: String,
    expired: String,
    unpublished: String,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn claims(aud: &str, exp: u64) -> serde_json::Value {
    serde_json::json!({
        "iss": "https://api.botframework.com",
        "aud": aud,
        "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "nbf": now() - 5,
        "exp": exp,
    })
}

fn sign(key: &EncodingKey, kid: &str, claims: &serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("signing")
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rand::thread_rng();
        let private = RsaPrivateKey::new(&mut rng, 2048).expect("RSA key");
        let unpublished = RsaPrivateKey::new(&mut rng, 2048).expect("RSA key");
        let encoding = |k: &RsaPrivateKey| {
            EncodingKey::from_rsa_der(k.to_pkcs1_der().expect("DER").as_bytes())
        };
        let (key, other) = (encoding(&private), encoding(&unpublished));
        let public = private.to_public_key();
        let jwks = serde_json::json!({"keys": [{
            "kty": "RSA", "use": "sig", "kid": "fuzz-key", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }]});
        let config = AuthConfig::new(APP_ID)
            .with_openid_config_url(OPENID)
            .with_transport(Arc::new(MemoryKeys {
                jwks: jwks.to_string().into_bytes(),
            }));
        let small = Receiver::builder(config.clone())
            .max_body_bytes(SMALL_LIMIT)
            .build()
            .expect("receiver");
        let receiver = Receiver::new(config).expect("receiver");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        runtime
            .block_on(receiver.authenticator().refresh_keys())
            .expect("keys from memory");
        runtime
            .block_on(small.authenticator().refresh_keys())
            .expect("keys from memory");
        let hour = now() + 3600;
        Fixture {
            receivers: [
                (receiver.clone(), receiver.router()),
                (small.clone(), small.router()),
            ],
            valid: sign(&key, "fuzz-key", &claims(APP_ID, hour)),
            other_app: sign(&key, "fuzz-key", &claims("another-app", hour)),
            expired: sign(&key, "fuzz-key", &claims(APP_ID, now() - 3600)),
            unpublished: sign(&other, "fuzz-key", &claims(APP_ID, hour)),
            runtime,
        }
    })
}

/// The body limit of the second receiver.
const SMALL_LIMIT: usize = 1024;

const ALLOWED: [u16; 7] = [202, 400, 401, 403, 408, 413, 415];

/// The receivers' limit on notifications per body (the default).
const MAX_NOTIFICATIONS: usize = graph_comms_receiver::DEFAULT_MAX_NOTIFICATIONS;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut body)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let mut request = Request::builder().method(Method::POST).uri(PATH);
    let bearer = |t: &str| format!("Bearer {t}");
    let token = selector & 0b111;
    let content_type = (selector >> 3) & 0b11;
    let authorization = match token {
        1 => {
            let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
            let (token, rest) = body.split_at(end);
            body = rest.get(1..).unwrap_or_default();
            let mut value = b"Bearer ".to_vec();
            value.extend_from_slice(token);
            HeaderValue::from_bytes(&value).ok()
        }
        2 => None,
        3 => HeaderValue::from_str(&bearer(&f.other_app)).ok(),
        4 => HeaderValue::from_str(&bearer(&f.expired)).ok(),
        5 => Some(HeaderValue::from_static("Basic dXNlcjpwYXNz")),
        6 => HeaderValue::from_str(&bearer(&f.unpublished)).ok(),
        _ => HeaderValue::from_str(&bearer(&f.valid)).ok(),
    };
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    match content_type {
        0 => request = request.header(header::CONTENT_TYPE, "application/json"),
        1 => request = request.header(header::CONTENT_TYPE, "application/json; charset=utf-8"),
        2 => request = request.header(header::CONTENT_TYPE, "text/plain"),
        _ => {}
    }
    let declared = if selector & 0b10_0000 != 0 {
        request = request.header(header::CONTENT_LENGTH, body.len() + 1);
        body.len() + 1
    } else {
        body.len()
    };
    let small = selector & 0b100_0000 != 0;
    let (receiver, router) = &f.receivers[usize::from(small)];
    let limit = if small { SMALL_LIMIT } else { 1024 * 1024 };
    let expected = match (token, content_type) {
        // A token cut from the input: libFuzzer's comparison hooks may well rebuild a valid one.
        (1, _) => None,
        (2 | 4 | 5 | 6, _) => Some(401),
        (3, _) => Some(403),
        (_, 2 | 3) => Some(415),
        _ if declared > limit => Some(413),
        _ => Some(match graph_comms_notify::decode(body) {
            Ok(events) if events.len() > MAX_NOTIFICATIONS => 413,
            Ok(_) => 202,
            Err(_) => 400,
        }),
    };
    let request = request
        .body(Body::from(body.to_vec()))
        .expect("a well-formed request");

    let before = receiver.tracker().stats().applied;
    let too_many_before = receiver.stats().too_many_notifications;
    let response = f
        .runtime
        .block_on(router.clone().oneshot(request))
        .expect("the router is infallible");
    let status = response.status().as_u16();
    assert!(ALLOWED.contains(&status), "status {status}");
    if receiver.stats().too_many_notifications > too_many_before {
        // Refused by the count before decoding: more elements than the limit need as many commas.
        assert_eq!(status, 413, "selector {selector:#04x}");
        let commas = body.iter().filter(|b| **b == b',').count();
        assert!(commas >= MAX_NOTIFICATIONS, "413 for {commas} commas");
    } else if let Some(expected) = expected {
        assert_eq!(status, expected, "selector {selector:#04x}");
    }
    if status != 202 {
        assert_eq!(
            receiver.tracker().stats().applied,
            before,
            "a rejected request reached the tracker"
        );
    }
});
