//! `graph-comms transfer`, tested by running the binary against the emulator on 127.0.0.1.

use graph_comms_emulator::ApiVersion;
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
    let base = emulator.base_url(ApiVersion::V1).to_string();
    let tenant = emulator.tenant_id().to_string();
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
            "--authority-host",
            emulator.root_url(),
        ],
        &[],
    );
    assert_eq!(code, 3);
    assert!(
        stderr.contains("AZURE_TENANT_ID is not set") && stderr.contains("--tenant"),
        "{stderr}"
    );
}

#[test]
fn the_tenant_flag_is_the_token_tenant_without_azure_tenant_id() {
    let (rt, emulator) = start_emulator();
    let _guard = rt.enter();
    let call = emulator
        .place_call(PlaceCall::new("http://127.0.0.1:9/api/calls").with_app_id("bot-app-id"))
        .expect("a call");
    let base = emulator.base_url(ApiVersion::V1).to_string();
    let (code, stdout, stderr) = run(
        &[
            "--call-id",
            &call.id,
            "--to-user",
            USER,
            "--base-url",
            &base,
            "--authority-host",
            emulator.root_url(),
            "--tenant",
            &emulator.tenant_id().to_string(),
        ],
        &[
            ("AZURE_CLIENT_ID", "bot-app-id"),
            ("AZURE_CLIENT_SECRET", "any-secret"),
        ],
    );
    assert_eq!(code, 0, "stderr: {stderr}");
    let accepted: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(accepted["status"], 202);

    // The token is asked for in --tenant's name, even when AZURE_TENANT_ID names another.
    let graph = ScriptedGraph::start(|_| (202, String::new()));
    let (code, _, stderr) = run(
        &[
            "--call-id",
            CALL,
            "--to-user",
            USER,
            "--base-url",
            &graph.base(),
            "--authority-host",
            &graph.root(),
            "--tenant",
            TENANT,
        ],
        &[
            ("AZURE_TENANT_ID", "0d1a6ea4-7a4a-4bd6-9f3e-5c1d1a2b3c4d"),
            ("AZURE_CLIENT_ID", "bot-app-id"),
            ("AZURE_CLIENT_SECRET", "any-secret"),
        ],
    );
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(
        graph.requests(),
        [
            format!("POST /{TENANT}/oauth2/v2.0/token"),
            format!("POST /v1.0/communications/calls/{CALL}/transfer"),
        ]
    );
}

#[test]
fn a_cloud_token_is_never_sent_to_another_host() {
    // Client credentials, a base URL that is no Graph host, no --authority-host: exit 2 before
    // any request, naming both ways out.
    let graph = ScriptedGraph::start(|_| (202, String::new()));
    let creds = [
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", "bot-app-id"),
        ("AZURE_CLIENT_SECRET", "any-secret"),
    ];
    for base in [graph.base(), "https://graph.example.com/v1.0".to_owned()] {
        let (code, stdout, stderr) = run(
            &["--call-id", CALL, "--to-user", USER, "--base-url", &base],
            &creds,
        );
        assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
        assert!(
            stderr.contains("--authority-host") && stderr.contains("--token"),
            "{stderr}"
        );
        assert!(stderr.contains("login.microsoftonline.com"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // The chosen cloud's authority is the one named.
    let (code, _, stderr) = run(
        &[
            "--call-id",
            CALL,
            "--to-user",
            USER,
            "--base-url",
            &graph.base(),
            "--cloud",
            "usgov-l4",
        ],
        &creds,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("login.microsoftonline.us"), "{stderr}");
    assert!(graph.requests().is_empty(), "nothing was sent");

    // A bearer token never goes over plain http to a host other than loopback.
    for base in [
        "http://graph.example.com/v1.0",
        "http://graph.microsoft.com/v1.0",
    ] {
        let (code, _, stderr) = run(
            &[
                "--call-id",
                CALL,
                "--to-user",
                USER,
                "--base-url",
                base,
                "--token",
                "t",
            ],
            &[],
        );
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("--base-url") && stderr.contains("plain http"),
            "{stderr}"
        );
    }
    // A Graph host of the cloud is fine (dry run: nothing is sent).
    let (code, _, stderr) = run(
        &[
            "--call-id",
            CALL,
            "--to-user",
            USER,
            "--base-url",
            "https://graph.microsoft.us/beta",
            "--dry-run",
        ],
        &creds,
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn graph_refusal_codes_are_explained_on_the_exit_3_line() {
    let cases = [
        (
            403,
            r#"{"error":{"code":"7504","message":"Insufficient enterprise tenant permissions, cannot access this API."}}"#,
            "7504 insufficient enterprise tenant permissions",
            "consent",
        ),
        (
            403,
            r#"{"error":{"code":7505,"message":"Request authorization tenant mismatch."}}"#,
            "7505 request authorization tenant mismatch",
            "--tenant",
        ),
        (
            400,
            r#"{"error":{"code":"8523","message":"Cannot do transfer for meeting mode"}}"#,
            "8523 cannot do transfer for meeting mode",
            "invite the target",
        ),
    ];
    for (status, body, explanation, advice) in cases {
        let graph = ScriptedGraph::start(move |_| (status, body.to_owned()));
        let (code, stdout, stderr) = run(
            &[
                "--call-id",
                CALL,
                "--to-user",
                USER,
                "--base-url",
                &graph.base(),
                "--token",
                "t",
            ],
            &[],
        );
        assert_eq!((code, stdout.as_str()), (3, ""), "{stderr}");
        assert!(
            stderr.starts_with("graph-comms: error: transfer not accepted: "),
            "{stderr}"
        );
        assert!(
            stderr.contains(explanation) && stderr.contains(advice),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // A code with no explanation: the line has none.
    let graph = ScriptedGraph::start(|_| {
        (
            403,
            r#"{"error":{"code":"Forbidden","message":"m"}}"#.to_owned(),
        )
    });
    let (code, _, stderr) = run(
        &[
            "--call-id",
            CALL,
            "--to-user",
            USER,
            "--base-url",
            &graph.base(),
            "--token",
            "t",
        ],
        &[],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(!stderr.contains("; 75"), "{stderr}");
}

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// A tiny HTTP server on 127.0.0.1: token requests get a token, every other request the
/// scripted (status, JSON body); it records each request line ("POST /path").
struct ScriptedGraph {
    addr: std::net::SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ScriptedGraph {
    fn start(reply: impl Fn(&str) -> (u16, String) + Send + 'static) -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let request = format!(
                    "{} {}",
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default()
                );
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let (status, json) = if request.ends_with("/oauth2/v2.0/token") {
                    (
                        200,
                        r#"{"token_type":"Bearer","expires_in":3599,"access_token":"tok"}"#
                            .to_owned(),
                    )
                } else {
                    reply(&request)
                };
                log.lock().expect("log").push(request);
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                    json.len()
                );
            }
        });
        Self { addr, seen }
    }

    fn root(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn base(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("log").clone()
    }
}

#[test]
fn transfers_with_a_certificate_from_the_environment() {
    use base64::Engine as _;
    use rsa::pkcs1::EncodeRsaPrivateKey;

    // A PEM as Azure's tools export it: certificate, then the RSA key (PKCS#1 here). The
    // emulator checks the assertion's shape; the certificate bytes only feed the x5t thumbprint.
    let key = graph_comms_testkit::rsa_key();
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
    let base = emulator.base_url(ApiVersion::Beta).to_string();
    let tenant = emulator.tenant_id().to_string();
    let env = [
        ("AZURE_TENANT_ID", tenant.as_str()),
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
