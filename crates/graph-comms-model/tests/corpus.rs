//! The corpus of real payloads from Microsoft's documentation (`shared/graph-payloads/`): every
//! valid notification body decodes, every transfer request body parses, and every body that is
//! not valid JSON fails with an error that says where.

use std::path::Path;

use graph_comms_model::{CommsNotifications, TransferRequestBody};
use graph_comms_testkit::corpus_files;
use serde_json::Value;

/// Checks the error of a body whose JSON is broken: a syntax or EOF error with a position.
fn assert_says_where(err: &serde_json::Error, file: &Path) {
    assert!(
        err.is_syntax() || err.is_eof(),
        "{}: expected a JSON syntax error, got {err}",
        file.display()
    );
    assert!(err.line() > 0, "{}: no line in {err}", file.display());
}

#[test]
fn every_notification_body_decodes() {
    let Some(shared) = graph_comms_testkit::shared_dir() else {
        return;
    };
    let mut decoded = 0;
    let mut broken = 0;
    for r in corpus_files(&shared)
        .iter()
        .filter(|r| r.kind == "notification")
    {
        let text = std::fs::read_to_string(&r.path).unwrap();
        let result = serde_json::from_str::<CommsNotifications>(&text);
        match (r.json_valid, result) {
            (Some(true), Ok(batch)) => {
                let value = batch
                    .value
                    .as_ref()
                    .expect("a notification batch has `value`");
                assert!(!value.is_empty(), "{}: empty batch", r.path.display());
                // Lossless: writing it back gives the same JSON (explicit nulls aside).
                let back = serde_json::to_value(&batch).unwrap();
                let again: CommsNotifications = serde_json::from_value(back).unwrap();
                assert_eq!(again, batch, "{}", r.path.display());
                decoded += 1;
            }
            (Some(true), Err(e)) => panic!("{}: valid notification fails: {e}", r.path.display()),
            (_, Ok(_)) => panic!("{}: invalid JSON decoded", r.path.display()),
            (_, Err(e)) => {
                assert_says_where(&e, &r.path);
                broken += 1;
            }
        }
    }
    assert!(decoded >= 200, "only {decoded} notifications decoded");
    eprintln!(
        "{decoded} notification bodies decoded, {broken} invalid ones refused with a position"
    );
}

#[test]
fn every_transfer_request_body_parses_or_says_where() {
    let Some(shared) = graph_comms_testkit::shared_dir() else {
        return;
    };
    let mut parsed = 0;
    for r in corpus_files(&shared)
        .iter()
        .filter(|r| r.kind == "request" && r.dir.contains("call-transfer"))
    {
        let text = std::fs::read_to_string(&r.path).unwrap();
        match (
            r.json_valid,
            serde_json::from_str::<TransferRequestBody>(&text),
        ) {
            (Some(true), Ok(body)) => {
                let back = serde_json::to_value(&body).unwrap();
                assert_eq!(
                    serde_json::from_value::<TransferRequestBody>(back).unwrap(),
                    body,
                    "{}",
                    r.path.display()
                );
                parsed += 1;
            }
            (Some(true), Err(e)) => panic!("{}: valid request fails: {e}", r.path.display()),
            (_, Ok(_)) => panic!("{}: invalid JSON parsed", r.path.display()),
            (_, Err(e)) => assert_says_where(&e, &r.path),
        }
    }
    assert!(parsed >= 10, "only {parsed} transfer requests parsed");
}

#[test]
fn every_valid_call_resource_in_the_corpus_reads_as_a_call() {
    let Some(shared) = graph_comms_testkit::shared_dir() else {
        return;
    };
    let mut calls = 0;
    for r in corpus_files(&shared)
        .iter()
        .filter(|r| r.json_valid == Some(true))
    {
        let text = std::fs::read_to_string(&r.path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        if value.get("@odata.type").and_then(Value::as_str) == Some("#microsoft.graph.call") {
            if let Err(e) = serde_json::from_value::<graph_comms_model::Call>(value) {
                panic!("{}: call resource fails: {e}", r.path.display());
            }
            calls += 1;
        }
    }
    assert!(calls > 0, "no call resources found");
}
