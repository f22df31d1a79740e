//! Reconciliation and polling against a local Graph on 127.0.0.1 that answers
//! `GET /v1.0/communications/calls/{id}` from a script; anything else fails loudly.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use graph_comms_flow::{poll, reconcile, reconcile_handle, settle, Error, ReconcileOptions};
use graph_comms_model::CallState;
use graph_comms_notify::{
    EventKind, NotificationEvent, TrackerConfig, TransferOutcome, TransferProgress, TransferTracker,
};
use graph_comms_transport::{BaseUrl, GraphCommsClient, RetryPolicy, StaticToken};

const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";

#[derive(Default)]
struct Graph {
    /// What the next reads answer; the last one repeats.
    script: Mutex<VecDeque<(u16, String)>>,
    reads: Mutex<Vec<String>>,
    unexpected: Mutex<Vec<String>>,
}

async fn read_call(State(graph): State<Arc<Graph>>, Path(id): Path<String>) -> Response {
    graph.reads.lock().unwrap().push(id);
    let mut script = graph.script.lock().unwrap();
    let (status, body) = if script.len() > 1 {
        script.pop_front().unwrap()
    } else {
        script.front().cloned().unwrap_or((500, String::new()))
    };
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body,
    )
        .into_response()
}

async fn unexpected(State(graph): State<Arc<Graph>>, uri: axum::http::Uri) -> Response {
    graph.unexpected.lock().unwrap().push(uri.to_string());
    (StatusCode::IM_A_TEAPOT, "unexpected request").into_response()
}

/// A local Graph answering with `script`, and a client for it.
async fn local_graph(script: &[(u16, &str)]) -> (Arc<Graph>, GraphCommsClient) {
    let graph = Arc::new(Graph::default());
    graph
        .script
        .lock()
        .unwrap()
        .extend(script.iter().map(|(s, b)| (*s, (*b).to_owned())));
    let app = Router::new()
        .route("/v1.0/communications/calls/{id}", get(read_call))
        .fallback(unexpected)
        .with_state(Arc::clone(&graph));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = GraphCommsClient::builder(Arc::new(StaticToken::new("token")))
        .base_url(BaseUrl::parse(&format!("http://{addr}/v1.0")).unwrap())
        .retry_policy(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    (graph, client)
}

fn fast() -> ReconcileOptions {
    ReconcileOptions::default()
        .with_grace(Duration::from_millis(200))
        .with_interval(Duration::from_millis(10))
}

const GONE: (u16, &str) = (
    404,
    r#"{"error":{"code":"8502","message":"Call not found"}}"#,
);
const TRANSFERRING: (u16, &str) = (200, r#"{"id":"x","state":"transferring"}"#);
const ACCEPTED: (u16, &str) = (200, r#"{"id":"x","state":"transferAccepted"}"#);
const ESTABLISHED: (u16, &str) = (200, r#"{"id":"x","state":"established"}"#);
const ESTABLISHED_7000: (u16, &str) = (
    200,
    r#"{"id":"x","state":"established","resultInfo":{"code":500,"subcode":7000,"message":"Call transfer failed"}}"#,
);
const TERMINATED_7015: (u16, &str) = (
    200,
    r#"{"id":"x","state":"terminated","resultInfo":{"code":0,"subcode":7015,"message":"GracefulTransferCompleted"}}"#,
);
const TERMINATED_APP: (u16, &str) = (
    200,
    r#"{"id":"x","state":"terminated","terminationReason":"AppTransferred"}"#,
);
const HUNG_UP: (u16, &str) = (
    200,
    r#"{"id":"x","state":"terminated","resultInfo":{"code":200,"subcode":5001,"message":"The conversation has ended."}}"#,
);

/// Reconciles against `script` and checks the outcome's name, codes and inference flag.
async fn check(
    script: &[(u16, &str)],
    accepted: bool,
    want: (&str, Option<i64>, Option<i64>, bool),
) {
    let (graph, client) = local_graph(script).await;
    let outcome = reconcile(&client, CALL, accepted, &fast())
        .await
        .expect("reconciles");
    assert_eq!(
        (
            outcome.name(),
            outcome.code(),
            outcome.subcode(),
            outcome.is_inferred()
        ),
        want,
        "{script:?}: {outcome:?}"
    );
    assert!(graph.unexpected.lock().unwrap().is_empty());
    assert!(graph.reads.lock().unwrap().iter().all(|id| id == CALL));
}

#[tokio::test]
async fn what_graph_says_decides() {
    check(&[GONE], true, ("transferCompleted", None, None, true)).await;
    check(&[GONE], false, ("callEnded", None, None, true)).await;
    check(
        &[TERMINATED_7015],
        false,
        ("transferCompleted", Some(0), Some(7015), false),
    )
    .await;
    check(
        &[HUNG_UP],
        true,
        ("callEnded", Some(200), Some(5001), false),
    )
    .await;
    check(&[ESTABLISHED], true, ("transferFailed", None, None, true)).await;
    check(
        &[ESTABLISHED_7000],
        false,
        ("transferFailed", Some(500), Some(7000), false),
    )
    .await;
    // Still under way: read again until it ends ...
    check(
        &[TRANSFERRING, ACCEPTED, TERMINATED_APP],
        false,
        ("transferCompleted", None, None, false),
    )
    .await;
    // ... acceptance read on the way counts for a later 404 ...
    check(
        &[TRANSFERRING, ACCEPTED, GONE],
        false,
        ("transferCompleted", None, None, true),
    )
    .await;
    // ... or give up after the grace period.
    check(&[TRANSFERRING], true, ("timedOut", None, None, false)).await;
}

#[tokio::test]
async fn errors_other_than_404_are_reported() {
    let (_graph, client) =
        local_graph(&[(403, r#"{"error":{"code":"Forbidden","message":"no"}}"#)]).await;
    let err = reconcile(&client, CALL, false, &fast())
        .await
        .expect_err("403 is an error");
    assert!(matches!(err, Error::Graph { ref call_id, .. } if call_id == CALL));
    assert!(err.to_string().contains("forbidden"), "{err}");
}

#[tokio::test]
async fn a_timed_out_handle_is_reconciled() {
    let (graph, client) = local_graph(&[GONE]).await;
    let tracker =
        TransferTracker::new(TrackerConfig::default().with_timeout(Duration::from_millis(20)));
    let handle = tracker.track(CALL).expect("tracks");
    tracker.apply(&NotificationEvent::new(
        CALL,
        CallState::TransferAccepted,
        EventKind::TransferAccepted,
    ));
    let mut progress = handle.progress();
    while let Some(step) = progress.next().await {
        if matches!(step, TransferProgress::Finished(_)) {
            break;
        }
    }
    assert_eq!(handle.outcome(), Some(TransferOutcome::TimedOut));
    let outcome = reconcile_handle(&client, &handle, &fast())
        .await
        .expect("reconciles");
    assert!(outcome.is_success() && outcome.is_inferred(), "{outcome:?}");
    assert_eq!(graph.reads.lock().unwrap().len(), 1);

    // A handle with an outcome is not reconciled: no read.
    let done = tracker.track("other-call").expect("tracks");
    tracker.apply(&NotificationEvent::new(
        "other-call",
        CallState::Terminated,
        EventKind::Completed,
    ));
    let outcome = reconcile_handle(&client, &done, &fast())
        .await
        .expect("no read needed");
    assert!(outcome.is_success() && !outcome.is_inferred());
    assert_eq!(graph.reads.lock().unwrap().len(), 1);

    // `settle` waits, then reconciles: 404 before acceptance is the call ending.
    let handle = tracker.track("third-call").expect("tracks");
    let outcome = settle(&client, handle, &fast()).await.expect("settles");
    assert_eq!((outcome.name(), outcome.is_inferred()), ("callEnded", true));
    assert_eq!(graph.reads.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn polling_alone_follows_a_transfer() {
    let (graph, client) = local_graph(&[ESTABLISHED, TRANSFERRING, ACCEPTED, GONE]).await;
    let mut steps = Vec::new();
    let outcome = poll(&client, CALL, Duration::from_secs(5), &fast(), |s| {
        steps.push(s)
    })
    .await
    .expect("polls");
    assert!(outcome.is_success() && outcome.is_inferred(), "{outcome:?}");
    assert_eq!(
        steps,
        [
            TransferProgress::Transferring,
            TransferProgress::TransferAccepted
        ]
    );
    assert_eq!(graph.reads.lock().unwrap().len(), 4);

    // Back to established after transferring: failed.
    let (_graph, client) = local_graph(&[TRANSFERRING, ESTABLISHED]).await;
    let outcome = poll(&client, CALL, Duration::from_secs(5), &fast(), |_| {})
        .await
        .expect("polls");
    assert_eq!(
        (outcome.name(), outcome.is_inferred()),
        ("transferFailed", true)
    );

    // Nothing happens before the deadline: reconciled (established → failed, inferred).
    let (_graph, client) = local_graph(&[ESTABLISHED]).await;
    let outcome = poll(&client, CALL, Duration::from_millis(50), &fast(), |_| {})
        .await
        .expect("polls");
    assert_eq!(
        (outcome.name(), outcome.is_inferred()),
        ("transferFailed", true)
    );
}
