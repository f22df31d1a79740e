//! The emulator's own rules: 400, 401, 403, 404, 429, and the token endpoint.

mod common;

use common::*;
use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{Emulator, PlaceCall, RegisteredClient, Script};
use serde_json::Value;

fn assert_graph_error(resp: &Resp, status: u16, code: &str, message_part: &str) {
    assert_eq!(resp.status, status, "{}", resp.body);
    let e = &resp.body["error"];
    assert_eq!(e["code"], code, "{}", resp.body);
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains(message_part),
        "message {msg:?} lacks {message_part:?}"
    );
    let inner = &e["innerError"];
    assert!(inner["request-id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(inner["date"].as_str().is_some_and(|s| s.ends_with("GMT")));
    assert_eq!(
        resp.headers["request-id"].to_str().unwrap(),
        inner["request-id"].as_str().unwrap()
    );
}

async fn established_call(em: &Emulator, cb: &Callback, script: Option<Script>) -> String {
    let mut p = PlaceCall::new(&cb.url);
    if let Some(s) = script {
        p = p.with_script(s);
    }
    em.place_call(p).unwrap().id
}

#[tokio::test]
async fn no_token_is_401() {
    let em = emulator().await;
    let cb = Callback::start().await;
    let id = established_call(&em, &cb, None).await;
    let mut g = Graph::new(&em, "v1.0").await;
    g.token = None;
    assert_graph_error(
        &g.transfer(&id, PEER_BODY).await,
        401,
        "InvalidAuthenticationToken",
        "empty",
    );
    g.token = Some("not.a.jwt".to_owned());
    assert_graph_error(
        &g.transfer(&id, PEER_BODY).await,
        401,
        "InvalidAuthenticationToken",
        "validation failure",
    );
}

#[tokio::test]
async fn token_signed_by_another_key_is_401() {
    let em = emulator().await;
    let other = Emulator::start(
        common::config().with_signing_key(graph_comms_emulator::SigningKey::generate().unwrap()),
    )
    .await
    .unwrap();
    let cb = Callback::start().await;
    let id = established_call(&em, &cb, None).await;
    let mut g = Graph::new(&em, "v1.0").await;
    g.token = Some(
        other
            .issue_token(TENANT, APP_ID, &["Calls.Initiate.All"])
            .unwrap(),
    );
    assert_graph_error(
        &g.transfer(&id, PEER_BODY).await,
        401,
        "InvalidAuthenticationToken",
        "validation failure",
    );
}

#[tokio::test]
async fn token_without_role_is_403() {
    let em = emulator().await;
    let cb = Callback::start().await;
    let id = established_call(&em, &cb, None).await;
    let mut g = Graph::new(&em, "beta").await;
    g.token = Some(
        em.issue_token(TENANT, APP_ID, &["Calls.AccessMedia.All"])
            .unwrap(),
    );
    assert_graph_error(
        &g.transfer(&id, PEER_BODY).await,
        403,
        "Forbidden",
        "Calls.Initiate.All",
    );
}

#[tokio::test]
async fn registered_client_without_role_gets_403() {
    let config = common::config().with_client(
        RegisteredClient::with_secret("limited", "pw").with_roles(Vec::<String>::new()),
    );
    let em = Emulator::start(config).await.unwrap();
    let cb = Callback::start().await;
    let id = established_call(&em, &cb, None).await;
    let mut g = Graph::new_unauth(&em);
    g.token = Some(token(&em, TENANT, "limited", "pw").await);
    assert_graph_error(
        &g.transfer(&id, PEER_BODY).await,
        403,
        "Forbidden",
        "Calls.Initiate.All",
    );
}

#[tokio::test]
async fn unknown_call_is_404_on_every_route() {
    let em = emulator().await;
    let g = Graph::new(&em, "v1.0").await;
    let id = "00000000-0000-0000-0000-000000000000";
    assert_graph_error(&g.transfer(id, PEER_BODY).await, 404, "itemNotFound", id);
    assert_graph_error(
        &g.post(&format!("/app/calls/{id}/transfer"), PEER_BODY)
            .await,
        404,
        "itemNotFound",
        id,
    );
    assert_graph_error(
        &g.send(
            reqwest::Method::GET,
            &format!("/communications/calls/{id}"),
            None,
        )
        .await,
        404,
        "itemNotFound",
        id,
    );
    assert_graph_error(
        &g.send(
            reqwest::Method::DELETE,
            &format!("/communications/calls/{id}"),
            None,
        )
        .await,
        404,
        "itemNotFound",
        id,
    );
}

#[tokio::test]
async fn bad_transfer_bodies_are_400() {
    let em = emulator().await;
    let cb = Callback::start().await;
    let id = established_call(&em, &cb, None).await;
    let g = Graph::new(&em, "beta").await;
    let cases: &[(&str, &str)] = &[
        ("", "Empty request body"),
        ("{\"transferTarget\": {", "Unable to read JSON"),
        ("[]", "JSON object"),
        ("{}", "transferTarget: required"),
        (r#"{"transferTarget": null}"#, "transferTarget: required"),
        (r#"{"transferTarget": "bob"}"#, "transferTarget: expected"),
        (
            r#"{"transferTarget": {"endpointType": "default"}}"#,
            "transferTarget.identity: required",
        ),
        (
            r#"{"transferTarget": {"identity": {"@odata.type": "x"}}}"#,
            "names no identity",
        ),
        (
            r#"{"transferTarget": {"identity": {"phone": {"id": "12345"}}}}"#,
            "E.164",
        ),
        (
            r#"{"transferTarget": {"identity": {"user": {"id": "u"}}, "replacesCallId": 5}}"#,
            "replacesCallId",
        ),
        (
            r#"{"transferTarget": {"identity": {"user": {"id": "u"}}, "endpointType": 3}}"#,
            "schema",
        ),
        (
            r#"{"transferTarget": {"identity": {"user": {"id": 7}}}}"#,
            "schema",
        ),
    ];
    for (body, part) in cases {
        assert_graph_error(&g.transfer(&id, body).await, 400, "BadRequest", part);
    }
    // None of them started a transfer.
    assert_eq!(g.transfer(&id, PEER_BODY).await.status, 202);
}

#[tokio::test]
async fn group_call_needs_a_known_transferee() {
    let em = emulator().await;
    let cb = Callback::start().await;
    let placed = em
        .place_call(PlaceCall::new(&cb.url).with_group(3))
        .unwrap();
    assert!(placed.group);
    let g = Graph::new(&em, "v1.0").await;
    assert_graph_error(
        &g.transfer(&placed.id, PEER_BODY).await,
        400,
        "BadRequest",
        "transferee: required",
    );
    let mut body: Value = serde_json::from_str(PEER_BODY).unwrap();
    body["transferee"] = serde_json::json!({"participantId": "nobody"});
    assert_graph_error(
        &g.transfer(&placed.id, &body.to_string()).await,
        400,
        "BadRequest",
        "not a participant",
    );
    body["transferee"] = serde_json::to_value(&placed.participants[1]).unwrap();
    assert_eq!(g.transfer(&placed.id, &body.to_string()).await.status, 202);
}

#[tokio::test]
async fn transfer_needs_an_established_call() {
    let em = emulator().await;
    let cb = Callback::start().await;
    let placed = em
        .place_call(PlaceCall::new(&cb.url).answered_by_bot())
        .unwrap();
    let g = Graph::new(&em, "v1.0").await;
    assert_graph_error(
        &g.transfer(&placed.id, PEER_BODY).await,
        400,
        "BadRequest",
        "state `incoming`",
    );
    // A second transfer while one is in progress is refused too.
    let id = established_call(
        &em,
        &cb,
        Some(Script::new(graph_comms_emulator::TransferFlow::NoOutcome)),
    )
    .await;
    assert_eq!(g.transfer(&id, PEER_BODY).await.status, 202);
    assert_graph_error(
        &g.transfer(&id, PEER_BODY).await,
        400,
        "BadRequest",
        "transfer in progress",
    );
}

#[tokio::test]
async fn scripted_throttle_is_429_with_retry_after_then_202() {
    let em = emulator().await;
    let cb = Callback::start().await;
    let id = established_call(&em, &cb, Some(Script::default().with_throttle(2, 7))).await;
    let g = Graph::new(&em, "v1.0").await;
    for _ in 0..2 {
        let r = g.transfer(&id, PEER_BODY).await;
        assert_graph_error(&r, 429, "TooManyRequests", "retry after 7");
        assert_eq!(r.headers["retry-after"], "7");
    }
    assert_eq!(g.transfer(&id, PEER_BODY).await.status, 202);
}

#[tokio::test]
async fn global_throttle_applies_to_any_api_request() {
    let em = emulator().await;
    let g = Graph::new(&em, "v1.0").await;
    em.throttle_next(1, 0);
    let body = serde_json::json!({
        "callbackUri": "http://127.0.0.1:9/cb",
        "targets": [{"identity": {"user": {"id": "u1"}}}],
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}
    })
    .to_string();
    let r = g.post("/communications/calls", &body).await;
    assert_graph_error(&r, 429, "TooManyRequests", "retry after 0");
    assert_eq!(r.headers["retry-after"], "0");
    assert_eq!(g.post("/communications/calls", &body).await.status, 201);
}

#[tokio::test]
async fn create_call_rules() {
    let em = emulator().await;
    let g = Graph::new(&em, "beta").await;
    let cases: &[(&str, &str)] = &[
        (r#"{"targets":[]}"#, "callbackUri: required"),
        (r#"{"callbackUri":"http://bot.contoso.com/cb"}"#, "loopback"),
        (r#"{"callbackUri":"https://bot.contoso.com/cb"}"#, "targets"),
        (
            r#"{"callbackUri":"https://bot.contoso.com/cb","targets":[{}]}"#,
            "targets[0].identity",
        ),
        (
            r#"{"callbackUri":"https://bot.contoso.com/cb","targets":[{"identity":{"user":{"id":"u"}}}]}"#,
            "requestedModalities",
        ),
        (
            r#"{"callbackUri":"https://bot.contoso.com/cb","targets":[{"identity":{"user":{"id":"u"}}}],"requestedModalities":["audio"]}"#,
            "mediaConfig",
        ),
    ];
    for (body, part) in cases {
        assert_graph_error(
            &g.post("/communications/calls", body).await,
            400,
            "BadRequest",
            part,
        );
    }
}

#[tokio::test]
async fn unknown_api_path_is_a_graph_error() {
    let em = emulator().await;
    let g = Graph::new(&em, "v1.0").await;
    assert_graph_error(
        &g.post("/me/sendMail", "{}").await,
        400,
        "BadRequest",
        "Resource not found",
    );
}

#[tokio::test]
async fn wrong_method_is_a_graph_error() {
    let em = emulator().await;
    let g = Graph::new(&em, "beta").await;
    let r = g
        .send(
            reqwest::Method::PUT,
            "/communications/calls/x/transfer",
            Some("{}"),
        )
        .await;
    assert_graph_error(&r, 405, "MethodNotAllowed", "not allowed");
}

#[tokio::test]
async fn client_request_id_is_echoed() {
    let em = emulator().await;
    let g = Graph::new(&em, "v1.0").await;
    let r = g
        .http
        .get(format!("{}/communications/calls/x", g.base))
        .bearer_auth(g.token.as_deref().unwrap())
        .header("client-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["client-request-id"], "abc-123");
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["innerError"]["client-request-id"], "abc-123");
}

// ---- token endpoint ----

#[tokio::test]
async fn token_endpoint_accepts_any_client_by_default() {
    let em = emulator().await;
    let (status, body) = token_request(
        &em,
        TENANT,
        &[("client_id", "anyone"), ("client_secret", "anything")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let jwt = body["access_token"].as_str().unwrap();
    let claims = decode_claims(jwt);
    assert_eq!(
        claims["roles"],
        serde_json::json!(["Calls.Initiate.All", "Calls.JoinGroupCall.All"])
    );
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["appid"], "anyone");
}

#[tokio::test]
async fn token_endpoint_accepts_a_client_assertion() {
    let em = emulator().await;
    let assertion = unsigned_jwt(&serde_json::json!({"iss": "app-1", "sub": "app-1", "aud": "x"}));
    let fields = [
        ("client_id", "app-1"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let (status, body) = token_request(&em, TENANT, &fields).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        decode_claims(body["access_token"].as_str().unwrap())["appidacr"],
        "2"
    );
    let bad = unsigned_jwt(&serde_json::json!({"iss": "someone-else", "sub": "app-1"}));
    let fields = [
        ("client_id", "app-1"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", bad.as_str()),
    ];
    let (status, body) = token_request(&em, TENANT, &fields).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
}

/// Form fields, expected status, `error`, and a part of `error_description`.
type TokenCase = (
    Vec<(&'static str, &'static str)>,
    u16,
    &'static str,
    &'static str,
);

#[tokio::test]
async fn token_endpoint_errors_are_azure_ad_shaped() {
    let config = common::config().with_client(RegisteredClient::with_secret("bot", "right"));
    let em = Emulator::start(config).await.unwrap();
    let cases: Vec<TokenCase> = vec![
        (
            vec![("client_id", "bot"), ("client_secret", "wrong")],
            401,
            "invalid_client",
            "AADSTS7000215",
        ),
        (
            vec![("client_id", "stranger"), ("client_secret", "x")],
            400,
            "unauthorized_client",
            "AADSTS700016",
        ),
        (
            vec![("client_id", "bot")],
            401,
            "invalid_client",
            "AADSTS7000218",
        ),
        (
            vec![("client_secret", "right")],
            400,
            "invalid_request",
            "'client_id'",
        ),
        (
            vec![
                ("client_id", "bot"),
                ("client_secret", "right"),
                ("scope", "User.Read"),
            ],
            400,
            "invalid_scope",
            "/.default",
        ),
    ];
    for (fields, status, error, part) in cases {
        // A later `scope` field overrides the default one in the form.
        let (got, body) = token_request(&em, TENANT, &fields).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["error"], error, "{body}");
        assert!(
            body["error_description"].as_str().unwrap().contains(part),
            "{body}"
        );
        assert!(body["error_codes"].is_array() && body["trace_id"].is_string());
    }
    assert_eq!(
        token_request(
            &em,
            TENANT,
            &[("client_id", "bot"), ("client_secret", "right")]
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn openid_configuration_and_jwks() {
    let em = emulator().await;
    let http = reqwest::Client::new();
    let conf: Value = http
        .get(em.openid_config_url())
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(conf["issuer"], "https://api.botframework.com");
    assert_eq!(conf["jwks_uri"], em.jwks_url());
    assert_eq!(
        conf["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    let jwks: Value = http
        .get(em.jwks_url())
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    let k = &jwks["keys"][0];
    assert_eq!(
        (k["kty"].as_str(), k["use"].as_str(), k["alg"].as_str()),
        (Some("RSA"), Some("sig"), Some("RS256"))
    );
    assert_eq!(k["kid"], em.signing_key().kid());
    assert!(!k["n"].as_str().unwrap().contains('='));
    let aad: Value = http
        .get(format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            em.root_url()
        ))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(aad["token_endpoint"], em.token_url(TENANT));
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}

fn decode_claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

fn unsigned_jwt(claims: &Value) -> String {
    use base64::Engine as _;
    let e = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.c2ln",
        e(r#"{"alg":"RS256","typ":"JWT"}"#),
        e(&claims.to_string())
    )
}

impl Graph {
    fn new_unauth(em: &Emulator) -> Graph {
        Graph {
            http: reqwest::Client::new(),
            base: em.base_url(ApiVersion::V1).to_string(),
            token: None,
        }
    }
}
