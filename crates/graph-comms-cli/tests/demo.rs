//! `graph-comms demo` run as a user runs it: the binary, the emulator, the receiver and the
//! tracker, over 127.0.0.1, every scenario and failure branch.

use serde_json::Value;

mod common;

/// A scenario's outcome, result code, sub-code and termination reason.
type Ending = (String, Option<i64>, Option<i64>, Option<String>);

fn demo(args: &[&str]) -> (i32, String, String) {
    let all: Vec<&str> = ["demo"].iter().chain(args).copied().collect();
    common::graph_comms(&all, "", &[])
}

#[test]
fn every_scenario_ends_as_scripted() {
    let (code, stdout, stderr) = demo(&["--json", "--delay-ms", "0"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let got: Vec<Ending> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["asScripted"], true, "{r}");
            (
                r["outcome"].as_str().unwrap().to_owned(),
                r["resultCode"].as_i64(),
                r["resultSubcode"].as_i64(),
                r["terminationReason"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let completed = |code, sub| ("completed".to_owned(), Some(code), Some(sub), None);
    let app_transferred = (
        "completed".to_owned(),
        None,
        None,
        Some("AppTransferred".to_owned()),
    );
    assert_eq!(got[0], completed(0, 7015), "ex1");
    assert_eq!(got[1], app_transferred, "ex2");
    assert_eq!(got[2], completed(0, 7015), "ex3");
    assert_eq!(got[3], app_transferred, "ex4");
    assert_eq!(got[4], completed(0, 7015), "ex5");
    assert_eq!(
        (got[5].0.as_str(), got[5].1, got[5].2),
        ("failed", Some(500), Some(7000))
    );
    assert_eq!(
        (got[6].0.as_str(), got[6].1, got[6].2),
        ("failed", Some(500), Some(7700))
    );
    assert_eq!(got[7].0, "call ended");
    // The call offered to the bot, answered through the receiver and the client, transferred.
    assert_eq!(got[8], completed(0, 7015), "incoming");
    assert!(
        rows[8]["name"].as_str().unwrap().contains("incoming"),
        "{}",
        rows[8]
    );
    // The consultations: transferred, rolled back (declined), rolled back (7700).
    assert_eq!(got[9], app_transferred, "consult, target answers");
    assert_eq!(
        got[10],
        ("rolledBack".to_owned(), Some(603), Some(0), None),
        "consult, target declines"
    );
    assert_eq!(
        got[11],
        ("rolledBack".to_owned(), Some(500), Some(7700), None),
        "consult, 7700"
    );
    // `graph-comms bot`'s runtime: the consulted target declines, the next target takes the call.
    assert_eq!(got[12], completed(0, 7015), "incoming, bot rules");
    assert!(
        rows[12]["name"].as_str().unwrap().contains("incoming"),
        "{}",
        rows[12]
    );
    assert_eq!(rows.len(), 13);
}

/// Asserts that `steps` appear in `stdout` in this order.
fn assert_in_order(stdout: &str, steps: &[&str]) {
    let mut rest = stdout;
    for step in steps {
        let at = rest
            .find(step)
            .unwrap_or_else(|| panic!("missing {step:?} (in order) in:\n{stdout}"));
        rest = &rest[at..];
    }
}

#[test]
fn plain_output_shows_the_flow_and_the_table() {
    let (code, stdout, stderr) = demo(&["--delay-ms", "0", "--only", "1,6"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for line in [
        "[1/13] ex1 peer call -> Teams user",
        "202 Accepted",
        "transferring",
        "completed (0/7015)",
        "failed (500/7000)",
        "2 of 2 scenarios ended as scripted",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn the_incoming_scenario_answers_then_transfers() {
    let (code, stdout, stderr) = demo(&["--delay-ms", "0", "--only", "9"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let steps = [
        "[9/13] incoming: answered -> Teams user",
        "incoming call offered to the bot",
        "incoming call from",
        "answer 202 Accepted",
        "call established",
        "POST .../transfer",
        "completed (0/7015)",
        "1 of 1 scenarios ended as scripted",
    ];
    // In this order: answered before transferred.
    assert_in_order(&stdout, &steps);
}

#[test]
fn consultations_show_hold_unhold_and_hang_up() {
    let (code, stdout, stderr) = demo(&["--delay-ms", "0", "--only", "10,11,12"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines = |prefix: &str| -> Vec<String> {
        stdout
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
            .collect()
    };
    let answered = lines("[10/13] consult, target answers");
    let declined = lines("[11/13] consult, target declines");
    let failed = lines("[12/13] consult, transfer fails (7700)");
    let has = |steps: &[String], step: &str| steps.iter().any(|s| s.starts_with(step));
    for steps in [&answered, &declined, &failed] {
        assert!(has(steps, "caller on hold (startHoldMusic)"), "{steps:?}");
        assert!(has(steps, "consultation call "), "{steps:?}");
    }
    assert!(has(&answered, "target answered"), "{answered:?}");
    assert!(has(&answered, "completed (AppTransferred)"), "{answered:?}");
    assert!(!has(&answered, "caller off hold"), "{answered:?}");
    assert!(
        has(&declined, "rolling back: the target declined"),
        "{declined:?}"
    );
    assert!(
        has(&declined, "caller off hold (stopHoldMusic)"),
        "{declined:?}"
    );
    assert!(has(&declined, "rolledBack (603/0)"), "{declined:?}");
    assert!(has(&failed, "transferring"), "{failed:?}");
    assert!(has(&failed, "consultation call hung up"), "{failed:?}");
    assert!(
        has(&failed, "caller off hold (stopHoldMusic)"),
        "{failed:?}"
    );
    assert!(has(&failed, "rolledBack (500/7700)"), "{failed:?}");
    assert!(
        stdout.contains("3 of 3 scenarios ended as scripted"),
        "{stdout}"
    );
}

#[test]
fn the_bot_scenario_rolls_back_then_puts_the_caller_through() {
    let (code, stdout, stderr) = demo(&["--delay-ms", "0", "--only", "13"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let steps = [
        "[13/13] incoming: bot rules, 2nd target",
        "+14255550123 rings +14255550100: the bot answers, rule \"sales line\"",
        "consult user:550fae72-d251-43ec-868c-373732c2704f: rolledBack (declined), then blind \
         user:8a34a46b-3d17-4adc-8dce-dc4e7d572698: completed",
        "completed (0/7015)",
        "1 of 1 scenarios ended as scripted",
    ];
    assert_in_order(&stdout, &steps);
    // The bot's per-call stderr line is not printed by the demo.
    assert!(!stderr.contains("graph-comms: call"), "{stderr}");
}

#[test]
fn a_bad_scenario_number_is_invalid_input() {
    let (code, _, stderr) = demo(&["--only", "14"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        "graph-comms: error: --only 14: scenarios are numbered 1 to 13"
    );
}
