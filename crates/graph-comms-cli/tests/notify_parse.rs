//! `graph-comms notify parse`, tested by running the binary: exact output lines, exit codes 0 and 2.

use std::path::PathBuf;

mod common;

fn spec_notification(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/spec/notifications")
        .join(name)
}

/// Runs `graph-comms notify parse ARGS` with `stdin`; returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let all: Vec<&str> = ["notify", "parse"].iter().chain(args).copied().collect();
    common::graph_comms(&all, stdin, &[])
}

const KEYS: [&str; 9] = [
    "callId",
    "changeType",
    "state",
    "event",
    "resultCode",
    "resultSubcode",
    "resultMessage",
    "terminationReason",
    "replacesContext",
];

#[test]
fn a_spec_file_prints_one_exact_line() {
    let path = spec_notification("ex1-transfer-completed.json");
    let (code, stdout, stderr) = run(&[path.to_str().expect("utf-8 path")], "");
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        concat!(
            r#"{"callId":"341a0500-d4bf-4224-8b19-1581168d328b","changeType":"deleted","#,
            r#""state":"terminated","event":"transferCompleted","resultCode":0,"resultSubcode":7015,"#,
            r#""resultMessage":"GracefulTransferCompleted","terminationReason":null,"replacesContext":null}"#,
            "\n"
        )
    );
}

#[test]
fn stdin_batches_print_one_line_per_notification_with_exactly_the_keys() {
    let body = r#"{"value":[
      {"changeType":"updated","resourceUrl":"/communications/calls/c1",
       "resourceData":{"state":"established","resultInfo":{"code":"500","subCode":"7700","message":"m"},
                       "replacesContext":"ctx","unknown":{"deep":[1]}}},
      {"changeType":"updated","resourceUrl":"/communications/calls/c1/participants",
       "resourceData":[{"id":"p"}]},
      {"changeType":"deleted","resource":"/app/calls/c2",
       "resourceData":{"state":"terminated","terminationReason":"AppTransferred"}},
      {"changeType":"updated","resourceUrl":"/communications/calls/c3",
       "resourceData":{"state":"transferring","resultInfo":{"code":"200","subCode":"transferring"}}}
    ]}"#;
    for args in [&[][..], &["-"][..]] {
        let (code, stdout, stderr) = run(args, body);
        assert_eq!((code, stderr.as_str()), (0, ""), "{args:?}");
        let lines: Vec<serde_json::Map<String, serde_json::Value>> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
            .collect();
        assert_eq!(lines.len(), 4);
        for line in &lines {
            let keys: Vec<&str> = line.keys().map(String::as_str).collect();
            let mut expected = KEYS.to_vec();
            expected.sort_unstable();
            let mut got = keys.clone();
            got.sort_unstable();
            assert_eq!(got, expected);
        }
        let events: Vec<&str> = lines
            .iter()
            .map(|l| l["event"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            events,
            [
                "transferFailed",
                "other",
                "transferCompleted",
                "transferring"
            ]
        );
        assert_eq!(lines[0]["resultCode"], 500);
        assert_eq!(lines[0]["resultSubcode"], 7700);
        assert_eq!(lines[0]["replacesContext"], "ctx");
        assert_eq!(lines[1]["callId"], "c1");
        assert_eq!(lines[1]["state"], serde_json::Value::Null);
        assert_eq!(lines[2]["callId"], "c2");
        assert_eq!(lines[3]["resultSubcode"], serde_json::Value::Null);
    }
}

#[test]
fn input_that_is_not_a_json_object_exits_2_with_line_and_column() {
    for (input, position) in [
        ("{\n  \"value\": [\n    {,}\n  ]\n}", "line 3, column"),
        ("not json", "line 1, column"),
        ("[1, 2]", "line 1, column"),
        ("\"text\"", "line 1, column"),
        ("{\"value\": 3}", "line 1, column"),
        ("", "line 1, column"),
    ] {
        let (code, stdout, stderr) = run(&[], input);
        assert_eq!(code, 2, "{input:?}: {stderr}");
        assert_eq!(stdout, "", "{input:?}");
        assert!(
            stderr.starts_with("graph-comms: error: <stdin>: "),
            "{stderr}"
        );
        assert!(stderr.contains(position), "{input:?}: {stderr}");
    }
}

#[test]
fn an_object_without_value_or_a_missing_file_exits_2() {
    let (code, _, stderr) = run(&[], "{}");
    assert_eq!(code, 2);
    assert!(stderr.contains("$.value"), "{stderr}");
    let (code, _, stderr) = run(&["/nonexistent/notification.json"], "");
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
}
