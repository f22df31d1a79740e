//! The exact requests on the wire, against a real server on 127.0.0.1, snapshot-tested.

mod common;

use std::sync::Arc;

use common::{seed_bodies, Reply, TestServer};
use graph_comms_transport::{
    BaseUrl, CallsPath, ClientCredential, ClientCredentials, GraphCommsClient, RetryPolicy,
    StaticToken,
};

const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Snapshots a recorded request with its volatile parts redacted.
macro_rules! check {
    ($name:expr, $value:expr) => {
        insta::assert_json_snapshot!($name, $value, {
            ".headers.host" => "[host]",
            ".headers[\"client-request-id\"]" => "[client-request-id]",
            ".body.client_assertion" => "[jwt]",
        })
    };
}

fn credentials(server: &TestServer) -> ClientCredentials {
    ClientCredentials::builder("bot-app-id", ClientCredential::Secret("test-secret".into()))
        .authority_host(&server.root())
        .unwrap()
        .build()
        .unwrap()
}

#[tokio::test]
async fn five_seed_transfers_with_client_credentials() {
    let server = TestServer::start().await;
    let client = GraphCommsClient::builder(Arc::new(credentials(&server)))
        .base_url(BaseUrl::parse(&server.base()).unwrap())
        .tenant(TENANT)
        .build()
        .unwrap();
    for (name, body) in seed_bodies() {
        let accepted = client.transfer(CALL, &body).await.unwrap();
        assert_eq!(accepted.status, 202, "{name}");
        assert_eq!(
            accepted.request_id.as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
        assert_eq!(
            accepted.date.as_deref(),
            Some("Tue, 24 Nov 2026 10:00:00 GMT")
        );
        assert!(accepted.date_time().is_some());
    }
    let tokens = server.token_requests();
    assert_eq!(tokens.len(), 1, "one token, cached for the five transfers");
    check!("token_request_secret", tokens[0].1.to_json());
    let requests = server.requests();
    assert_eq!(requests.len(), 5);
    for ((name, body), recorded) in seed_bodies().iter().zip(&requests) {
        // The body on the wire is exactly the model's serialization.
        assert_eq!(recorded.body, serde_json::to_vec(body).unwrap(), "{name}");
        let crid = recorded.header("client-request-id").unwrap();
        assert!(uuid::Uuid::parse_str(crid).is_ok());
        check!(
            format!("seed_{}", name.trim_end_matches("-request.json")),
            recorded.to_json()
        );
    }
}

#[tokio::test]
async fn retried_requests_on_the_wire() {
    let server = TestServer::start().await;
    server.script([
        Reply::new(429).header("retry-after", "0"),
        Reply::new(503),
        Reply::accepted(),
    ]);
    let client = GraphCommsClient::builder(Arc::new(StaticToken::new("static-token")))
        .base_url(BaseUrl::parse(&server.base()).unwrap())
        .retry_policy(RetryPolicy {
            initial_backoff: std::time::Duration::from_millis(1),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let (_, body) = &seed_bodies()[0];
    client.transfer(CALL, body).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let first = requests[0].header("client-request-id").unwrap();
    assert!(requests
        .iter()
        .all(|r| r.header("client-request-id") == Some(first)));
    for (n, r) in requests.iter().enumerate() {
        check!(format!("retry_attempt_{n}"), r.to_json());
    }
}

#[tokio::test]
async fn legacy_app_calls_path_and_beta() {
    let server = TestServer::start().await;
    let base = BaseUrl::parse(&format!("{}/beta", server.root()))
        .unwrap()
        .with_calls_path(CallsPath::LegacyApp);
    let client = GraphCommsClient::builder(Arc::new(StaticToken::new("static-token")))
        .base_url(base)
        .build()
        .unwrap();
    let (_, body) = &seed_bodies()[2];
    client.transfer("odd/id?#", body).await.unwrap();
    check!("legacy_app_calls_beta", server.requests()[0].to_json());
}
