//! End-to-end authentication tests over 127.0.0.1: one test per attack, plus the honest paths.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use graph_comms_receiver::{AuthConfig, Receiver};
use support::*;

const PATH: &str = "/api/calls";

struct Setup {
    keys: KeyServer,
    receiver: Receiver,
    addr: std::net::SocketAddr,
    deliveries: Arc<AtomicUsize>,
    tenants: Arc<Mutex<Vec<Option<String>>>>,
}

async fn setup_with(configure: impl FnOnce(AuthConfig) -> AuthConfig) -> Setup {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let config = configure(AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url()));
    let recorder = Recorder::default();
    let receiver = Receiver::builder(config)
        .handler(recorder.handler())
        .build()
        .expect("receiver");
    let addr = start(&receiver).await;
    Setup {
        keys,
        receiver,
        addr,
        deliveries: recorder.deliveries,
        tenants: recorder.tenants,
    }
}

async fn setup() -> Setup {
    setup_with(|c| c).await
}

impl Setup {
    async fn post_token(&self, token: &str) -> RawResponse {
        let body = notification("call-1", "transferring");
        post_once(self.addr, PATH, &auth_headers(token), body.as_bytes()).await
    }

    /// Asserts a rejection with this status and error code, and that nothing got through.
    async fn check_rejected(&self, token: &str, status: u16, code: &str) {
        let response = self.post_token(token).await;
        assert_eq!(response.status, status, "{}", response.body_text());
        let body: serde_json::Value =
            serde_json::from_slice(&response.body).expect("JSON error body");
        assert_eq!(body["error"]["code"], code, "{body}");
        self.check_nothing_delivered();
    }

    fn check_nothing_delivered(&self) {
        assert_eq!(self.deliveries.load(Ordering::SeqCst), 0);
        let stats = self.receiver.stats();
        assert_eq!(stats.accepted, 0);
        assert_eq!(stats.events, 0);
    }
}

#[tokio::test]
async fn an_honest_token_is_accepted_and_its_tenant_reaches_the_handler() {
    let s = setup().await;
    let response = s.post_token(&key().sign(&claims(APP_ID))).await;
    assert_eq!(response.status, 202, "{}", response.body_text());
    assert_eq!(s.deliveries.load(Ordering::SeqCst), 1);
    assert_eq!(
        *s.tenants.lock().expect("tenants"),
        vec![Some(TENANT.to_owned())]
    );
    assert_eq!(s.receiver.stats().accepted, 1);
}

#[tokio::test]
async fn the_graph_issuer_is_accepted_too_and_issuers_are_configurable() {
    let s = setup().await;
    let mut c = claims(APP_ID);
    c["iss"] = "https://graph.microsoft.com".into();
    assert_eq!(s.post_token(&key().sign(&c)).await.status, 202);

    let s = setup_with(|c| c.with_issuers(["https://sts.example.gov"])).await;
    s.check_rejected(&key().sign(&claims(APP_ID)), 401, "wrong_issuer")
        .await;
    let mut c = claims(APP_ID);
    c["iss"] = "https://sts.example.gov".into();
    assert_eq!(s.post_token(&key().sign(&c)).await.status, 202);
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let s = setup().await;
    let token = unsigned_token(&key().kid, &claims(APP_ID));
    s.check_rejected(&token, 401, "unsupported_algorithm").await;
    // Spelled differently, with a signature part that is not empty.
    let token = format!("{}sig", unsigned_token(&key().kid, &claims(APP_ID)));
    s.check_rejected(&token, 401, "unsupported_algorithm").await;
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_rejected() {
    let s = setup().await;
    let c = claims(APP_ID);
    let pem = key().public_pem();
    let jwk = key().jwk();
    let secrets: Vec<Vec<u8>> = vec![
        pem.clone().into_bytes(),
        pem.trim_end().as_bytes().to_vec(),
        jwk.to_string().into_bytes(),
        jwk["n"].as_str().unwrap_or_default().as_bytes().to_vec(),
    ];
    for secret in secrets {
        let token = hs256_token(&key().kid, &c, &secret);
        s.check_rejected(&token, 401, "unsupported_algorithm").await;
    }
}

#[tokio::test]
async fn a_token_for_another_app_is_forbidden() {
    let s = setup().await;
    let token = key().sign(&claims("00000000-0000-0000-0000-000000000001"));
    s.check_rejected(&token, 403, "wrong_audience").await;
    assert_eq!(s.receiver.stats().forbidden, 1);
}

#[tokio::test]
async fn an_audience_list_containing_our_app_is_accepted() {
    let s = setup().await;
    let mut c = claims(APP_ID);
    c["aud"] = serde_json::json!(["someone-else", APP_ID]);
    assert_eq!(s.post_token(&key().sign(&c)).await.status, 202);
}

#[tokio::test]
async fn a_missing_audience_is_unauthorized() {
    let s = setup().await;
    let mut c = claims(APP_ID);
    c.as_object_mut().map(|o| o.remove("aud"));
    s.check_rejected(&key().sign(&c), 401, "invalid_claim")
        .await;
}

#[tokio::test]
async fn a_wrong_issuer_is_rejected() {
    let s = setup().await;
    let mut c = claims(APP_ID);
    c["iss"] = "https://login.example.com".into();
    s.check_rejected(&key().sign(&c), 401, "wrong_issuer").await;
    c.as_object_mut().map(|o| o.remove("iss"));
    s.check_rejected(&key().sign(&c), 401, "wrong_issuer").await;
}

#[tokio::test]
async fn an_expired_token_is_rejected_but_small_skew_is_tolerated() {
    let s = setup().await;
    let mut c = claims(APP_ID);
    c["nbf"] = (now() - 7200).into();
    c["exp"] = (now() - 3600).into();
    s.check_rejected(&key().sign(&c), 401, "expired").await;
    // Expired by 30 s: within the 5-minute leeway.
    c["exp"] = (now() - 30).into();
    assert_eq!(s.post_token(&key().sign(&c)).await.status, 202);
}

#[tokio::test]
async fn a_token_without_exp_is_rejected() {
    let s = setup().await;
    let mut c = claims(APP_ID);
    c.as_object_mut().map(|o| o.remove("exp"));
    s.check_rejected(&key().sign(&c), 401, "invalid_claim")
        .await;
}

#[tokio::test]
async fn a_token_not_yet_valid_is_rejected() {
    let s = setup().await;
    let mut c = claims(APP_ID);
    c["nbf"] = (now() + 3600).into();
    c["exp"] = (now() + 7200).into();
    s.check_rejected(&key().sign(&c), 401, "not_yet_valid")
        .await;
}

#[tokio::test]
async fn a_bad_signature_is_rejected() {
    let s = setup().await;
    // Signed by another key under our kid.
    let token = other_key().sign_with_kid(&claims(APP_ID), &key().kid);
    s.check_rejected(&token, 401, "bad_signature").await;
    // Claims altered after signing.
    let token = key().sign(&claims("00000000-0000-0000-0000-000000000001"));
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let honest = key().sign(&claims(APP_ID));
    parts[1] = honest.split('.').nth(1).unwrap_or_default().to_owned();
    s.check_rejected(&parts.join("."), 401, "bad_signature")
        .await;
    // One signature character changed.
    let token = key().sign(&claims(APP_ID));
    let at = token.rfind('.').unwrap_or_default() + 10;
    let flipped = if &token[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{}{}", &token[..at], flipped, &token[at + 1..]);
    s.check_rejected(&tampered, 401, "bad_signature").await;
    // Signature cut by one character: 341 base64url characters decode to no byte string.
    s.check_rejected(&token[..token.len() - 1], 401, "malformed_token")
        .await;
}

#[tokio::test]
async fn an_unknown_kid_is_rejected_and_cannot_make_us_hammer_the_key_endpoint() {
    let s = setup_with(|mut c| {
        c.min_refetch_interval = Duration::from_secs(3600);
        c
    })
    .await;
    // First honest request fetches the keys once.
    assert_eq!(s.post_token(&key().sign(&claims(APP_ID))).await.status, 202);
    assert_eq!(s.keys.fetches(), 1);
    s.deliveries.store(0, Ordering::SeqCst);
    let before = s.receiver.stats();
    for i in 0..50 {
        let token = other_key().sign_with_kid(&claims(APP_ID), &format!("forged-{i}"));
        let response = s.post_token(&token).await;
        assert_eq!(response.status, 401);
        let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
        assert_eq!(body["error"]["code"], "unknown_kid");
    }
    assert_eq!(s.keys.fetches(), 1, "forged kids triggered key fetches");
    assert_eq!(s.deliveries.load(Ordering::SeqCst), 0);
    assert_eq!(s.receiver.stats().accepted, before.accepted);
}

#[tokio::test]
async fn an_unknown_kid_triggers_one_refetch_that_finds_a_rotated_key() {
    let s = setup_with(|mut c| {
        c.min_refetch_interval = Duration::ZERO;
        c
    })
    .await;
    assert_eq!(s.post_token(&key().sign(&claims(APP_ID))).await.status, 202);
    assert_eq!(s.keys.fetches(), 1);
    // Rotation: the new key is published after our first fetch.
    s.keys.keys.lock().expect("keys").push(other_key().jwk());
    let response = s.post_token(&other_key().sign(&claims(APP_ID))).await;
    assert_eq!(response.status, 202, "{}", response.body_text());
    assert_eq!(s.keys.fetches(), 2);
}

#[tokio::test]
async fn a_missing_or_non_bearer_token_is_rejected() {
    let s = setup().await;
    let body = notification("call-1", "transferring");
    let headers = [("Content-Type", "application/json".to_owned())];
    let response = post_once(s.addr, PATH, &headers, body.as_bytes()).await;
    assert_eq!(response.status, 401);
    assert!(response
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Bearer")));
    let token = key().sign(&claims(APP_ID));
    for value in [
        format!("Basic {token}"),
        "Bearer".to_owned(),
        "Bearer  ".to_owned(),
        token,
    ] {
        let headers = [
            ("Authorization", value),
            ("Content-Type", "application/json".to_owned()),
        ];
        let response = post_once(s.addr, PATH, &headers, body.as_bytes()).await;
        assert_eq!(response.status, 401, "{}", response.body_text());
    }
    s.check_nothing_delivered();
    assert_eq!(s.receiver.stats().unauthorized, 5);
}

#[tokio::test]
async fn garbage_tokens_are_rejected() {
    let s = setup().await;
    for token in [
        "a.b.c",
        "not-a-jwt",
        "...",
        "eyJhbGciOiJSUzI1NiJ9.e30.",
        "ünïcode.x.y",
    ] {
        let response = s.post_token(token).await;
        assert_eq!(response.status, 401, "{token}: {}", response.body_text());
    }
    let long = "a".repeat(20_000);
    assert_eq!(s.post_token(&long).await.status, 401);
    s.check_nothing_delivered();
}

#[tokio::test]
async fn the_body_of_an_unauthenticated_request_is_never_parsed() {
    let s = setup().await;
    let forged = unsigned_token(&key().kid, &claims(APP_ID));
    // Not JSON, wrong content type, too large: all answered 401, not 400/415/413.
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"{not json".to_vec()),
        ("text/plain", b"hello".to_vec()),
        ("application/json", vec![b' '; 2 * 1024 * 1024]),
    ];
    for (content_type, body) in cases {
        let headers = [
            ("Authorization", format!("Bearer {forged}")),
            ("Content-Type", content_type.to_owned()),
        ];
        let response = post_once(s.addr, PATH, &headers, &body).await;
        assert_eq!(response.status, 401);
    }
    let stats = s.receiver.stats();
    assert_eq!(stats.unauthorized, 3);
    assert_eq!(
        stats.bad_request + stats.unsupported_media_type + stats.payload_too_large,
        0
    );
    s.check_nothing_delivered();
}

#[tokio::test]
async fn a_reused_token_is_verified_once_and_a_fresh_one_each_time() {
    let s = setup().await;
    let token = key().sign(&claims(APP_ID));
    let mut client = RawClient::connect(s.addr).await.expect("connect");
    let body = notification("call-1", "transferring");
    let headers = auth_headers(&token);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    for _ in 0..100 {
        let response = client
            .post(PATH, &headers, body.as_bytes())
            .await
            .expect("post");
        assert_eq!(response.status, 202);
    }
    let stats = s.receiver.authenticator().stats();
    assert_eq!(stats.full_verifications, 1);
    assert_eq!(stats.cache_hits, 99);

    // The cached token's signature on other claims (another tenant) is not the cached token.
    let mut c = claims(APP_ID);
    c["tid"] = "another-tenant".into();
    let other = key().sign(&c);
    let mut parts: Vec<&str> = other.split('.').collect();
    parts[2] = token.split('.').nth(2).unwrap_or_default();
    let spliced = parts.join(".");
    let response = s.post_token(&spliced).await;
    assert_eq!(response.status, 401, "{}", response.body_text());
    assert_eq!(s.receiver.authenticator().stats().full_verifications, 2);

    // A token differing in one claim is a different token: verified on its own.
    let mut c = claims(APP_ID);
    c["iat"] = (now() - 1).into();
    assert_eq!(s.post_token(&key().sign(&c)).await.status, 202);
    assert_eq!(s.receiver.authenticator().stats().full_verifications, 3);
}

#[tokio::test]
async fn failures_are_never_cached_as_success() {
    let s = setup().await;
    let token = key().sign(&claims("another-app"));
    for _ in 0..3 {
        assert_eq!(s.post_token(&token).await.status, 403);
    }
    assert_eq!(s.receiver.authenticator().stats().cache_hits, 0);
    assert_eq!(s.receiver.authenticator().stats().full_verifications, 3);
}

#[tokio::test]
async fn a_withdrawn_key_stops_cached_tokens() {
    let s = setup().await;
    let token = key().sign(&claims(APP_ID));
    assert_eq!(s.post_token(&token).await.status, 202);
    assert_eq!(s.post_token(&token).await.status, 202);
    assert_eq!(s.receiver.authenticator().stats().cache_hits, 1);
    // The key is withdrawn and the receiver refreshes its key set.
    *s.keys.keys.lock().expect("keys") = vec![other_key().jwk()];
    s.receiver
        .authenticator()
        .refresh_keys()
        .await
        .expect("refresh");
    let response = s.post_token(&token).await;
    assert_eq!(response.status, 401, "{}", response.body_text());
}

#[tokio::test]
async fn a_key_replaced_under_the_same_kid_stops_cached_tokens() {
    let s = setup().await;
    let token = key().sign(&claims(APP_ID));
    assert_eq!(s.post_token(&token).await.status, 202);
    assert_eq!(s.post_token(&token).await.status, 202);
    assert_eq!(s.receiver.authenticator().stats().cache_hits, 1);
    // Another key is published under the same kid, and the receiver refreshes its key set.
    let mut replacement = other_key().clone();
    replacement.kid = key().kid.clone();
    *s.keys.keys.lock().expect("keys") = vec![replacement.jwk()];
    s.receiver
        .authenticator()
        .refresh_keys()
        .await
        .expect("refresh");
    assert_eq!(
        s.receiver.authenticator().key_ids(),
        vec![key().kid.clone()]
    );
    // The token verified with the old key is checked again, against the new key, and refused.
    let response = s.post_token(&token).await;
    assert_eq!(response.status, 401, "{}", response.body_text());
    assert_eq!(s.receiver.authenticator().stats().cache_hits, 1);
    // Tokens of the new key are accepted.
    let response = s.post_token(&replacement.sign(&claims(APP_ID))).await;
    assert_eq!(response.status, 202, "{}", response.body_text());
}

#[tokio::test]
async fn unreachable_keys_answer_503_so_graph_retries() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = listener.local_addr().expect("addr");
    drop(listener);
    let config = AuthConfig::new(APP_ID)
        .with_openid_config_url(format!("http://{dead}/v1/.well-known/OpenIdConfiguration"));
    let receiver = Receiver::new(config).expect("receiver");
    let addr = start(&receiver).await;
    let body = notification("call-1", "transferring");
    let token = key().sign(&claims(APP_ID));
    let response = post_once(addr, PATH, &auth_headers(&token), body.as_bytes()).await;
    assert_eq!(response.status, 503, "{}", response.body_text());
    assert_eq!(receiver.stats().accepted, 0);
    // The caller is not authenticated: the body says nothing of the configuration.
    let text = response.body_text();
    assert!(
        !text.contains(&dead.to_string()) && !text.contains("OpenIdConfiguration"),
        "{text}"
    );
    let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(
        body,
        serde_json::json!({"error": {
            "code": "keys_unavailable",
            "message": "the signing keys are unavailable; retry later"
        }})
    );
}

#[tokio::test]
async fn a_bad_configuration_is_an_error_naming_the_field() {
    let error = Receiver::new(AuthConfig::new(" "))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("invalid receiver configuration: app_id: must not be empty")
    );
    let error = Receiver::builder(AuthConfig::new(APP_ID))
        .path("api/calls")
        .build()
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("invalid receiver configuration: path: must start with '/', got \"api/calls\"")
    );
    let error = Receiver::new(AuthConfig::new(APP_ID).with_openid_config_url("ftp://x"))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("invalid receiver configuration: openid_config_url: must be an http(s) URL")
    );
}

#[tokio::test]
async fn stale_keys_are_refreshed_in_the_background() {
    let s = setup_with(|mut c| {
        c.refresh_interval = Duration::ZERO;
        c.min_refetch_interval = Duration::ZERO;
        c
    })
    .await;
    // The first request fetches the keys; the next ones find them stale and refresh them behind
    // the scenes, while still being answered with the keys at hand. (Fresh tokens: a cached
    // token needs no key at all.)
    for i in 0..50 {
        let mut c = claims(APP_ID);
        c["jti"] = i.into();
        assert_eq!(s.post_token(&key().sign(&c)).await.status, 202);
        if s.keys.fetches() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(s.keys.fetches() >= 2, "no background refresh");
}

/// A transport double: answers the OpenID configuration and the JWKS from memory.
#[derive(Debug, Default)]
struct CannedKeys {
    urls: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl graph_comms_transport::Transport for CannedKeys {
    async fn send(
        &self,
        request: graph_comms_transport::HttpRequest,
    ) -> Result<graph_comms_transport::HttpResponse, graph_comms_transport::TransportError> {
        let url = request.url.to_string();
        self.urls.lock().expect("urls").push(url.clone());
        let body = if url.ends_with("/OpenIdConfiguration") {
            serde_json::json!({"issuer": ISSUER, "jwks_uri": "https://keys.invalid/v1/keys"})
        } else {
            serde_json::json!({"keys": [key().jwk()]})
        };
        Ok(graph_comms_transport::HttpResponse {
            status: http::StatusCode::OK,
            headers: http::HeaderMap::new(),
            body: body.to_string().into(),
        })
    }
}

#[tokio::test]
async fn keys_are_fetched_through_the_configured_transport() {
    let transport = Arc::new(CannedKeys::default());
    let config = AuthConfig::new(APP_ID)
        .with_openid_config_url("https://login.invalid/v1/.well-known/OpenIdConfiguration")
        .with_transport(transport.clone());
    let auth = graph_comms_receiver::Authenticator::new(config).expect("authenticator");
    let caller = auth
        .verify(&key().sign(&claims(APP_ID)))
        .await
        .expect("verified");
    assert_eq!(caller.tenant_id.as_deref(), Some(TENANT));
    assert_eq!(
        *transport.urls.lock().expect("urls"),
        vec![
            "https://login.invalid/v1/.well-known/OpenIdConfiguration".to_owned(),
            "https://keys.invalid/v1/keys".to_owned()
        ]
    );
    assert_eq!(auth.key_ids(), vec![key().kid.clone()]);
}
