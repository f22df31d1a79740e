//! `graph-comms validate`, tested by running the binary: stderr lines, exit codes 0 and 2.

use std::path::PathBuf;

mod common;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../graph-comms-transfer/tests/fixtures")
        .join(name)
}

/// Runs `graph-comms validate ARGS` with `stdin` and returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let all: Vec<&str> = ["validate"].iter().chain(args).copied().collect();
    common::graph_comms(&all, stdin, &[])
}

/// One case: arguments, stdin, expected exit code and stderr.
fn check(args: &[&str], stdin: &str, code: i32, stderr: &str) {
    let (got_code, stdout, got_stderr) = run(args, stdin);
    assert_eq!(
        (got_code, got_stderr.as_str()),
        (code, stderr),
        "validate {args:?} with stdin {stdin:?}"
    );
    assert_eq!(stdout, "", "nothing on stdout");
}

#[test]
fn the_page_examples_are_valid_for_their_calls() {
    let tenant = ["--tenant", TENANT];
    for (file, call, extra) in [
        ("example1.json", "peer", &[][..]),
        ("example2.json", "peer", &[][..]),
        ("example3.json", "peer", &["--app-instance"][..]),
        ("example4.json", "peer", &["--app-instance"][..]),
        ("example5.json", "group", &[][..]),
    ] {
        let path = fixture(file);
        let path = path.to_str().expect("a UTF-8 path");
        let mut args = vec!["--call", call, path];
        args.extend_from_slice(extra);
        args.extend_from_slice(&tenant);
        check(&args, "", 0, "");
    }
}

#[test]
fn stdin_with_dash_or_no_file() {
    let body =
        r#"{"transferTarget":{"identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f"}}}}"#;
    check(&["--call", "peer", "-"], body, 0, "");
    check(&["--call", "peer"], body, 0, "");
}

#[test]
fn errors_exit_2_with_one_path_message_line_each() {
    let body = r#"{"transferTarget":{"identity":{"phone":{"id":"12345"}}}}"#;
    check(
        &["--call", "group"],
        body,
        2,
        "transferTarget.identity.phone.id: \"12345\" is not E.164 (it must start with '+' and a country code)\n\
         transferTarget.identity.phone: transferring to a PSTN number needs a bot that is an application instance with a phone number\n\
         transferee: required when transferring from a group call (with an identity and a participantId)\n",
    );
    check(
        &["--call", "peer", "--app-instance"],
        body,
        2,
        "transferTarget.identity.phone.id: \"12345\" is not E.164 (it must start with '+' and a country code)\n",
    );
}

#[test]
fn warnings_alone_exit_0() {
    let body = r#"{"transferTarget":{"endpointType":"hologram","identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f"}}},
                  "transferee":{"identity":{"user":{"id":"751f6800-3180-414d-bd94-333364659951"}},"participantId":"p1"}}"#;
    check(
        &["--call", "peer"],
        body,
        0,
        "transferTarget.endpointType: warning: \"hologram\" is not a known endpointType (known: default, voicemail, skypeForBusiness, skypeForBusinessVoipPhone, unknownFutureValue); sent as is\n\
         transferee: warning: Graph documents a transferee only for group calls; this is a peer call\n",
    );
}

#[test]
fn tenant_of_the_call() {
    let body = r#"{"transferTarget":{"identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f","tenantId":"0d5a2f0c-1111-4b2e-9c3a-8f8f8f8f8f8f"}}}}"#;
    check(&["--call", "peer"], body, 0, "");
    check(
        &["--call", "peer", "--tenant", TENANT],
        body,
        2,
        "transferTarget.identity.user.tenantId: tenant 0d5a2f0c-1111-4b2e-9c3a-8f8f8f8f8f8f differs from 72f988bf-86f1-41af-91ab-2d7cd011db47 (the call's tenant); a transfer stays inside one tenant (Graph answers 7505 tenant mismatch)\n",
    );
}

#[test]
fn input_that_is_not_a_json_object_exits_2() {
    check(
        &["--call", "peer"],
        "[1, 2]",
        2,
        "graph-comms: error: <stdin>: the body is an array, not a JSON object (a transfer request body is an object with transferTarget)\n",
    );
    check(
        &["--call", "peer"],
        "{\n  \"transferTarget\": {\n    \"identity\": }\n}",
        2,
        "graph-comms: error: <stdin>: not valid JSON at line 3, column 17: expected value\n",
    );
    check(
        &["--call", "peer"],
        "",
        2,
        "graph-comms: error: <stdin>: not valid JSON at line 1, column 0: EOF while parsing a value\n",
    );
}

#[test]
fn example5_as_printed_is_broken_json() {
    let path = fixture("example5.as-printed.txt");
    let path = path.to_str().expect("a UTF-8 path");
    check(
        &["--call", "group", path],
        "",
        2,
        &format!(
            "graph-comms: error: {path}: not valid JSON at line 11, column 3: trailing comma\n"
        ),
    );
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, stderr) = run(&["--call", "peer", "--tenant", "contoso"], "{}");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("\"contoso\" is not a GUID"), "{stderr}");
    let (code, _, stderr) = run(&["--call", "conference"], "{}");
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = run(&["--call", "peer", "/nonexistent/body.json"], "");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("graph-comms: error: cannot read /nonexistent/body.json: "),
        "{stderr}"
    );
}
