//! Tokens: per-tenant cache, single-flight refresh, certificates, environment, redaction.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::{response, MockTransport, Reply, TestServer};
use graph_comms_transport::{
    BaseUrl, ClientCertificate, ClientCredential, ClientCredentials, Error, GraphCommsClient,
    HttpRequest, TokenProvider,
};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::json;
use sha1::Digest as _;

const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const TENANT_A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const TENANT_B: &str = "contoso.onmicrosoft.com";
const BODY: &str =
    r#"{"transferTarget":{"identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f"}}}}"#;

fn secret_provider(server: &TestServer) -> ClientCredentials {
    ClientCredentials::builder("bot-app-id", ClientCredential::Secret("test-secret".into()))
        .authority_host(&server.root())
        .unwrap()
        .build()
        .unwrap()
}

fn client(server: &TestServer, tokens: ClientCredentials) -> GraphCommsClient {
    GraphCommsClient::builder(Arc::new(tokens))
        .base_url(BaseUrl::parse(&server.base()).unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_transfers_fetch_one_token_per_tenant() {
    let server = TestServer::start().await;
    // A slow token endpoint, so every transfer asks while the first request is in flight.
    server.state.token.lock().unwrap().delay = Duration::from_millis(200);
    let base = client(&server, secret_provider(&server));
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let c = base
                .with_tenant(if n % 2 == 0 { TENANT_A } else { TENANT_B })
                .unwrap();
            tokio::spawn(async move {
                c.transfer_json(CALL, bytes::Bytes::from_static(BODY.as_bytes()))
                    .await
            })
        })
        .collect();
    for t in futures_util::future::join_all(tasks).await {
        t.unwrap().unwrap();
    }
    let mut tenants: Vec<String> = server
        .token_requests()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    tenants.sort();
    assert_eq!(
        tenants,
        [TENANT_A, TENANT_B],
        "one token request per tenant"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 50);
    let with = |token: &str| {
        requests
            .iter()
            .filter(|r| r.header("authorization") == Some(token))
            .count()
    };
    assert_eq!(
        with(&format!("Bearer token-{TENANT_A}-1")) + with(&format!("Bearer token-{TENANT_A}-2")),
        25
    );
    assert_eq!(
        with(&format!("Bearer token-{TENANT_B}-1")) + with(&format!("Bearer token-{TENANT_B}-2")),
        25
    );
}

/// A token endpoint mock counting requests, on tokio's clock.
fn token_mock(expires_in: serde_json::Value) -> Arc<MockTransport> {
    MockTransport::new(move |n, _| {
        let body = json!({"token_type":"Bearer","expires_in":expires_in,"access_token":format!("tok-{n}")});
        async move { Ok(response(200, &[], &body.to_string())) }
    })
}

fn mock_provider(mock: &Arc<MockTransport>) -> ClientCredentials {
    ClientCredentials::builder("app", ClientCredential::Secret("s".into()))
        .authority_host("https://login.test")
        .unwrap()
        .home_tenant(TENANT_A)
        .transport(mock.clone())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn tokens_are_cached_until_shortly_before_expiry() {
    let mock = token_mock(json!(3599));
    let p = mock_provider(&mock);
    assert_eq!(p.token(TENANT_A).await.unwrap().secret(), "tok-0");
    // Cached until 3599 - 300 s (the refresh margin).
    tokio::time::advance(Duration::from_secs(3298)).await;
    assert_eq!(p.token(TENANT_A).await.unwrap().secret(), "tok-0");
    assert_eq!(
        p.token("").await.unwrap().secret(),
        "tok-0",
        "empty tenant = home tenant"
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(p.token(TENANT_A).await.unwrap().secret(), "tok-1");
    assert_eq!(mock.count(), 2);
    // Another tenant has its own token; tenant keys ignore case.
    assert_eq!(p.token(TENANT_B).await.unwrap().secret(), "tok-2");
    assert_eq!(
        p.token(&TENANT_B.to_uppercase()).await.unwrap().secret(),
        "tok-2"
    );
    // A clone shares the cache.
    assert_eq!(p.clone().token(TENANT_B).await.unwrap().secret(), "tok-2");
    p.invalidate(TENANT_B);
    assert_eq!(p.token(TENANT_B).await.unwrap().secret(), "tok-3");
    let urls: Vec<String> = mock
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.url.to_string())
        .collect();
    assert_eq!(
        urls[0],
        format!("https://login.test/{TENANT_A}/oauth2/v2.0/token")
    );
    assert_eq!(
        urls[2],
        format!("https://login.test/{TENANT_B}/oauth2/v2.0/token")
    );
}

#[tokio::test(start_paused = true)]
async fn expires_in_as_a_string_is_read() {
    let mock = token_mock(json!("3599"));
    let p = mock_provider(&mock);
    p.token(TENANT_A).await.unwrap();
    tokio::time::advance(Duration::from_secs(3000)).await;
    p.token(TENANT_A).await.unwrap();
    assert_eq!(mock.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn single_flight_refresh_on_the_paused_clock() {
    let mock = MockTransport::new(|n, _| async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let body =
            json!({"token_type":"Bearer","expires_in":3599,"access_token":format!("tok-{n}")});
        Ok(response(200, &[], &body.to_string()))
    });
    let p = mock_provider(&mock);
    let all = futures_util::future::join_all((0..50).map(|_| p.token(TENANT_A))).await;
    assert!(all.iter().all(|t| t.as_ref().unwrap().secret() == "tok-0"));
    assert_eq!(mock.count(), 1);
}

#[tokio::test]
async fn unauthorized_forgets_the_cached_token() {
    let server = TestServer::start().await;
    server.script([Reply::graph_error(
        401,
        "InvalidAuthenticationToken",
        "Access token has expired.",
    )]);
    let c = client(&server, secret_provider(&server))
        .with_tenant(TENANT_A)
        .unwrap();
    let err = c.transfer_json(CALL, BODY.into()).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err}");
    c.transfer_json(CALL, BODY.into()).await.unwrap();
    assert_eq!(server.token_requests().len(), 2);
    assert_eq!(
        server.requests()[1].header("authorization"),
        Some(&*format!("Bearer token-{TENANT_A}-2"))
    );
}

#[tokio::test]
async fn token_endpoint_errors_are_typed() {
    let server = TestServer::start().await;
    server.state.token.lock().unwrap().error = Some(Reply::new(401).header("content-type", "application/json").body(
        json!({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.",
               "correlation_id":"corr-1"})
        .to_string(),
    ));
    let c = client(&server, secret_provider(&server))
        .with_tenant(TENANT_A)
        .unwrap();
    let err = c.transfer_json(CALL, BODY.into()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("token request for tenant {TENANT_A} failed: HTTP 401: invalid_client: AADSTS7000215: Invalid client secret provided. [correlation-id corr-1]")
    );
    assert_eq!(err.code(), Some("invalid_client"));
    assert!(server.requests().is_empty(), "no transfer without a token");

    server.state.token.lock().unwrap().error =
        Some(Reply::new(200).body("{\"token_type\":\"Bearer\"}"));
    let err = c.transfer_json(CALL, BODY.into()).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidTokenResponse { reason, .. } if reason == "no access_token"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_tenants_never_reach_a_url() {
    let server = TestServer::start().await;
    let p = secret_provider(&server);
    for bad in ["../x", "a/b", "a?b"] {
        assert!(
            matches!(p.token(bad).await, Err(Error::InvalidTenant { .. })),
            "{bad}"
        );
    }
    assert!(
        matches!(p.token("").await, Err(Error::Credentials(_))),
        "no home tenant"
    );
    assert!(server.token_requests().is_empty());
}

struct TestCert {
    pem: String,
    der: Vec<u8>,
    public_pem: String,
}

fn test_certificate() -> TestCert {
    let key = graph_comms_testkit::rsa_key();
    let key_pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let public_pem = key.to_public_key().to_pkcs1_pem(LineEnding::LF).unwrap();
    // The thumbprint covers the certificate's DER bytes; the token endpoint here checks only it.
    let der: Vec<u8> = (0u8..=255).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n{key_pem}");
    TestCert {
        pem,
        der,
        public_pem,
    }
}

#[tokio::test]
async fn certificate_credentials_send_a_signed_assertion() {
    let server = TestServer::start().await;
    let cert = test_certificate();
    let certificate = ClientCertificate::from_pem(cert.pem.as_bytes()).unwrap();
    let expected_x5t =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&cert.der));
    assert_eq!(certificate.x5t(), expected_x5t);
    assert!(!format!("{certificate:?}").contains("PRIVATE"));

    let tokens =
        ClientCredentials::builder("bot-app-id", ClientCredential::Certificate(certificate))
            .authority_host(&server.root())
            .unwrap()
            .scope("https://graph.microsoft.us/.default")
            .build()
            .unwrap();
    client(&server, tokens)
        .with_tenant(TENANT_A)
        .unwrap()
        .transfer_json(CALL, BODY.into())
        .await
        .unwrap();

    let (_, rec) = &server.token_requests()[0];
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&rec.body)
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "bot-app-id");
    assert_eq!(form["scope"], "https://graph.microsoft.us/.default");
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert!(!form.contains_key("client_secret"));

    let token_url = format!("{}/{TENANT_A}/oauth2/v2.0/token", server.root());
    let header = jsonwebtoken::decode_header(&form["client_assertion"]).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.x5t.as_deref(), Some(expected_x5t.as_str()));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&token_url]);
    validation.set_issuer(&["bot-app-id"]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(cert.public_pem.as_bytes()).unwrap();
    let claims =
        jsonwebtoken::decode::<serde_json::Value>(&form["client_assertion"], &key, &validation)
            .unwrap()
            .claims;
    assert_eq!(claims["sub"], "bot-app-id");
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["nbf"].as_u64().unwrap(),
        600
    );
}

#[test]
fn environment_variables() {
    let dir = std::env::temp_dir().join(format!("gct-cert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert_path = dir.join("cert.pem");
    std::fs::write(&cert_path, test_certificate().pem).unwrap();
    let cert_path = cert_path.to_string_lossy().into_owned();

    let env = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ClientCredentials::from_env_with(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    };
    let secret = env(&[
        ("AZURE_TENANT_ID", TENANT_A),
        ("AZURE_CLIENT_ID", "app"),
        ("AZURE_CLIENT_SECRET", "very-secret"),
    ])
    .unwrap()
    .transport(token_mock(json!(1)))
    .build()
    .unwrap();
    assert_eq!(secret.home_tenant(), Some(TENANT_A));
    assert_eq!(secret.client_id(), "app");
    let debug = format!("{secret:?}");
    assert!(!debug.contains("very-secret"), "{debug}");
    assert!(debug.contains("login.microsoftonline.com"), "{debug}");

    let cert = env(&[
        ("AZURE_TENANT_ID", TENANT_A),
        ("AZURE_CLIENT_ID", "app"),
        ("AZURE_CLIENT_CERTIFICATE_PATH", &cert_path),
        ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us"),
    ])
    .unwrap()
    .transport(token_mock(json!(1)))
    .build()
    .unwrap();
    assert_eq!(
        cert.token_url(TENANT_A).unwrap().as_str(),
        format!("https://login.microsoftonline.us/{TENANT_A}/oauth2/v2.0/token")
    );

    let missing = [
        (
            vec![("AZURE_CLIENT_ID", "app"), ("AZURE_CLIENT_SECRET", "s")],
            "AZURE_TENANT_ID is not set",
        ),
        (
            vec![("AZURE_TENANT_ID", TENANT_A), ("AZURE_CLIENT_SECRET", "s")],
            "AZURE_CLIENT_ID is not set",
        ),
        (
            vec![("AZURE_TENANT_ID", TENANT_A), ("AZURE_CLIENT_ID", "app")],
            "neither AZURE_CLIENT_SECRET",
        ),
        (
            vec![
                ("AZURE_TENANT_ID", TENANT_A),
                ("AZURE_CLIENT_ID", "app"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent.pem"),
            ],
            "cannot read certificate",
        ),
        (
            vec![
                ("AZURE_TENANT_ID", TENANT_A),
                ("AZURE_CLIENT_ID", "app"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", &cert_path),
                ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "pw"),
            ],
            "only unencrypted",
        ),
    ];
    for (vars, needle) in missing {
        let err = env(&vars).unwrap_err().to_string();
        assert!(err.contains(needle), "{err} should say {needle}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let mock = MockTransport::replies(vec![Ok(response(202, &[], ""))]);
    let tokens = Arc::new(graph_comms_transport::StaticToken::new(
        "bearer-secret-value",
    ));
    let c = GraphCommsClient::builder(tokens)
        .base_url(BaseUrl::parse("https://graph.test/v1.0").unwrap())
        .transport(mock.clone())
        .build()
        .unwrap();
    c.transfer_json(CALL, BODY.into()).await.unwrap();
    let seen: Vec<HttpRequest> = mock.seen.lock().unwrap().clone();
    assert_eq!(
        seen[0].headers["authorization"],
        "Bearer bearer-secret-value"
    );
    for text in [format!("{c:?}"), format!("{:?}", seen[0])] {
        assert!(!text.contains("bearer-secret-value"), "{text}");
    }
}

#[tokio::test]
async fn token_requests_and_responses_keep_secrets_out_of_debug() {
    let mock = MockTransport::new(|_, _| async {
        let body =
            json!({"token_type":"Bearer","expires_in":3599,"access_token":"issued-access-token"});
        Ok(response(200, &[], &body.to_string()))
    });
    let p = ClientCredentials::builder(
        "app",
        ClientCredential::Secret("client-secret-value".into()),
    )
    .authority_host("https://login.test")
    .unwrap()
    .transport(mock.clone())
    .build()
    .unwrap();
    let token = p.token(TENANT_A).await.unwrap();
    let seen = mock.seen.lock().unwrap().clone();
    assert!(String::from_utf8_lossy(&seen[0].body).contains("client_secret=client-secret-value"));
    let answer = response(200, &[], r#"{"access_token":"issued-access-token"}"#);
    for text in [
        format!("{:?}", seen[0]),
        format!("{p:?}"),
        format!("{token:?}"),
        format!("{answer:?}"),
    ] {
        assert!(
            !text.contains("client-secret-value") && !text.contains("issued-access-token"),
            "{text}"
        );
    }
}
