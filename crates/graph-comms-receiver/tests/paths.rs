//! The callback paths a receiver answers: `{path}`, `{path}/{anything}` (per-call paths, the docs'
//! `/api/calls/{appId}`, the samples' `…/notification`), with or without a query string; exact
//! matching on demand; everything else 404.

mod support;

use graph_comms_receiver::{AuthConfig, Receiver, ReceiverBuilder};
use support::*;

async fn setup(
    configure: impl FnOnce(ReceiverBuilder) -> ReceiverBuilder,
) -> (KeyServer, Receiver, std::net::SocketAddr) {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let receiver = configure(Receiver::builder(config))
        .build()
        .expect("receiver");
    let addr = start(&receiver).await;
    (keys, receiver, addr)
}

/// Posts a genuine callback to each path and checks the status each gets.
async fn check(addr: std::net::SocketAddr, cases: &[(&str, u16)]) {
    let token = key().sign(&claims(APP_ID));
    for (i, (path, status)) in cases.iter().enumerate() {
        let body = notification(&format!("call-{i}"), "transferring");
        let response = post_once(addr, path, &auth_headers(&token), body.as_bytes()).await;
        assert_eq!(
            response.status,
            *status,
            "POST {path}: {}",
            response.body_text()
        );
    }
}

#[tokio::test]
async fn the_path_and_every_path_below_it_are_answered() {
    let (_keys, receiver, addr) = setup(|b| b).await;
    let answered = [
        "/api/calls",
        "/api/calls?tenant=72f988bf",
        "/api/calls/8a4a2bbb-1e5b-4c25-b5b8-0c0d8e0f1a2b",
        "/api/calls/notification",
        "/api/calls/notification?x=1",
        "/api/calls/call/341a0500-d4bf-4224-8b19-1581168d328b/transfer",
    ];
    let refused = [
        "/",
        "/api",
        "/api/callsX",
        "/api/call",
        "/other/api/calls",
        "/API/CALLS",
    ];
    let cases: Vec<(&str, u16)> = answered
        .iter()
        .map(|p| (*p, 202))
        .chain(refused.iter().map(|p| (*p, 404)))
        .collect();
    check(addr, &cases).await;
    let stats = receiver.stats();
    assert_eq!((stats.requests, stats.accepted), (6, 6));
    assert_eq!(receiver.tracker().stats().applied, 6);
}

#[tokio::test]
async fn an_exact_path_answers_only_itself() {
    let (_keys, receiver, addr) = setup(|b| b.path("/callbacks/calls").exact_path(true)).await;
    check(
        addr,
        &[
            ("/callbacks/calls", 202),
            ("/callbacks/calls?x=1", 202),
            ("/callbacks/calls/notification", 404),
            ("/callbacks/calls/a/b", 404),
            ("/api/calls", 404),
        ],
    )
    .await;
    assert_eq!(receiver.stats().accepted, 2);
}

#[tokio::test]
async fn the_root_path_answers_everything_below_it() {
    let (_keys, receiver, addr) = setup(|b| b.path("/")).await;
    check(addr, &[("/", 202), ("/notification", 202), ("/a/b?c", 202)]).await;
    assert_eq!(receiver.stats().accepted, 3);
}

#[tokio::test]
async fn unusable_paths_are_configuration_errors() {
    for (path, rule) in [
        ("api/calls", "must start with '/'"),
        ("/api/calls/", "must not end with '/'"),
        ("/api//calls", "must not contain an empty segment"),
        ("/api/{id}", "must not contain '{', '}', '*', '?' or '#'"),
        ("/api/*rest", "must not contain '{', '}', '*', '?' or '#'"),
        ("/api?x", "must not contain '{', '}', '*', '?' or '#'"),
    ] {
        let error = Receiver::builder(AuthConfig::new(APP_ID))
            .path(path)
            .build()
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error,
            Some(format!(
                "invalid receiver configuration: path: {rule}, got {path:?}"
            )),
        );
    }
}
