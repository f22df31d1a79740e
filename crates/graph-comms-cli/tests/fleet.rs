//! A bot fleet on one `redis-server`, every member a separate `graph-comms` process: two
//! `listen --store` instances behind a splitter (the emulator's callbacks go to the first while it
//! lives, then to the second), a sender `transfer --wait --store`, and `track`. The instance that
//! received `transferring` is killed mid-transfer, the other resolves the transfer; the sender is
//! killed too, and `track` reads the outcome from the store.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use graph_comms_emulator::{
    ApiVersion, DeliveryPolicy, Emulator, EmulatorConfig, PlaceCall, Script, TransferFlow,
};
use graph_comms_testkit::RedisServer;

const USER: &str = "550fae72-d251-43ec-868c-373732c2704f";
const APP: &str = "9ecd52e5-6592-42b7-b562-093f37f13bde";

/// A child process killed on drop, its stdout and stderr lines on channels.
struct Proc {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn graph-comms");
        let lines = |r: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let stdout = lines(Box::new(child.stdout.take().expect("stdout")));
        let stderr = lines(Box::new(child.stderr.take().expect("stderr")));
        Proc {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits (up to 30 s) for a line of `stream` containing `needle`; returns it.
    fn wait_for(stream: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
        let until = Instant::now() + Duration::from_secs(30);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match stream.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?} within 30 s; saw {seen:?}");
    }

    fn stdout_line(&self, needle: &str) -> String {
        Self::wait_for(&self.stdout, needle, &mut Vec::new())
    }

    fn stderr_line(&self, needle: &str) -> String {
        Self::wait_for(&self.stderr, needle, &mut Vec::new())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `graph-comms listen --store` on a free port, authenticating the emulator's callbacks.
fn listen(emulator: &Emulator, store: &str) -> (Proc, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", graph_comms_testkit::free_port())
        .parse()
        .expect("addr");
    let proc = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_graph-comms"))
            .args(["listen", "--addr", &addr.to_string(), "--app-id", APP])
            .args(["--openid-config", &emulator.openid_config_url()])
            .args(["--store", store]),
    );
    proc.stderr_line("listening on");
    (proc, addr)
}

/// A loopback splitter: forwards each callback to the first target that accepts a connection.
async fn splitter(targets: Vec<SocketAddr>) -> SocketAddr {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");
    let forward = move |headers: HeaderMap, body: Bytes| {
        let client = client.clone();
        let targets = targets.clone();
        async move {
            for target in &targets {
                let mut request = client
                    .post(format!("http://{target}/api/calls"))
                    .body(body.clone());
                for name in ["authorization", "content-type"] {
                    if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                        request = request.header(name, v);
                    }
                }
                match request.send().await {
                    Ok(response) => {
                        return StatusCode::from_u16(response.status().as_u16())
                            .unwrap_or(StatusCode::BAD_GATEWAY)
                    }
                    Err(e) if e.is_connect() => continue,
                    Err(_) => return StatusCode::BAD_GATEWAY,
                }
            }
            StatusCode::BAD_GATEWAY
        }
    };
    let router = axum::Router::new().route("/api/calls", axum::routing::post(forward));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// The emulator, retrying deliveries every 50 ms (`attempts` times), on `rt`.
fn emulator(rt: &tokio::runtime::Runtime, attempts: u32) -> Emulator {
    let config = EmulatorConfig::default()
        .with_bot_app_id(APP)
        .with_delivery(DeliveryPolicy::new(attempts, Duration::from_millis(50)));
    rt.block_on(Emulator::start(config))
        .expect("the emulator starts")
}

/// A call whose callbacks go to `callback`, its transfer played as `flow` with `delay_ms` steps.
fn place_call(
    rt: &tokio::runtime::Runtime,
    emulator: &Emulator,
    callback: SocketAddr,
    flow: TransferFlow,
    delay_ms: u64,
) -> String {
    let _guard = rt.enter();
    emulator
        .place_call(
            PlaceCall::new(format!("http://{callback}/api/calls"))
                .with_app_id(APP)
                .with_script(Script::new(flow).with_delay_ms(delay_ms)),
        )
        .expect("a call")
        .id
}

/// `graph-comms transfer --wait --store` for `call`, with the emulator's credentials.
fn sender(emulator: &Emulator, call: &str, store: &str, timeout: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_graph-comms"));
    command
        .args(["transfer", "--call-id", call, "--to-user", USER])
        .args(["--base-url", emulator.base_url(ApiVersion::V1).as_str()])
        .args(["--wait", "--store", store, "--timeout", timeout])
        .env("AZURE_TENANT_ID", emulator.tenant_id().to_string())
        .env("AZURE_CLIENT_ID", APP)
        .env("AZURE_CLIENT_SECRET", "any-secret")
        .env("AZURE_AUTHORITY_HOST", emulator.root_url())
        .env_remove("GRAPH_COMMS_TOKEN")
        .env_remove("GRAPH_COMMS_STORE");
    command
}

fn track(call_id: &str, store: &str, timeout: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
        .args(["track", "--call-id", call_id, "--store", store])
        .args(["--timeout", timeout])
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_surviving_instance_resolves_and_track_reads_the_outcome() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = redis.url();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let emulator = emulator(&rt, 40);
    let (mut first, first_addr) = listen(&emulator, &store);
    let (second, second_addr) = listen(&emulator, &store);
    let split = rt.block_on(splitter(vec![first_addr, second_addr]));
    // Slow steps, so the first instance can be killed between them.
    let call = place_call(&rt, &emulator, split, TransferFlow::Completed, 700);
    let mut sender = Proc::spawn(&mut sender(&emulator, &call, &store, "60"));
    sender.stderr_line("202 Accepted");
    // The sender goes away mid-transfer (a restart): the fleet still resolves the transfer.
    sender.kill();

    first.stdout_line("\"event\":\"transferring\"");
    first.kill();

    let outcome = second.stdout_line("\"outcome\"");
    let outcome: serde_json::Value = serde_json::from_str(&outcome).expect("a JSON line");
    assert_eq!(outcome["outcome"], "transferCompleted", "{outcome}");

    let (code, stdout) = track(&call, &store, "30");
    assert_eq!(code, 0, "{stdout}");
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(line["outcome"], "transferCompleted", "{line}");
    assert_eq!(line["callId"], call.as_str());
    assert_eq!(line["resultSubcode"], 7015);
}

#[test]
fn transfer_wait_store_exits_with_the_outcome_any_instance_records() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = redis.url();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let emulator = emulator(&rt, 40);
    let (_instance, addr) = listen(&emulator, &store);
    let call = place_call(&rt, &emulator, addr, TransferFlow::Failed, 50);
    let out = sender(&emulator, &call, &store, "30")
        .arg("--json")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON lines");
    assert_eq!(last["outcome"], "failed", "{stdout}");
    assert_eq!(last["resultSubcode"], 7000);
    let (code, stdout) = track(&call, &store, "0");
    assert_eq!(code, 4, "{stdout}");
    assert!(
        stdout.contains("\"outcome\":\"transferFailed\""),
        "{stdout}"
    );
}

#[test]
fn a_store_outage_is_answered_503_and_redelivered() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let store = redis.url();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let emulator = emulator(&rt, 60);
    let (instance, addr) = listen(&emulator, &store);
    let call = place_call(&rt, &emulator, addr, TransferFlow::Completed, 700);
    let sender = Proc::spawn(&mut sender(&emulator, &call, &store, "60"));
    sender.stderr_line("202 Accepted");
    // Redis goes down before the first notification and comes back empty (no persistence).
    redis.kill();
    instance.stderr_line("answering 503");
    redis.restart();
    // Graph redelivers; the instance follows the transfer on its own initiative, records its
    // outcome, and the sender (waiting on the store) reads it.
    sender.stdout_line("transfer completed");
    let (code, stdout) = track(&call, &store, "5");
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("\"outcome\":\"transferCompleted\""),
        "{stdout}"
    );
}
