//! `graph-comms bot` against the emulator: the binary answers the calls the emulator offers it,
//! transfers them as `--transfer-to` or the rules say, serves `/healthz` and `/metrics`, writes
//! one JSON line per call, and shuts down gracefully on SIGTERM; with `--store`, several instances
//! on one `redis-server` (started by the test) share the offered calls.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graph_comms_emulator::{ApiVersion, CallTarget, Emulator, PlaceCall, Script, TransferFlow};
use serde_json::Value;

mod common;
#[path = "common/emulator.rs"]
mod emulator;

const APP: &str = "9ecd52e5-6592-42b7-b562-093f37f13bde";
const ALICE: &str = "550fae72-d251-43ec-868c-373732c2704f";
const BOB: &str = "8a34a46b-3d17-4adc-8dce-dc4e7d572698";
const CAROL: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const DAVE: &str = "6fa459ea-ee8a-4ca4-894e-db77e160355e";
const QUEUE: &str = "751f6800-3180-414d-bd94-333364659951";
const LINE: &str = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";

/// The emulator, on its own runtime (the test thread stays synchronous).
struct Graph {
    rt: tokio::runtime::Runtime,
    emulator: Emulator,
}

impl Graph {
    fn start() -> Graph {
        let (rt, emulator) = emulator::start(APP);
        Graph { rt, emulator }
    }

    /// Places a call at the bot, offered `incoming` for it to answer.
    fn ring(&self, call: PlaceCall) -> String {
        let _guard = self.rt.enter();
        self.emulator
            .place_call(call.with_app_id(APP).answered_by_bot())
            .map(|c| c.id)
            .expect("a call")
    }

    fn call_to(bot: &Bot, flow: TransferFlow) -> PlaceCall {
        PlaceCall::new(bot.callback.clone()).with_script(Script::new(flow).with_delay_ms(10))
    }
}

/// The bot binary, running; its stdout lines and stderr collected by threads.
struct Bot {
    child: Child,
    listen: String,
    callback: String,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// The stderr reader, which ends when the process has exited and its stderr is all read.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Bot {
    fn start(graph: &Graph, args: &[&str]) -> Bot {
        let listen = format!("127.0.0.1:{}", graph_comms_testkit::free_port());
        let callback = format!("http://{listen}/api/calls");
        let e = &graph.emulator;
        let mut child = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
            .args(["bot", "--app-id", APP, "--listen", &listen])
            .args(["--callback-uri", &callback])
            .args(["--openid-config", &e.openid_config_url()])
            .args(["--base-url", e.base_url(ApiVersion::V1).as_str()])
            .args(["--transfer-timeout", "10"])
            .args(args)
            .env("AZURE_TENANT_ID", e.tenant_id().to_string())
            .env("AZURE_CLIENT_ID", APP)
            .env("AZURE_CLIENT_SECRET", "any-secret")
            .env("AZURE_AUTHORITY_HOST", e.root_url())
            .env_remove("GRAPH_COMMS_TOKEN")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut pipe = child.stderr.take().expect("stderr");
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock().expect("lock").push_str(&text);
            }
        });
        let bot = Bot {
            child,
            listen,
            callback,
            lines,
            stderr,
            stderr_reader: Some(stderr_reader),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !bot.stderr().contains("bot listening on") {
            assert!(
                Instant::now() < deadline,
                "the bot did not start: {}",
                bot.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        bot
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits (10 s at most) until stderr contains `needle`.
    fn wait_stderr(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{needle:?} not in stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The next `n` per-call JSON lines, by call id.
    fn calls(&self, n: usize) -> HashMap<String, Value> {
        let mut calls = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while calls.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "{} of {n} call lines; stderr:\n{}",
                    calls.len(),
                    self.stderr()
                )
            });
            let value: Value = serde_json::from_str(&line).expect("a JSON line");
            let id = value["callId"].as_str().expect("callId").to_owned();
            calls.insert(id, value);
        }
        calls
    }

    /// `GET path` on the bot's listener: (status, body).
    fn get(&self, path: &str) -> (u16, String) {
        http(&self.listen, "GET", path, "")
    }

    /// Sends SIGTERM (without waiting).
    fn signal(&self) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
    }

    /// Sends SIGTERM and waits for the exit: (exit code, stderr).
    fn terminate(self) -> (i32, String) {
        self.signal();
        self.exited()
    }

    /// Waits for the exit (after a signal): (exit code, stderr).
    fn exited(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(40);
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "no exit: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        (code, self.stderr())
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a fresh connection: (status, body).
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    request(addr, method, path, body, "")
}

/// A POST with extra header lines (each ending in CRLF): (status, body).
fn http_with(addr: &str, path: &str, body: &str, headers: &str) -> (u16, String) {
    request(addr, "POST", path, body, headers)
}

fn request(addr: &str, method: &str, path: &str, body: &str, headers: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn attempts(call: &Value) -> Vec<(String, String, String)> {
    call["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| {
            (
                a["target"].as_str().unwrap_or_default().to_owned(),
                a["mode"].as_str().unwrap_or_default().to_owned(),
                a["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn write_rules(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("graph-comms-bot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the rules");
    path
}

#[test]
fn transfer_to_answers_transfers_and_reports_health_and_metrics() {
    let graph = Graph::start();
    let bot = Bot::start(
        &graph,
        &[
            "--transfer-to",
            ALICE,
            "--prompt",
            "https://bot.example/hello.wav",
        ],
    );
    assert_eq!(bot.get("/healthz"), (200, "ok\n".to_owned()));

    let id = graph.ring(Graph::call_to(&bot, TransferFlow::Success));
    let calls = bot.calls(1);
    let call = &calls[&id];
    assert_eq!(call["result"], "transferred", "{call}");
    assert_eq!(call["rule"], "transfer-to");
    assert_eq!(
        attempts(call),
        [(format!("user:{ALICE}"), "blind".into(), "completed".into())]
    );
    assert_eq!(call["attempts"][0]["resultSubcode"], 7015);
    let states: Vec<String> = graph
        .emulator
        .deliveries(&id)
        .into_iter()
        .filter_map(|r| r.state)
        .collect();
    assert!(states.contains(&"established".to_owned()), "{states:?}");
    assert!(states.contains(&"transferring".to_owned()), "{states:?}");
    // The live line on stderr, with the caller escaped (written before the JSON line; read by
    // another thread).
    bot.wait_stderr(&format!(
        "call {id:?} from \"Caller\" rule \"transfer-to\": user:{ALICE} completed -> transferred"
    ));

    // An unauthenticated callback is refused and counted.
    let (status, _) = http(&bot.listen, "POST", "/api/calls", r#"{"value":[]}"#);
    assert_eq!(status, 401);
    let (status, metrics) = bot.get("/metrics");
    assert_eq!(status, 200);
    for line in [
        "graph_comms_bot_calls_answered_total 1",
        "graph_comms_bot_calls_offered_total 1",
        "graph_comms_bot_transfers_total{outcome=\"completed\"} 1",
        "graph_comms_bot_transfers_total{outcome=\"failed\"} 0",
        "graph_comms_bot_callbacks_refused_total{reason=\"unauthorized\"} 1",
        "graph_comms_bot_open_transfers 0",
        "graph_comms_bot_calls_in_progress 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line:?} not in\n{metrics}"
        );
    }
    let received = metrics
        .lines()
        .find_map(|l| l.strip_prefix("graph_comms_bot_notifications_received_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("notifications counted");
    assert!(received >= 4, "{metrics}");

    let (code, stderr) = bot.terminate();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("bot stopped"), "{stderr}");
}

#[test]
fn an_offer_delivered_twice_is_answered_once() {
    let graph = Graph::start();
    let bot = Bot::start(&graph, &["--transfer-to", ALICE]);
    // A slow transfer: the call is still in progress when the offer comes again.
    let call = PlaceCall::new(bot.callback.clone())
        .with_script(Script::new(TransferFlow::Success).with_delay_ms(300));
    let id = graph.ring(call);
    let deadline = Instant::now() + Duration::from_secs(10);
    let offer = loop {
        let offered = graph
            .emulator
            .deliveries(&id)
            .into_iter()
            .find(|r| r.delivered && r.state.as_deref() == Some("incoming"));
        if let Some(offer) = offered {
            break offer.body;
        }
        assert!(Instant::now() < deadline, "never offered");
        std::thread::sleep(Duration::from_millis(5));
    };
    // Graph delivers at least once: the same signed offer again.
    let token = graph
        .emulator
        .callback_token(APP, &graph.emulator.tenant_id().to_string())
        .expect("a callback token");
    let (status, _) = http_with(
        &bot.listen,
        "/api/calls",
        &offer.to_string(),
        &format!("Authorization: Bearer {token}\r\n"),
    );
    assert_eq!(status, 202);
    let calls = bot.calls(1);
    assert_eq!(calls[&id]["result"], "transferred", "{}", calls[&id]);
    // No second line for the call.
    assert!(bot.lines.recv_timeout(Duration::from_millis(500)).is_err());
    let (_, metrics) = bot.get("/metrics");
    for line in [
        "graph_comms_bot_calls_offered_total 2",
        "graph_comms_bot_calls_answered_total 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line:?} not in\n{metrics}"
        );
    }
}

#[test]
fn rules_route_by_callee_caller_prefix_tenant_and_time_of_day() {
    let graph = Graph::start();
    let tenant = graph.emulator.tenant_id().to_string();
    let rules = write_rules(
        "kinds.toml",
        &format!(
            r#"
time_zone = "Europe/London"

[[rule]]
name = "sales line"
callee = ["{LINE}"]
targets = [{{ user = "{ALICE}" }}]

[[rule]]
name = "uk"
caller_prefix = ["+44"]
targets = [{{ user = "{BOB}" }}]

[[rule]]
name = "colleagues"
caller_tenant = ["{tenant}"]
targets = [{{ user = "{CAROL}" }}]

[[rule]]
name = "office hours"
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-17:00"
targets = [{{ user = "{DAVE}" }}]

[[rule]]
name = "closed"
last_resort = {{ hang_up = true, prompt = "https://bot.example/closed.wav" }}
"#
        ),
    );
    // Monday 10:00 in London.
    let bot = Bot::start(
        &graph,
        &[
            "--rules",
            rules.to_str().expect("utf-8"),
            "--now",
            "2026-11-30T10:00:00Z",
        ],
    );
    let success = || Graph::call_to(&bot, TransferFlow::Success);
    let by_callee = graph.ring(success().to_instance(LINE));
    let by_prefix = graph.ring(success().from_phone("+442079460000"));
    let by_tenant = graph.ring(success());
    let by_time = graph.ring(success().from_phone("+14255550123"));
    let calls = bot.calls(4);
    for (id, rule, user) in [
        (&by_callee, "sales line", ALICE),
        (&by_prefix, "uk", BOB),
        (&by_tenant, "colleagues", CAROL),
        (&by_time, "office hours", DAVE),
    ] {
        let call = &calls[id];
        assert_eq!(call["rule"], rule, "{call}");
        assert_eq!(call["result"], "transferred", "{call}");
        assert_eq!(
            attempts(call),
            [(format!("user:{user}"), "blind".into(), "completed".into())]
        );
    }
    assert_eq!(calls[&by_prefix]["caller"], "+442079460000");
    assert_eq!(calls[&by_callee]["callee"][0], LINE);
    let (code, stderr) = bot.terminate();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_chain_rolls_back_moves_on_and_ends_with_its_last_resort() {
    let graph = Graph::start();
    // Every consultation call the bot places is declined.
    graph.emulator.set_default_script(
        Script::default()
            .with_target(CallTarget::Decline)
            .with_delay_ms(10),
    );
    let rules = write_rules(
        "chain.toml",
        &format!(
            r#"
[[rule]]
name = "consult then blind"
callee = ["+14255550100"]
targets = [{{ user = "{ALICE}", consult = true, answer_timeout = 10 }}, {{ user = "{BOB}" }}]

[[rule]]
name = "nobody home"
targets = [{{ user = "{CAROL}" }}]
last_resort = {{ hang_up = true, prompt = "https://bot.example/sorry.wav" }}
"#
        ),
    );
    let bot = Bot::start(&graph, &["--rules", rules.to_str().expect("utf-8")]);
    let moved_on = graph.ring(Graph::call_to(&bot, TransferFlow::Success).to_phone("+14255550100"));
    let hung_up = graph.ring(Graph::call_to(&bot, TransferFlow::Failed));
    let calls = bot.calls(2);

    let call = &calls[&moved_on];
    assert_eq!(call["result"], "transferred", "{call}");
    assert_eq!(
        attempts(call),
        [
            (
                format!("user:{ALICE}"),
                "consult".into(),
                "rolledBack".into()
            ),
            (format!("user:{BOB}"), "blind".into(), "completed".into()),
        ]
    );
    assert_eq!(call["attempts"][0]["reason"], "declined");
    assert_eq!(call["attempts"][0]["resultCode"], 603);
    assert!(graph.emulator.on_hold(&moved_on).is_none());

    let call = &calls[&hung_up];
    assert_eq!(call["result"], "lastResort", "{call}");
    assert_eq!(
        attempts(call),
        [
            (format!("user:{CAROL}"), "blind".into(), "failed".into()),
            ("hangUp".into(), "hangUp".into(), "hungUp".into()),
        ]
    );
    assert_eq!(call["attempts"][0]["resultCode"], 500);
    assert_eq!(call["attempts"][0]["resultSubcode"], 7000);
    let (code, stderr) = bot.terminate();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn sigterm_mid_transfer_gives_the_caller_the_last_resort_and_exits_0() {
    let graph = Graph::start();
    // The consulted target rings and never answers: the call is mid-consultation at SIGTERM.
    graph.emulator.set_default_script(
        Script::default()
            .with_target(CallTarget::Ring)
            .with_delay_ms(10),
    );
    let rules = write_rules(
        "drain.toml",
        &format!(
            r#"
[[rule]]
name = "front desk"
targets = [{{ user = "{ALICE}", consult = true, answer_timeout = 120 }}]
last_resort = {{ queue = "{QUEUE}" }}
"#
        ),
    );
    let bot = Bot::start(
        &graph,
        &[
            "--rules",
            rules.to_str().expect("utf-8"),
            "--drain-timeout",
            "2",
        ],
    );
    let id = graph.ring(Graph::call_to(&bot, TransferFlow::Success));
    let deadline = Instant::now() + Duration::from_secs(20);
    while graph.emulator.on_hold(&id).is_none() {
        assert!(Instant::now() < deadline, "never on hold: {}", bot.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    bot.signal();
    // Shutting down: /healthz says so while the call drains.
    bot.wait_stderr("shutting down");
    assert_eq!(bot.get("/healthz").0, 503);
    let calls = bot.calls(1);
    let call = &calls[&id];
    assert_eq!(call["result"], "lastResort", "{call}");
    assert_eq!(
        attempts(call),
        [
            (
                format!("user:{ALICE}"),
                "consult".into(),
                "interrupted".into()
            ),
            (format!("queue:{QUEUE}"), "queue".into(), "completed".into()),
        ]
    );
    let (code, stderr) = bot.exited();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("drain deadline"), "{stderr}");
    // The transfer Graph received went to the queue's resource account.
    let transferring = graph
        .emulator
        .deliveries(&id)
        .iter()
        .any(|r| r.state.as_deref() == Some("transferring"));
    assert!(transferring);
}

#[test]
fn an_invalid_rules_file_stops_the_bot_at_start_up_with_line_and_column() {
    let rules = write_rules(
        "invalid.toml",
        "[[rule]]\nname = \"a\"\ntargets = [{ user = \"not-a-guid\" }]\n",
    );
    let path = rules.to_str().expect("utf-8");
    let (code, stdout, stderr) = common::graph_comms(
        &[
            "bot",
            "--app-id",
            APP,
            "--listen",
            "127.0.0.1:0",
            "--callback-uri",
            "https://bot.example/api/calls",
            "--rules",
            path,
            "--token",
            "t",
        ],
        "",
        &[],
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "{path}:3:21: user: \"not-a-guid\" is not a Teams user's object id (a GUID)"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
}

#[test]
fn check_rules_exits_0_when_valid_and_2_with_the_problem() {
    let valid = write_rules(
        "valid.toml",
        &format!("[[rule]]\ntargets = [{{ user = \"{ALICE}\" }}]\n"),
    );
    let path = valid.to_str().expect("utf-8");
    // The bot's environment (an app id, a token) does not get in the way.
    let env = [("GRAPH_COMMS_APP_ID", APP), ("GRAPH_COMMS_TOKEN", "t")];
    let (code, stdout, stderr) = common::graph_comms(&["bot", "--check-rules", path], "", &env);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), format!("{path}: valid, 1 rule"));

    let invalid = write_rules(
        "bad-hours.toml",
        &format!("[[rule]]\nhours = \"9 to 5\"\ntargets = [{{ user = \"{ALICE}\" }}]\n"),
    );
    let path = invalid.to_str().expect("utf-8");
    let (code, stdout, stderr) = common::graph_comms(&["bot", "--check-rules", path], "", &[]);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stderr.contains(&format!("{path}:2:9: hours: \"9 to 5\"")),
        "{stderr}"
    );

    // The example in the repository is valid.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/bot-rules.toml");
    let (code, stdout, stderr) = common::graph_comms(&["bot", "--check-rules", example], "", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("valid"), "{stdout}");
}

impl Graph {
    /// A fleet's shared callback URL on loopback: each offer goes to every instance in turn, the
    /// first one asked round-robin, one after the other (so every instance receives every
    /// offer, and the one asked first claims it); Graph gets the first instance's status.
    fn front(&self, instances: &[&Bot]) -> String {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, StatusCode};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let targets: Vec<String> = instances.iter().map(|b| b.callback.clone()).collect();
        let next = Arc::new(AtomicUsize::new(0));
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client");
        let forward = move |headers: HeaderMap, body: Bytes| {
            let (client, targets) = (client.clone(), targets.clone());
            let first = next.fetch_add(1, Ordering::Relaxed);
            async move {
                let mut status = None;
                for i in 0..targets.len() {
                    let mut request = client
                        .post(&targets[(first + i) % targets.len()])
                        .body(body.clone());
                    for name in ["authorization", "content-type"] {
                        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                            request = request.header(name, v);
                        }
                    }
                    let got = match request.send().await {
                        Ok(r) => r.status().as_u16(),
                        Err(_) => 502,
                    };
                    status.get_or_insert(got);
                }
                StatusCode::from_u16(status.unwrap_or(502)).unwrap_or(StatusCode::BAD_GATEWAY)
            }
        };
        let router = axum::Router::new().route("/api/calls", axum::routing::post(forward));
        let listener = self
            .rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        self.rt.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        format!("http://{addr}/api/calls")
    }

    /// How many times Graph played `transferring` on the call: one per transfer sent.
    fn transfers(&self, call: &str) -> usize {
        self.emulator
            .deliveries(call)
            .iter()
            .filter(|r| r.state.as_deref() == Some("transferring"))
            .count()
    }
}

/// `graph-comms track --store` for `call`: (exit code, stdout).
fn track_in_store(call: &str, store: &str) -> (i32, String) {
    let (code, stdout, _) = common::graph_comms(
        &[
            "track",
            "--call-id",
            call,
            "--store",
            store,
            "--timeout",
            "5",
        ],
        "",
        &[],
    );
    (code, stdout)
}

/// The metric `name`'s value in `/metrics`.
fn metric(bot: &Bot, name: &str) -> u64 {
    let (_, text) = bot.get("/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in\n{text}"))
}

#[test]
fn two_instances_on_one_store_share_the_offers_and_put_each_call_through_once() {
    let Some(redis) = graph_comms_testkit::RedisServer::start() else {
        return;
    };
    let store = redis.url();
    let graph = Graph::start();
    let a = Bot::start(&graph, &["--transfer-to", ALICE, "--store", &store]);
    let b = Bot::start(&graph, &["--transfer-to", ALICE, "--store", &store]);
    let front = graph.front(&[&a, &b]);
    let ids: Vec<String> = (0..4)
        .map(|_| {
            graph.ring(
                PlaceCall::new(front.clone())
                    .with_script(Script::new(TransferFlow::Success).with_delay_ms(10)),
            )
        })
        .collect();
    // Every offer reached both instances; each took the ones it was asked first about.
    let mut by_a = a.calls(2);
    let by_b = b.calls(2);
    for bot in [&a, &b] {
        assert!(
            bot.lines.recv_timeout(Duration::from_millis(500)).is_err(),
            "no call is answered twice"
        );
        assert_eq!(metric(bot, "graph_comms_bot_calls_offered_total"), 4);
        assert_eq!(metric(bot, "graph_comms_bot_calls_answered_total"), 2);
        bot.wait_stderr("taken by another instance");
    }
    assert!(by_a.keys().all(|id| !by_b.contains_key(id)), "split");
    by_a.extend(by_b);
    for id in &ids {
        let call = &by_a[id];
        assert_eq!(call["result"], "transferred", "{call}");
        assert_eq!(
            attempts(call),
            [(format!("user:{ALICE}"), "blind".into(), "completed".into())]
        );
        assert_eq!(graph.transfers(id), 1, "transferred once");
        let (code, stdout) = track_in_store(id, &store);
        assert_eq!(code, 0, "{stdout}");
        assert!(stdout.contains("transferCompleted"), "{stdout}");
    }
    for bot in [a, b] {
        let (code, stderr) = bot.terminate();
        assert_eq!(code, 0, "{stderr}");
    }
}

#[test]
fn a_chain_of_two_attempts_on_one_call_goes_through_the_store() {
    let Some(redis) = graph_comms_testkit::RedisServer::start() else {
        return;
    };
    let store = redis.url();
    let graph = Graph::start();
    let rules = write_rules(
        "fleet-chain.toml",
        &format!(
            r#"
[[rule]]
name = "two desks"
targets = [{{ user = "{ALICE}" }}, {{ user = "{BOB}" }}]
"#
        ),
    );
    let rules = rules.to_str().expect("utf-8");
    let a = Bot::start(&graph, &["--rules", rules, "--store", &store]);
    let b = Bot::start(&graph, &["--rules", rules, "--store", &store]);
    let front = graph.front(&[&a, &b]);
    // The first transfer fails, slowly; the second (once scripted) succeeds.
    let id = graph.ring(
        PlaceCall::new(front).with_script(
            Script::new(TransferFlow::Failed)
                .with_delay_ms(10)
                .with_final_delay_ms(1_500),
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while graph.transfers(&id) == 0 {
        assert!(Instant::now() < deadline, "never transferred");
        std::thread::sleep(Duration::from_millis(10));
    }
    graph
        .emulator
        .script_call(&id, Script::new(TransferFlow::Success).with_delay_ms(10))
        .expect("scripted");
    // The instance asked first has the call.
    let call = &a.calls(1)[&id];
    assert_eq!(call["result"], "transferred", "{call}");
    assert_eq!(
        attempts(call),
        [
            (format!("user:{ALICE}"), "blind".into(), "failed".into()),
            (format!("user:{BOB}"), "blind".into(), "completed".into()),
        ]
    );
    assert_eq!(call["attempts"][0]["resultSubcode"], 7000);
    assert_eq!(graph.transfers(&id), 2, "each attempt sent once");
    // The last attempt's outcome, read from the store by another process.
    let (code, stdout) = track_in_store(&id, &store);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("transferCompleted"), "{stdout}");
    assert!(b.lines.recv_timeout(Duration::from_millis(300)).is_err());
}

#[test]
fn a_bot_whose_store_is_down_answers_503_and_takes_the_call_when_graph_offers_it_again() {
    let Some(mut redis) = graph_comms_testkit::RedisServer::start() else {
        return;
    };
    let store = redis.url();
    let graph = Graph::start();
    let bot = Bot::start(&graph, &["--transfer-to", ALICE, "--store", &store]);
    redis.kill();
    let id = graph.ring(Graph::call_to(&bot, TransferFlow::Success));
    // The offer cannot be claimed: 503 (with Retry-After), and the call is left alone.
    bot.wait_stderr("answering 503");
    bot.wait_stderr("not claimed (the store failed; Graph offers it again)");
    assert_eq!(metric(&bot, "graph_comms_bot_calls_answered_total"), 0);
    assert_eq!(graph.emulator.call_state(&id).as_deref(), Some("incoming"));

    // Graph redelivers the offer (after Retry-After) once the store is back: taken, once.
    redis.restart();
    let calls = bot.calls(1);
    let call = &calls[&id];
    assert_eq!(call["result"], "transferred", "{call}");
    assert_eq!(graph.transfers(&id), 1);
    assert_eq!(metric(&bot, "graph_comms_bot_calls_answered_total"), 1);
    let (code, stderr) = bot.terminate();
    assert_eq!(code, 0, "{stderr}");
}
