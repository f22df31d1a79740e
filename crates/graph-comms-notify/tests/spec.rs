//! Every notification of the spec page classified and snapshotted; each of its five example flows
//! tracked to the right outcome.

use std::path::Path;

use graph_comms_notify::{decode, EventKind, TransferOutcome, TransferTracker};
use graph_comms_testkit::fixtures_dir;

fn notifications_dir() -> std::path::PathBuf {
    fixtures_dir().join("spec").join("notifications")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The kind a spec notification must have, from its file name (`ex2-transfer-failed.json`).
fn expected_kind(name: &str) -> &'static str {
    for (suffix, kind) in [
        ("-transferring.json", "transferring"),
        ("-transfer-accepted.json", "transferAccepted"),
        ("-transfer-completed.json", "transferCompleted"),
        ("-transfer-failed.json", "transferFailed"),
    ] {
        if name.ends_with(suffix) {
            return kind;
        }
    }
    panic!("unexpected fixture name {name}")
}

#[test]
fn every_spec_notification_is_classified() {
    let files = graph_comms_testkit::files_with_suffix(&notifications_dir(), ".json");
    assert_eq!(files.len(), 20, "the spec page has 20 notifications");
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let events = decode(&read(path)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(events.len(), 1, "{name}");
        let event = &events[0];
        assert_eq!(event.kind.name(), expected_kind(name), "{name}");
        assert_eq!(
            event.call_id.as_deref(),
            Some("341a0500-d4bf-4224-8b19-1581168d328b"),
            "{name}"
        );
    }
}

#[test]
fn spec_notifications_snapshot() {
    insta::glob!(
        "../../../tests/fixtures/spec/notifications",
        "*.json",
        |path| {
            let events = decode(&read(path)).expect("decodes");
            let lines: Vec<String> = events.iter().map(|e| e.to_json_line()).collect();
            insta::assert_snapshot!(lines.join("\n"));
        }
    );
}

#[test]
fn failures_carry_code_subcode_message_and_context() {
    let events = decode(&read(&notifications_dir().join("ex2-transfer-failed.json"))).expect("ok");
    assert_eq!(
        events[0].kind,
        EventKind::Failed {
            code: 500,
            subcode: Some(7700),
            message: Some("<message>".into()),
            replaces_context: Some("<replacesContext>".into()),
        }
    );
    assert!(events[0].explanation().is_some());
}

/// Runs one example's flow (transferring, accepted, then `last`) through a tracker.
async fn flow(example: u8, last: &str) -> TransferOutcome {
    let tracker = TransferTracker::default();
    let handle = tracker
        .track("341a0500-d4bf-4224-8b19-1581168d328b")
        .expect("tracks");
    for step in ["transferring", "transfer-accepted", last] {
        let path = notifications_dir().join(format!("ex{example}-{step}.json"));
        for event in decode(&read(&path)).expect("decodes") {
            tracker.apply(&event);
        }
    }
    let outcome = handle.await;
    assert_eq!(tracker.stats().open, 0, "ended transfers are removed");
    outcome
}

#[tokio::test(start_paused = true)]
async fn each_example_flow_resolves_right() {
    for example in 1..=5 {
        let completed = flow(example, "transfer-completed").await;
        assert!(
            matches!(
                completed,
                TransferOutcome::Completed {
                    inferred: false,
                    late: false,
                    ..
                }
            ),
            "example {example}: {completed:?}"
        );
        let failed = flow(example, "transfer-failed").await;
        let expected_subcode = if example == 2 || example == 4 {
            7700
        } else {
            7000
        };
        assert!(
            matches!(failed, TransferOutcome::Failed { code: Some(500), subcode: Some(s), .. } if s == expected_subcode),
            "example {example}: {failed:?}"
        );
    }
}
