//! 100 000 signed notifications over 64 keep-alive connections on 127.0.0.1: every one accounted
//! for at both ends, and every tracked transfer resolved to the outcome its notifications say.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use graph_comms_notify::{TransferOutcome, TransferTracker};
use graph_comms_receiver::{AuthConfig, Delivery, Receiver};
use support::*;

const NOTIFICATIONS: usize = 100_000;
const CONNECTIONS: usize = 64;
/// Four notifications per transfer.
const TRANSFERS: usize = NOTIFICATIONS / 4;

fn call_id(i: usize) -> String {
    format!(
        "4d1e{:04x}-{:04x}-4000-8000-{:012x}",
        i % 0xffff,
        i / 0xffff,
        i
    )
}

/// The four notifications of transfer `i`, and the outcome they must produce.
fn flow(i: usize) -> ([String; 4], TransferOutcome) {
    let id = call_id(i);
    let transferring = notification(&id, "transferring");
    let accepted = notification(&id, "transferAccepted");
    match i % 4 {
        0 => (
            [transferring, accepted, roster(&id), failed(&id)],
            TransferOutcome::Failed {
                code: Some(500),
                subcode: Some(7700),
                message: Some("Call transfer failed".to_owned()),
                replaces_context: Some("replaced-context".to_owned()),
                termination_reason: None,
                inferred: false,
                late: false,
            },
        ),
        1 => {
            // A retried delivery of the final notification.
            let end = app_transferred(&id);
            (
                [transferring, accepted, end.clone(), end],
                TransferOutcome::Completed {
                    code: Some(200),
                    subcode: Some(5000),
                    message: None,
                    termination_reason: Some("AppTransferred".to_owned()),
                    inferred: false,
                    late: false,
                },
            )
        }
        2 => {
            // transferAccepted before transferring, and a duplicate.
            let end = completed(&id);
            (
                [accepted.clone(), transferring, accepted, end],
                TransferOutcome::Completed {
                    code: Some(0),
                    subcode: Some(7015),
                    message: Some("GracefulTransferCompleted".to_owned()),
                    termination_reason: None,
                    inferred: false,
                    late: false,
                },
            )
        }
        _ => (
            [transferring, roster(&id), accepted, hung_up(&id)],
            TransferOutcome::CallEnded {
                code: Some(0),
                subcode: Some(5010),
                message: Some("The call was ended by the remote party.".to_owned()),
                termination_reason: None,
                inferred: false,
                late: false,
            },
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_thousand_notifications_over_64_connections_are_all_accounted_for() {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let handled = Arc::new(AtomicU64::new(0));
    let h = handled.clone();
    let tracker = TransferTracker::default();
    let receiver = Receiver::builder(config)
        .tracker(tracker.clone())
        .handler(move |d: &Delivery<'_>| {
            h.fetch_add(d.events.len() as u64, Ordering::Relaxed);
        })
        .build()
        .expect("receiver");
    let addr = start(&receiver).await;

    // Four senders' tokens, each reused for many callbacks as Graph does.
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..4)
            .map(|i| {
                let mut c = claims(APP_ID);
                c["jti"] = i.into();
                key().sign(&c)
            })
            .collect(),
    );

    // Register 7 of every 8 transfers before their first notification; the 8th registers only
    // after its first notification was accepted (the notification beat the 202).
    let mut handles = Vec::with_capacity(TRANSFERS);
    for i in 0..TRANSFERS {
        if i % 8 != 7 {
            handles.push((i, tracker.track(call_id(i)).expect("track")));
        }
    }

    let mut senders = Vec::new();
    for c in 0..CONNECTIONS {
        let (tokens, tracker) = (tokens.clone(), tracker.clone());
        senders.push(tokio::spawn(async move {
            let mut client = RawClient::connect(addr).await.expect("connect");
            let auth = format!("Bearer {}", tokens[c % tokens.len()]);
            let headers = [
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ];
            let mut accepted = 0usize;
            let mut late = Vec::new();
            for i in (c..TRANSFERS).step_by(CONNECTIONS) {
                let (bodies, _) = flow(i);
                for (k, body) in bodies.iter().enumerate() {
                    let response = client
                        .post("/api/calls", &headers, body.as_bytes())
                        .await
                        .expect("response");
                    assert_eq!(response.status, 202, "{}", response.body_text());
                    accepted += 1;
                    if k == 0 && i % 8 == 7 {
                        late.push((i, tracker.track(call_id(i)).expect("late track")));
                    }
                }
            }
            (accepted, late)
        }));
    }
    let mut client_accepted = 0;
    for sender in senders {
        let (accepted, late) = tokio::time::timeout(Duration::from_secs(600), sender)
            .await
            .expect("senders finish within 10 minutes")
            .expect("sender task");
        client_accepted += accepted;
        handles.extend(late);
    }

    // Counted at both ends.
    assert_eq!(client_accepted, NOTIFICATIONS);
    let stats = receiver.stats();
    assert_eq!(stats.requests, NOTIFICATIONS as u64);
    assert_eq!(stats.accepted, NOTIFICATIONS as u64);
    assert_eq!(stats.events, NOTIFICATIONS as u64);
    assert_eq!(stats.rejected(), 0);
    assert_eq!(handled.load(Ordering::Relaxed), NOTIFICATIONS as u64);
    let auth = receiver.authenticator().stats();
    // Each of the four tokens is verified exactly once, though 16 connections start with it at
    // the same moment (single flight); every other callback is a cache hit.
    assert_eq!(auth.full_verifications, 4, "{auth:?}");
    assert_eq!(auth.cache_hits, NOTIFICATIONS as u64 - 4);

    // Every transfer resolved, to the right outcome.
    assert_eq!(handles.len(), TRANSFERS);
    for (i, handle) in handles {
        let outcome = tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .unwrap_or_else(|_| panic!("transfer {i} unresolved"));
        assert_eq!(outcome, flow(i).1, "transfer {i}");
    }
    let t = tracker.stats();
    assert_eq!(t.applied, NOTIFICATIONS as u64);
    assert_eq!(t.failed, (TRANSFERS / 4) as u64);
    assert_eq!(t.completed, (TRANSFERS / 2) as u64);
    assert_eq!(t.call_ended, (TRANSFERS / 4) as u64);
    assert_eq!(t.timed_out + t.abandoned, 0);
    assert_eq!(t.open, 0);
    assert_eq!(t.buffered_events, 0);
}
