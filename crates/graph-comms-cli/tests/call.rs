//! `graph-comms call`, tested by running the binary against the emulator on 127.0.0.1.

use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{Emulator, EmulatorConfig, PlaceCall};

mod common;

const USER: &str = "550fae72-d251-43ec-868c-373732c2704f";
const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const INSTANCE: &str = "3d913abb-aec0-4964-8fa6-3c6850c4f278";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// Nothing listens on port 9: callbacks to it fail at once, and nothing leaves the machine.
const CALLBACK: &str = "http://127.0.0.1:9/api/calls";
const APP: &str = "bot-app-id";

/// Runs `graph-comms call ARGS` with `env`, returning (exit code, stdout, stderr).
fn call(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let all: Vec<&str> = ["call"].iter().chain(args).copied().collect();
    common::graph_comms(&all, "", env)
}

/// An emulator, and the flags and environment that point the CLI at it.
struct Graph {
    rt: tokio::runtime::Runtime,
    emulator: Emulator,
    base: String,
    env: Vec<(&'static str, String)>,
}

impl Graph {
    fn start() -> Self {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        let emulator = rt
            .block_on(Emulator::start(EmulatorConfig::default()))
            .expect("the emulator starts");
        let base = emulator.base_url(ApiVersion::V1).to_string();
        let env = vec![
            ("AZURE_TENANT_ID", emulator.tenant_id().to_string()),
            ("AZURE_CLIENT_ID", APP.to_owned()),
            ("AZURE_CLIENT_SECRET", "any-secret".to_owned()),
            ("AZURE_AUTHORITY_HOST", emulator.root_url().to_owned()),
        ];
        Self {
            rt,
            emulator,
            base,
            env,
        }
    }

    /// Runs `graph-comms call SUB ARGS --base-url BASE` against the emulator.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let _guard = self.rt.enter();
        let mut all = args.to_vec();
        all.extend(["--base-url", &self.base]);
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        call(&all, &env)
    }

    /// A call ringing the bot, for it to answer, reject or redirect.
    fn incoming(&self) -> String {
        let _guard = self.rt.enter();
        self.emulator
            .place_call(PlaceCall::new(CALLBACK).with_app_id(APP).answered_by_bot())
            .expect("a call")
            .id
    }

    fn state(&self, call_id: &str) -> Option<String> {
        self.emulator.call_state(call_id)
    }
}

fn json(stdout: &str) -> serde_json::Value {
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    serde_json::from_str(stdout.trim()).expect("one JSON object")
}

#[test]
fn dry_runs_print_each_request_and_send_nothing() {
    let c = format!("http://127.0.0.1:9/beta/communications/calls/{CALL}");
    let cases: [(&[&str], String); 6] = [
        (
            &["create", "--to-user", USER, "--callback-uri", "https://bot.contoso.com/cb", "--tenant", TENANT],
            format!(
                "POST http://127.0.0.1:9/beta/communications/calls\n\
                 {{\"@odata.type\":\"#microsoft.graph.call\",\"callbackUri\":\"https://bot.contoso.com/cb\",\
                 \"direction\":\"outgoing\",\"mediaConfig\":{{\"@odata.type\":\"#microsoft.graph.serviceHostedMediaConfig\"}},\
                 \"requestedModalities\":[\"audio\"],\"targets\":[{{\"identity\":{{\"user\":{{\"id\":\"{USER}\"}}}}}}],\
                 \"tenantId\":\"{TENANT}\"}}\n"
            ),
        ),
        (
            &["answer", "--call-id", CALL, "--callback-uri", "https://bot.contoso.com/cb"],
            format!(
                "POST {c}/answer\n{{\"callbackUri\":\"https://bot.contoso.com/cb\",\"mediaConfig\":\
                 {{\"@odata.type\":\"#microsoft.graph.serviceHostedMediaConfig\"}},\"acceptedModalities\":[\"audio\"]}}\n"
            ),
        ),
        (
            &["reject", "--call-id", CALL, "--reason", "forbidden"],
            format!("POST {c}/reject\n{{\"reason\":\"forbidden\"}}\n"),
        ),
        (
            &["redirect", "--call-id", CALL, "--to-phone", "+12345678901", "--app-instance"],
            format!(
                "POST {c}/redirect\n{{\"targets\":[{{\"identity\":{{\"phone\":{{\"@odata.type\":\
                 \"#microsoft.graph.identity\",\"id\":\"+12345678901\"}}}}}}]}}\n"
            ),
        ),
        (&["hangup", "--call-id", CALL], format!("DELETE {c}\n")),
        (&["get", "--call-id", CALL], format!("GET {c}\n")),
    ];
    for (args, expected) in cases {
        let mut all = args.to_vec();
        all.extend(["--base-url", "http://127.0.0.1:9/beta", "--dry-run"]);
        let (code, stdout, stderr) = call(&all, &[]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{args:?}");
        assert_eq!(stdout, expected, "{args:?}");
    }
}

#[test]
fn a_pstn_call_comes_from_the_bots_application_instance() {
    let (code, stdout, stderr) = call(
        &[
            "create",
            "--to-phone",
            "+12345678901",
            "--source-app-instance",
            INSTANCE,
            "--callback-uri",
            "https://bot.contoso.com/cb",
            "--tenant",
            TENANT,
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let body = json(stdout.lines().nth(1).expect("a body"));
    assert_eq!(
        body["source"]["identity"]["applicationInstance"]["id"],
        INSTANCE
    );
    assert_eq!(
        body["targets"][0]["identity"]["phone"]["id"],
        "+12345678901"
    );
    // Without the tenant the body breaks a rule: exit 2, naming it.
    let (code, _, stderr) = call(
        &[
            "create",
            "--to-phone",
            "+12345678901",
            "--source-app-instance",
            INSTANCE,
            "--callback-uri",
            "https://bot.contoso.com/cb",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("tenantId"), "{stderr}");
}

#[test]
fn bad_input_exits_2_naming_the_flag_and_sends_nothing() {
    for (args, needle) in [
        (
            &[
                "create",
                "--to-phone",
                "12345678901",
                "--source-app-instance",
                INSTANCE,
                "--callback-uri",
                "https://b/cb",
                "--tenant",
                TENANT,
            ][..],
            "--to-phone",
        ),
        (
            &[
                "create",
                "--to-user",
                "not-a-guid",
                "--callback-uri",
                "https://b/cb",
            ],
            "--to-user",
        ),
        (
            &[
                "create",
                "--to-user",
                USER,
                "--callback-uri",
                "http://bot.contoso.com/cb",
            ],
            "callbackUri",
        ),
        (
            &[
                "answer",
                "--call-id",
                "abc",
                "--callback-uri",
                "https://b/cb",
            ],
            "--call-id",
        ),
        (
            &["redirect", "--call-id", CALL, "--to-phone", "+1 234"],
            "--to-phone",
        ),
        (
            &["redirect", "--call-id", CALL, "--to-phone", "+12345678901"],
            "application instance",
        ),
        (&["hangup", "--call-id", "../transfer"], "--call-id"),
        (&["get", "--call-id", ""], "--call-id"),
    ] {
        // Port 9: a request sent would fail with exit 3, not 2.
        let mut all = args.to_vec();
        all.extend(["--base-url", "http://127.0.0.1:9/v1.0", "--token", "t"]);
        let (code, stdout, stderr) = call(&all, &[]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert!(stderr.starts_with("graph-comms: error: "), "{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // A missing target or a phone call without its source is refused by the parser.
    for args in [
        &["create", "--callback-uri", "https://b/cb"][..],
        &[
            "create",
            "--to-phone",
            "+12345678901",
            "--callback-uri",
            "https://b/cb",
        ],
        &["reject", "--call-id", CALL, "--reason", "later"],
    ] {
        let (code, _, _) = call(args, &[]);
        assert_eq!(code, 2, "{args:?}");
    }
}

#[test]
fn create_then_get_then_hangup_against_the_emulator() {
    let g = Graph::start();
    let tenant = g.emulator.tenant_id().to_string();
    let (code, stdout, stderr) = g.run(&[
        "create",
        "--to-user",
        USER,
        "--callback-uri",
        CALLBACK,
        "--tenant",
        &tenant,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let created = json(&stdout);
    let id = created["id"].as_str().expect("the call's id").to_owned();
    assert!(created["state"].is_string(), "{created}");
    assert_eq!(created["direction"], "outgoing");
    // The loopback http callback is allowed, with a warning.
    assert!(stderr.contains("warning: callbackUri"), "{stderr}");

    let (code, stdout, stderr) = g.run(&["get", "--call-id", &id]);
    assert_eq!(code, 0, "{stderr}");
    let got = json(&stdout);
    assert_eq!(got["id"], id.as_str());
    assert_eq!(
        Some(got["state"].as_str().expect("a state").to_owned()),
        g.state(&id)
    );

    let (code, stdout, stderr) = g.run(&["hangup", "--call-id", &id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["status"], 204);

    // The call is gone: Graph's 404 and its code, exit 3.
    let (code, stdout, stderr) = g.run(&["get", "--call-id", &id]);
    assert_eq!((code, stdout.as_str()), (3, ""), "{stderr}");
    assert!(stderr.contains("itemNotFound"), "{stderr}");
}

#[test]
fn answer_reject_and_redirect_incoming_calls() {
    let g = Graph::start();
    let answered = g.incoming();
    assert_eq!(g.state(&answered).as_deref(), Some("incoming"));
    let (code, stdout, stderr) =
        g.run(&["answer", "--call-id", &answered, "--callback-uri", CALLBACK]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["status"], 202);
    assert_ne!(g.state(&answered).as_deref(), Some("incoming"));
    // An answered call is no longer incoming: Graph refuses to answer it again (exit 3).
    let (code, _, stderr) = g.run(&["reject", "--call-id", &answered]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("only an incoming call"), "{stderr}");

    // Rejected or redirected, the call is on its way out: a second action finds no call.
    for action in [
        &["reject", "--reason", "busy"][..],
        &["redirect", "--to-user", USER],
    ] {
        let id = g.incoming();
        let mut args = action.to_vec();
        args.extend(["--call-id", &id]);
        let (code, stdout, stderr) = g.run(&args);
        assert_eq!(code, 0, "{action:?}: {stderr}");
        assert_eq!(json(&stdout)["status"], 202);
        let (code, _, stderr) = g.run(&["answer", "--call-id", &id, "--callback-uri", CALLBACK]);
        assert_eq!(code, 3, "{action:?}: {stderr}");
        assert!(stderr.contains("itemNotFound"), "{stderr}");
    }
}

#[test]
fn an_unknown_call_exits_3_with_graphs_error_code() {
    let g = Graph::start();
    for args in [
        &["get", "--call-id", CALL][..],
        &["hangup", "--call-id", CALL],
        &["answer", "--call-id", CALL, "--callback-uri", CALLBACK],
        &["reject", "--call-id", CALL],
        &["redirect", "--call-id", CALL, "--to-user", USER],
    ] {
        let (code, stdout, stderr) = g.run(args);
        assert_eq!((code, stdout.as_str()), (3, ""), "{args:?}: {stderr}");
        assert!(stderr.contains("itemNotFound"), "{args:?}: {stderr}");
        assert!(stderr.contains("request-id"), "{args:?}: {stderr}");
    }
}
