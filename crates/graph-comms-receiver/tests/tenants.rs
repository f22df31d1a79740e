//! Tenant binding at the receiver: a transfer followed under one tenant is never resolved by a
//! callback authenticated for another, and such notifications are counted.

mod support;

use std::time::Duration;

use graph_comms_notify::{TrackOptions, TransferTracker};
use graph_comms_receiver::{AuthConfig, Receiver};
use support::*;

const PATH: &str = "/api/calls";
const CALL: &str = "7f1e5c2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
const OTHER_TENANT: &str = "0b9d3e57-6a2c-4f1e-9d8b-7c6a5e4d3c2b";

fn token_for(tenant: &str) -> String {
    let mut claims = claims(APP_ID);
    claims["tid"] = serde_json::Value::from(tenant);
    key().sign(&claims)
}

#[tokio::test]
async fn another_tenants_notifications_are_counted_and_not_applied() {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let tracker = TransferTracker::default();
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let receiver = Receiver::builder(config)
        .tracker(tracker.clone())
        .build()
        .expect("receiver");
    let addr = start(&receiver).await;
    let handle = tracker
        .track_with(
            CALL,
            TrackOptions::default()
                .with_tenant(TENANT)
                .with_timeout(Duration::from_secs(30)),
        )
        .expect("track");

    // Authenticated, but for another tenant: answered 202, counted, not applied.
    let stranger = auth_headers(&token_for(OTHER_TENANT));
    let response = post_once(addr, PATH, &stranger, completed(CALL).as_bytes()).await;
    assert_eq!(response.status, 202);
    let stats = receiver.stats();
    assert_eq!(stats.other_tenant, 1);
    assert_eq!(stats.rejected(), 0);
    assert!(handle.outcome().is_none(), "{:?}", handle.outcome());

    // The call's own tenant resolves it.
    let owner = auth_headers(&token_for(TENANT));
    let response = post_once(addr, PATH, &owner, completed(CALL).as_bytes()).await;
    assert_eq!(response.status, 202);
    assert_eq!(receiver.stats().other_tenant, 1);
    let outcome = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("an outcome");
    assert!(outcome.is_success(), "{outcome:?}");
}
