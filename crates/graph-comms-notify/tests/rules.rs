//! The outcome rules for every shape Graph sends, one table row each, fed by Graph's own payloads
//! (`tests/fixtures/graph/`, copied from the corpus) or real-shaped ones.

mod common;

use std::time::Duration;

use common::*;
use graph_comms_notify::{
    decode, Applied, NotificationEvent, TrackOptions, TrackerConfig, TransferOutcome,
    TransferProgress, TransferTracker,
};

/// The call of the 2019 operation flow, spelled as those payloads do.
const OLD: &str = "57DAB8B1894C409AB240BD8BEAE78896";
/// The same call as the `call: reject` deletion spells it.
const NEW: &str = "57dab8b1-894c-409a-b240-bd8beae78896";
/// The call of the v1.0 transfer examples.
const EX1: &str = "341a0500-d4bf-4224-8b19-1581168d328b";

fn fixture(name: &str) -> &'static str {
    match name {
        "op-transferring" => include_str!("fixtures/graph/op-transferring.json"),
        "op-transfer-accepted" => include_str!("fixtures/graph/op-transfer-accepted.json"),
        "app-transferred-2019" => include_str!("fixtures/graph/app-transferred-2019.json"),
        "call-deleted-bare" => include_str!("fixtures/graph/call-deleted-bare.json"),
        "record-operation-failed" => include_str!("fixtures/graph/record-operation-failed.json"),
        "ex1-transferring" => include_str!("fixtures/graph/ex1-notification-transferring.json"),
        "ex1-accepted" => include_str!("fixtures/graph/ex1-notification-transfer-accepted.json"),
        "ex1-completed" => include_str!("fixtures/graph/ex1-notification-transfer-completed.json"),
        "ex1-failed" => include_str!("fixtures/graph/ex1-notification-transfer-failed.json"),
        other => panic!("no fixture {other}"),
    }
}

/// A body: a fixture's name, or an inline real-shaped body (starting with `{`).
fn body(spec: &str) -> Vec<NotificationEvent> {
    let text = if spec.starts_with('{') {
        spec
    } else {
        fixture(spec)
    };
    decode(text.as_bytes()).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// One body holding the notifications of several, in order (Graph batches them).
fn batch(specs: &[&str]) -> String {
    let mut value = Vec::new();
    for spec in specs {
        let text = if spec.starts_with('{') {
            (*spec).to_owned()
        } else {
            fixture(spec).to_owned()
        };
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("fixtures are JSON");
        value.extend(parsed["value"].as_array().cloned().unwrap_or_default());
    }
    serde_json::json!({ "value": value }).to_string()
}

/// What a row expects.
#[derive(Debug)]
enum Want {
    /// `Completed` whatever its codes, inferred or not.
    Completed {
        inferred: bool,
    },
    Failed {
        code: Option<i64>,
        subcode: Option<i64>,
    },
    CallEnded {
        code: Option<i64>,
        subcode: Option<i64>,
    },
    TimedOut,
}

/// Tracks `call`, applies each body's events in order, and checks the outcome (with a 30 s
/// timeout, under the paused clock).
async fn check(call: &str, bodies: &[&str], want: Want) {
    let tracker =
        TransferTracker::new(TrackerConfig::default().with_timeout(Duration::from_secs(30)));
    let handle = tracker.track(call).expect("tracks");
    for spec in bodies {
        for event in body(spec) {
            tracker.apply(&event);
        }
    }
    let outcome = handle.await;
    let ok = match &want {
        Want::Completed { inferred } => {
            outcome.is_success() && outcome.is_inferred() == *inferred && !outcome.is_late()
        }
        Want::Failed { code, subcode } => {
            matches!(outcome, TransferOutcome::Failed { .. })
                && outcome.code() == *code
                && outcome.subcode() == *subcode
        }
        Want::CallEnded { code, subcode } => {
            matches!(outcome, TransferOutcome::CallEnded { .. })
                && outcome.code() == *code
                && outcome.subcode() == *subcode
        }
        Want::TimedOut => outcome == TransferOutcome::TimedOut,
    };
    assert!(ok, "{call} {bodies:?}: want {want:?}, got {outcome:?}");
}

const ESTABLISHED_400: &str = r##"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b","resourceData":{"@odata.type":"#microsoft.graph.call","state":"established","resultInfo":{"code":400,"subcode":7505,"message":"Request authorization tenant mismatch."}}}]}"##;
const ESTABLISHED_200: &str = r##"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b","resourceData":{"@odata.type":"#microsoft.graph.call","state":"established","resultInfo":{"code":200,"subcode":0}}}]}"##;
const ESTABLISHED_BARE: &str = r##"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b","resourceData":{"@odata.type":"#microsoft.graph.call","state":"established"}}]}"##;
const DELETED_HUNG_UP: &str = r##"{"value":[{"changeType":"deleted","resourceUrl":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b","resourceData":{"@odata.type":"#microsoft.graph.call","@odata.id":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b","resultInfo":{"code":200,"subcode":5001,"message":"The conversation has ended."}}}]}"##;
const DELETED_7015: &str = r##"{"value":[{"changeType":"deleted","resourceUrl":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b","resourceData":{"@odata.type":"#microsoft.graph.call","resultInfo":{"code":0,"subcode":7015,"message":"GracefulTransferCompleted"}}}]}"##;
const EX1_DELETED_BARE: &str = r##"{"value":[{"changeType":"deleted","resourceUrl":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b","resourceData":{"@odata.type":"#microsoft.graph.call","@odata.id":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b"}}]}"##;
const OP_FAILED: &str = r##"{"value":[{"changeType":"deleted","resource":"/app/calls/57DAB8B1894C409AB240BD8BEAE78896/operations/0FE0623FD62842EDB4BD8AC290072CC5","resourceData":{"@odata.type":"#microsoft.graph.commsOperation","@odata.id":"/app/calls/57DAB8B1894C409AB240BD8BEAE78896/operations/0FE0623FD62842EDB4BD8AC290072CC5","resultInfo":{"code":"500","subCode":"7000","message":"Call transfer failed"},"status":"failed"}}]}"##;
const PROMPT_FAILED: &str = r##"{"value":[{"changeType":"deleted","resource":"/app/calls/57DAB8B1894C409AB240BD8BEAE78896/operations/11112222333344445555666677778888","resourceData":{"@odata.type":"#microsoft.graph.playPromptOperation","resultInfo":{"code":"400","subCode":"8507"},"status":"failed"}}]}"##;

#[tokio::test(start_paused = true)]
async fn deleted_calls() {
    // Graph deletes the call after `transferAccepted`, saying nothing more: completed, inferred.
    check(
        OLD,
        &[
            "op-transferring",
            "op-transfer-accepted",
            "call-deleted-bare",
        ],
        Want::Completed { inferred: true },
    )
    .await;
    check(
        EX1,
        &["ex1-transferring", "ex1-accepted", EX1_DELETED_BARE],
        Want::Completed { inferred: true },
    )
    .await;
    // Before acceptance, the same deletion means the call ended.
    check(
        NEW,
        &["op-transferring", "call-deleted-bare"],
        Want::CallEnded {
            code: None,
            subcode: None,
        },
    )
    .await;
    check(
        NEW,
        &["call-deleted-bare"],
        Want::CallEnded {
            code: None,
            subcode: None,
        },
    )
    .await;
    // A deletion that says why is classified by what it says.
    check(
        EX1,
        &["ex1-transferring", "ex1-accepted", DELETED_HUNG_UP],
        Want::CallEnded {
            code: Some(200),
            subcode: Some(5001),
        },
    )
    .await;
    check(
        EX1,
        &["ex1-transferring", DELETED_7015],
        Want::Completed { inferred: false },
    )
    .await;
    check(
        OLD,
        &[
            "op-transferring",
            "op-transfer-accepted",
            "app-transferred-2019",
        ],
        Want::Completed { inferred: false },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_deletion_after_an_outcome_changes_nothing() {
    let tracker = TransferTracker::default();
    let handle = tracker.track(EX1).expect("tracks");
    for spec in ["ex1-transferring", "ex1-failed", EX1_DELETED_BARE] {
        for event in body(spec) {
            tracker.apply(&event);
        }
    }
    let outcome = handle.await;
    assert_eq!((outcome.code(), outcome.subcode()), (Some(500), Some(7000)));
    assert_eq!(tracker.stats().late, 1);
}

#[tokio::test(start_paused = true)]
async fn back_to_established() {
    // Any code that is not a success is a failure, not only 500.
    check(
        EX1,
        &["ex1-transferring", ESTABLISHED_400],
        Want::Failed {
            code: Some(400),
            subcode: Some(7505),
        },
    )
    .await;
    check(
        EX1,
        &["ex1-transferring", "ex1-accepted", "ex1-failed"],
        Want::Failed {
            code: Some(500),
            subcode: Some(7000),
        },
    )
    .await;
    // A success code or no resultInfo is no outcome by itself.
    check(EX1, &["ex1-transferring", ESTABLISHED_200], Want::TimedOut).await;
    check(EX1, &["ex1-transferring", ESTABLISHED_BARE], Want::TimedOut).await;
    // ... and does not stop the real outcome.
    check(
        EX1,
        &["ex1-transferring", ESTABLISHED_BARE, "ex1-completed"],
        Want::Completed { inferred: false },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn operations() {
    // The older flow: progress on an operation, then the transfer's operation fails.
    check(
        OLD,
        &["op-transferring", OP_FAILED],
        Want::Failed {
            code: Some(500),
            subcode: Some(7000),
        },
    )
    .await;
    // A failed prompt or recording operation is not a failed transfer.
    check(OLD, &["op-transferring", PROMPT_FAILED], Want::TimedOut).await;
    check(
        OLD,
        &["op-transferring", "record-operation-failed"],
        Want::TimedOut,
    )
    .await;
    // Without the transfer's operation known, a failed operation is not taken for it.
    check(OLD, &[OP_FAILED], Want::TimedOut).await;
    // The operation steps are progress on the handle's stream.
    let tracker = TransferTracker::default();
    let handle = tracker.track(OLD).expect("tracks");
    for spec in [
        "op-transferring",
        "op-transfer-accepted",
        "app-transferred-2019",
    ] {
        for event in body(spec) {
            tracker.apply(&event);
        }
    }
    let mut stream = handle.progress();
    assert_eq!(stream.next().await, Some(TransferProgress::Transferring));
    assert_eq!(
        stream.next().await,
        Some(TransferProgress::TransferAccepted)
    );
    assert!(matches!(
        stream.next().await,
        Some(TransferProgress::Finished(
            TransferOutcome::Completed { .. }
        ))
    ));
}

#[tokio::test(start_paused = true)]
async fn one_body_holding_the_whole_flow() {
    let whole = batch(&["ex1-transferring", "ex1-accepted", "ex1-completed"]);
    check(EX1, &[whole.as_str()], Want::Completed { inferred: false }).await;
    // Before `track` too: buffered in order and replayed in order.
    let tracker = TransferTracker::default();
    for event in body(&whole) {
        assert_eq!(tracker.apply(&event), Applied::Buffered);
    }
    let handle = tracker.track(EX1).expect("tracks");
    let mut stream = handle.progress();
    assert_eq!(stream.next().await, Some(TransferProgress::Transferring));
    assert_eq!(
        stream.next().await,
        Some(TransferProgress::TransferAccepted)
    );
    let Some(TransferProgress::Finished(outcome)) = stream.next().await else {
        panic!("expected the outcome");
    };
    assert_eq!(
        (outcome.code(), outcome.subcode(), outcome.message()),
        (Some(0), Some(7015), Some("GracefulTransferCompleted"))
    );
}

#[tokio::test(start_paused = true)]
async fn call_ids_compare_as_graph_means_them() {
    // Tracked as one spelling, notified as the other.
    check(
        NEW,
        &[
            "op-transferring",
            "op-transfer-accepted",
            "app-transferred-2019",
        ],
        Want::Completed { inferred: false },
    )
    .await;
    check(
        OLD,
        &[
            "op-transferring",
            "op-transfer-accepted",
            "call-deleted-bare",
        ],
        Want::Completed { inferred: true },
    )
    .await;
    let tracker = TransferTracker::default();
    let _first = tracker.track(OLD).expect("tracks");
    assert!(tracker.track(NEW).is_err(), "the same call");
    assert!(tracker.track(NEW.to_uppercase()).is_err(), "the same call");
    // Other ids compare exactly.
    let _a = tracker.track("call-A").expect("tracks");
    let b = tracker.track("call-a").expect("another call");
    assert_eq!(b.call_id(), "call-a");
}

#[tokio::test(start_paused = true)]
async fn late_results_are_the_timed_out_transfers() {
    let tracker = TransferTracker::new(
        TrackerConfig::default()
            .with_timeout(Duration::from_secs(30))
            .with_late_result_window(Duration::from_secs(600)),
    );
    let handle = tracker.track(EX1).expect("tracks");
    let mut stream = handle.progress();
    tracker.apply(&body("ex1-transferring")[0]);
    tracker.apply(&body("ex1-accepted")[0]);
    assert_eq!(stream.next().await, Some(TransferProgress::Transferring));
    assert_eq!(
        stream.next().await,
        Some(TransferProgress::TransferAccepted)
    );
    assert_eq!(
        stream.next().await,
        Some(TransferProgress::Finished(TransferOutcome::TimedOut))
    );
    assert_eq!(tracker.stats().remembered, 1);
    tokio::time::advance(Duration::from_secs(120)).await;
    assert_eq!(
        tracker.apply(&body(EX1_DELETED_BARE)[0]),
        Applied::LateResult
    );
    let Some(TransferProgress::Late(late)) = stream.next().await else {
        panic!("expected the late outcome");
    };
    assert!(
        late.is_success() && late.is_inferred() && late.is_late(),
        "{late:?}"
    );
    assert_eq!(handle.late_outcome(), Some(late));
    assert_eq!(handle.outcome(), Some(TransferOutcome::TimedOut));
    assert_eq!(stream.next().await, None);
    // Reported once: the next copy is an ordinary late delivery.
    assert_eq!(tracker.apply(&body(EX1_DELETED_BARE)[0]), Applied::Late);
    let stats = tracker.stats();
    assert_eq!(
        (stats.late_results, stats.remembered, stats.open),
        (1, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn late_results_are_forgotten_after_their_window_and_bounded() {
    let mut config = TrackerConfig::default()
        .with_timeout(Duration::from_secs(30))
        .with_late_result_window(Duration::from_secs(600));
    config.max_remembered = 2;
    let tracker = TransferTracker::new(config);
    let handle = tracker.track(EX1).expect("tracks");
    let mut stream = handle.progress();
    assert_eq!(
        stream.next().await,
        Some(TransferProgress::Finished(TransferOutcome::TimedOut))
    );
    let started = tokio::time::Instant::now();
    assert_eq!(stream.next().await, None, "ends with the window");
    assert_eq!(started.elapsed(), Duration::from_secs(600));
    assert_eq!(tracker.stats().remembered, 0);
    assert_eq!(tracker.apply(&body("ex1-completed")[0]), Applied::Buffered);

    // At most two remembered: the oldest is forgotten first.
    let mut config = TrackerConfig::default().with_timeout(Duration::from_secs(1));
    config.max_remembered = 2;
    let tracker = TransferTracker::new(config);
    let handles: Vec<_> = ["c1", "c2", "c3"]
        .iter()
        .map(|c| tracker.track(*c).expect("tracks"))
        .collect();
    tokio::time::advance(Duration::from_secs(2)).await;
    tracker.sweep();
    assert_eq!(tracker.stats().remembered, 2);
    assert_eq!(
        tracker.apply(&NotificationEvent::new(
            "c1",
            graph_comms_model::CallState::Terminated,
            graph_comms_notify::EventKind::Completed
        )),
        Applied::Buffered,
        "c1 was forgotten"
    );
    assert_eq!(tracker.apply(&app_transferred("c3")), Applied::LateResult);
    drop(handles);
}

#[tokio::test(start_paused = true)]
async fn tracking_again_starts_afresh() {
    let tracker =
        TransferTracker::new(TrackerConfig::default().with_timeout(Duration::from_secs(30)));
    let first = tracker.track(EX1).expect("tracks");
    assert_eq!(first.await, TransferOutcome::TimedOut);
    assert_eq!(tracker.stats().remembered, 1);
    let second = tracker.track(EX1).expect("a new attempt");
    assert_eq!(tracker.stats().remembered, 0);
    tracker.apply(&body("ex1-transferring")[0]);
    tracker.apply(&body("ex1-failed")[0]);
    let outcome = second.await;
    assert!(
        matches!(outcome, TransferOutcome::Failed { late: false, .. }),
        "{outcome:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn tenants_are_bound() {
    const A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const B: &str = "11111111-2222-3333-4444-555555555555";
    let tracker =
        TransferTracker::new(TrackerConfig::default().with_timeout(Duration::from_secs(30)));
    // Given at `track`.
    let handle = tracker
        .track_with(EX1, TrackOptions::default().with_tenant(A))
        .expect("tracks");
    assert_eq!(
        tracker.apply_for_tenant(&body("ex1-transferring")[0], Some(B)),
        Applied::OtherTenant
    );
    assert_eq!(
        tracker.apply_for_tenant(&body("ex1-completed")[0], Some(B)),
        Applied::OtherTenant
    );
    assert_eq!(tracker.stats().other_tenant, 2);
    assert_eq!(handle.outcome(), None);
    // The right tenant, however spelled, applies.
    assert_eq!(
        tracker.apply_for_tenant(&body("ex1-transferring")[0], Some(&A.to_uppercase())),
        Applied::Progress
    );
    assert_eq!(
        handle.await,
        TransferOutcome::TimedOut,
        "only tenant B said it ended"
    );

    // Taken from the first authenticated notification, buffered before `track` too.
    let tracker = TransferTracker::default();
    assert_eq!(
        tracker.apply_for_tenant(&body("ex1-transferring")[0], Some(A)),
        Applied::Buffered
    );
    assert_eq!(
        tracker.apply_for_tenant(&body("ex1-failed")[0], Some(B)),
        Applied::Buffered
    );
    let handle = tracker
        .track_with(EX1, TrackOptions::followed())
        .expect("tracks");
    assert_eq!(handle.outcome(), None, "B's failure was not applied");
    assert_eq!(tracker.stats().other_tenant, 1);
    assert_eq!(
        tracker.apply_for_tenant(&body("ex1-completed")[0], Some(A)),
        Applied::Resolved
    );
}

#[tokio::test(start_paused = true)]
async fn followed_transfers_are_bounded_oldest_timed_out_first() {
    let tracker = TransferTracker::new(TrackerConfig::default().with_max_followed(2));
    let first = tracker
        .track_with("c1", TrackOptions::followed())
        .expect("tracks");
    let second = tracker
        .track_with("c2", TrackOptions::followed())
        .expect("tracks");
    // Transfers this process sent do not count.
    let own = tracker.track("mine").expect("tracks");
    let third = tracker
        .track_with("c3", TrackOptions::followed())
        .expect("tracks");
    assert_eq!(first.outcome(), Some(TransferOutcome::TimedOut));
    assert_eq!(
        (second.outcome(), third.outcome(), own.outcome()),
        (None, None, None)
    );
    assert_eq!(tracker.stats().evicted, 1);
    // An ended followed transfer frees its place.
    tracker.apply(&app_transferred("c2"));
    let _fourth = tracker
        .track_with("c4", TrackOptions::followed())
        .expect("tracks");
    assert_eq!(third.outcome(), None);
    assert_eq!(tracker.stats().evicted, 1);
}

#[test]
fn outcomes_say_what_happened_in_one_sentence() {
    let failed = TransferOutcome::Failed {
        code: Some(500),
        subcode: Some(7000),
        message: Some("Call transfer failed".into()),
        replaces_context: None,
        termination_reason: None,
        inferred: false,
        late: false,
    };
    assert_eq!(failed.to_string(), "transfer failed (500/7000)");
    assert!(failed
        .explanation()
        .is_some_and(|e| e.contains("still connected to the bot")));
    assert_eq!(
        TransferOutcome::completed(true).into_late().to_string(),
        "transfer completed, inferred, reported late"
    );
    assert_eq!(done_7015().to_string(), "transfer completed (0/7015)");
    assert_eq!(done_7015().message(), Some("GracefulTransferCompleted"));
    assert_eq!(done_app().termination_reason(), Some("AppTransferred"));
    assert!(TransferOutcome::TimedOut
        .explanation()
        .is_some_and(|e| e.contains("GET")));
}
