//! `graph-comms transfer`, tested by running the binary against the emulator on 127.0.0.1.

use graph_comms_emulator::{Emulator, EmulatorConfig, PlaceCall};

mod common;

const USER: &str = "550fae72-d251-43ec-868c-373732c2704f";
const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";

/// Runs `graph-comms transfer ARGS` with `env` (and no inherited `AZURE_*`), returning
/// (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let all: Vec<&str> = ["transfer"].iter().chain(args).copied().collect();
    common::graph_comms(&all, "", env)
}

fn start_emulator() -> (tokio::runtime::Runtime, Emulator) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let emulator = rt
        .block_on(Emulator::start(EmulatorConfig::default()))
        .expect("the emulator starts");
    (rt, emulator)
}

#[test]
fn dry_run_prints_the_exact_request_and_sends_nothing() {
    // Port 9 on loopback: nothing listens, so a send would fail with exit 3.
    let (code, stdout, stderr) = run(
        &[
            "--call-id",
            CALL,
            "--to-user",
            USER,
            "--tenant",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "--replaces",
            "e5d39592-99bd-4db8-bca8-30fb894ec51d",
            "--language-id",
            "en-us",
            "--region",
            "amer",
            "--base-url",
            "http://127.0.0.1:9/beta",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        format!(
            "POST http://127.0.0.1:9/beta/communications/calls/{CALL}/transfer\n\
             {{\"transferTarget\":{{\"identity\":{{\"user\":{{\"id\":\"{USER}\",\"tenantId\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\"}}}},\
             \"replacesCallId\":\"e5d39592-99bd-4db8-bca8-30fb894ec51d\",\"languageId\":\"en-us\",\"region\":\"amer\"}}}}\n"
        )
    );
}

#[test]
fn dry_run_for_group_calls_clouds_and_the_legacy_path() {
    let (code, stdout, _) = run(
        &[
            "--call-id",
            "odd/id",
            "--to-phone",
            "+12345678901",
            "--app-instance",
            "--cloud",
            "usgov-l5",
            "--legacy-app-calls",
            "--transferee-user",
            "751f6800-3180-414d-bd94-333364659951",
            "--transferee-participant",
            "909c6581-5130-43e9-88f3-fcb3582cde37",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(code, 0);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("POST https://dod-graph.microsoft.us/v1.0/app/calls/odd%2Fid/transfer")
    );
    let body: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(
        body["transferTarget"]["identity"]["phone"]["id"],
        "+12345678901"
    );
    assert_eq!(
        body["transferee"]["participantId"],
        "909c6581-5130-43e9-88f3-fcb3582cde37"
    );
}

#[test]
fn invalid_input_exits_2_before_anything_is_sent() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--call-id", CALL, "--to-phone", "+12345678901"],
            "application instance",
        ),
        (&["--call-id", CALL, "--to-phone", "12345"], "--to-phone"),
        (&["--call-id", CALL, "--to-user", "not-a-guid"], "--to-user"),
        (&["--call-id", "..", "--to-user", USER], "--call-id"),
    ];
    for (args, needle) in cases {
        let mut args = args.to_vec();
        args.extend(["--token", "t", "--base-url", "http://127.0.0.1:9/v1.0"]);
        let (code, stdout, stderr) = run(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stdout, "");
        assert!(
            stderr.starts_with("graph-comms: error: ") && stderr.contains(needle),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

#[test]
fn transfers_against_the_emulator_with_client_credentials() {
    let (rt, emulator) = start_emulator();
    // The emulator spawns its tasks on this runtime; the binary runs from this thread.
    let _guard = rt.enter();
    let call = emulator
        .place_call(PlaceCall::new("http://127.0.0.1:9/api/calls").with_app_id("bot-app-id"))
        .expect("a call");
    let base = emulator.base_url("v1.0");
    let tenant = emulator.tenant_id().to_owned();
    let env = [
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_ID", "bot-app-id"),
        ("AZURE_CLIENT_SECRET", "any-secret"),
        ("AZURE_AUTHORITY_HOST", emulator.root_url()),
    ];
    let (code, stdout, stderr) = run(
        &[
            "--call-id",
            &call.id,
            "--to-user",
            USER,
            "--base-url",
            &base,
        ],
        &env,
    );
    assert_eq!(code, 0, "stderr: {stderr}");
    let accepted: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(accepted["status"], 202);
    assert!(accepted["clientRequestId"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));

    // A call that does not exist: Graph's 404, one line with its code and request-id, exit 3.
    let (code, stdout, stderr) = run(
        &["--call-id", CALL, "--to-user", USER, "--base-url", &base],
        &env,
    );
    assert_eq!((code, stdout.as_str()), (3, ""), "{stderr}");
    assert!(
        stderr.starts_with("graph-comms: error: transfer not accepted: not found"),
        "{stderr}"
    );
    assert!(stderr.contains("request-id"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);

    // A token the emulator did not issue: 401, exit 3.
    let (code, _, stderr) = run(
        &[
            "--call-id",
            &call.id,
            "--to-user",
            USER,
            "--base-url",
            &base,
            "--token",
            "forged",
        ],
        &[],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("unauthorized"), "{stderr}");

    // No credentials at all: exit 3, naming what is missing.
    let (code, _, stderr) = run(
        &[
            "--call-id",
            &call.id,
            "--to-user",
            USER,
            "--base-url",
            &base,
        ],
        &[],
    );
    assert_eq!(code, 3);
    assert!(stderr.contains("AZURE_TENANT_ID is not set"), "{stderr}");
}

#[test]
fn transfers_with_a_certificate_from_the_environment() {
    use base64::Engine as _;
    use rsa::pkcs1::EncodeRsaPrivateKey;

    // A PEM as Azure's tools export it: certificate, then the RSA key (PKCS#1 here). The
    // emulator checks the assertion's shape; the certificate bytes only feed the x5t thumbprint.
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key");
    let key_pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).expect("PEM");
    let cert = base64::engine::general_purpose::STANDARD.encode([0x30u8, 0x82, 0x01, 0x0a]);
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{cert}\n-----END CERTIFICATE-----\n{}",
        *key_pem
    );
    let path =
        std::env::temp_dir().join(format!("graph-comms-cli-cert-{}.pem", std::process::id()));
    std::fs::write(&path, pem).expect("write the PEM");

    let (rt, emulator) = start_emulator();
    let _guard = rt.enter();
    let call = emulator
        .place_call(PlaceCall::new("http://127.0.0.1:9/api/calls").with_app_id("bot-app-id"))
        .expect("a call");
    let base = emulator.base_url("beta");
    let env = [
        ("AZURE_TENANT_ID", emulator.tenant_id()),
        ("AZURE_CLIENT_ID", "bot-app-id"),
        (
            "AZURE_CLIENT_CERTIFICATE_PATH",
            path.to_str().expect("UTF-8 path"),
        ),
        ("AZURE_AUTHORITY_HOST", emulator.root_url()),
    ];
    let (code, stdout, stderr) = run(
        &[
            "--call-id",
            &call.id,
            "--to-user",
            USER,
            "--base-url",
            &base,
        ],
        &env,
    );
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 0, "stderr: {stderr}");
    let accepted: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(accepted["status"], 202);
}
