//! Runs N callbacks through a router in process (no sockets), for instruction counts that do not
//! depend on machine load (the `ingest` bench's wall-clock figures do):
//!
//! ```text
//! cargo build --release -p graph-comms-receiver --example ingest_cost
//! valgrind --tool=callgrind target/release/examples/ingest_cost receiver 10000
//! valgrind --tool=callgrind target/release/examples/ingest_cost receiver 0
//! ```
//!
//! The difference of the two totals divided by N is the cost of one callback. Routers: `receiver`
//! (one reused token: the cached path), `fresh` (a new token per callback: N must be small, the
//! tokens are minted up front), `minted` (as `fresh` but every callback reuses the first token:
//! subtract it from `fresh` to remove the minting), `bare` (an axum handler answering 202 without
//! reading the body).
//! Keys come from an in-memory transport double, so nothing touches the network.

use std::sync::Arc;

use axum::body::Body;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use graph_comms_receiver::{AuthConfig, Receiver};
use graph_comms_transport::{HttpRequest, HttpResponse, Transport, TransportError};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use tower::ServiceExt;

const APP_ID: &str = "8a4a2bbb-1e5b-4c25-b5b8-0c0d8e0f1a2b";
const BODY: &str = r##"{"value":[{"@odata.type":"#microsoft.graph.commsNotification","changeType":"updated","resourceUrl":"/communications/calls/421f1100-f5ef-4f3e-bd2d-4f6ec2c4d8b4","resourceData":{"@odata.type":"#microsoft.graph.call","state":"transferring"}}]}"##;

#[derive(Debug)]
struct Keys(serde_json::Value);

#[async_trait::async_trait]
impl Transport for Keys {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let body = if request.url.path().ends_with("OpenIdConfiguration") {
            serde_json::json!({"jwks_uri": "https://keys.invalid/v1/keys"})
        } else {
            serde_json::json!({ "keys": [self.0.clone()] })
        };
        Ok(HttpResponse {
            status: http::StatusCode::OK,
            headers: http::HeaderMap::new(),
            body: body.to_string().into(),
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "receiver".into());
    let n: usize = args.next().map_or(Ok(10_000), |s| s.parse())?;

    // A seeded key: the prime search then costs the same in every run, so it cancels out.
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7);
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048)?;
    let public = key.to_public_key();
    let jwk = serde_json::json!({
        "kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    });
    let encoding = EncodingKey::from_rsa_der(key.to_pkcs1_der()?.as_bytes());
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k1".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let mint = |jti: usize| {
        let claims = serde_json::json!({
            "iss": "https://api.botframework.com", "aud": APP_ID, "tid": "t",
            "iat": now, "nbf": now, "exp": now + 3600, "jti": jti,
        });
        jsonwebtoken::encode(&header, &claims, &encoding)
    };
    let tokens: Vec<String> = if which == "fresh" || which == "minted" {
        (0..n + 1).map(mint).collect::<Result<_, _>>()?
    } else {
        vec![mint(0)?]
    };

    let config = AuthConfig::new(APP_ID)
        .with_openid_config_url("https://keys.invalid/v1/.well-known/OpenIdConfiguration")
        .with_transport(Arc::new(Keys(jwk)));
    let receiver = Receiver::new(config)?;
    let router = match which.as_str() {
        "bare" => axum::Router::new().route(
            "/api/calls",
            axum::routing::post(|| async { http::StatusCode::ACCEPTED }),
        ),
        _ => receiver.router(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        receiver.authenticator().refresh_keys().await?;
        // One call outside the count: the first verification of the reused token.
        let call = |token: &str| {
            http::Request::post("/api/calls")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .header("content-length", BODY.len())
                .body(Body::from(BODY))
        };
        let warm = router.clone().oneshot(call(&tokens[0])?).await?;
        if warm.status() != http::StatusCode::ACCEPTED {
            return Err(format!("warm-up answered {}", warm.status()).into());
        }
        for i in 0..n {
            let token = match which.as_str() {
                "fresh" => &tokens[1 + i],
                _ => &tokens[0],
            };
            let response = router.clone().oneshot(call(token)?).await?;
            if response.status() != http::StatusCode::ACCEPTED {
                return Err(format!("callback {i} answered {}", response.status()).into());
            }
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
