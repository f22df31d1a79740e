//! `graph-comms track`: exit 3 when the store cannot be reached, `timedOut` (exit 4) for a call
//! nobody registered.

use std::process::Command;

use graph_comms_testkit::RedisServer;

fn track(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
        .arg("track")
        .args(args)
        .env_remove("GRAPH_COMMS_STORE")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unreachable_store_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let store = format!("redis://127.0.0.1:{port}");
    let (code, stdout, stderr) = track(&["--call-id", "c1", "--store", &store]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.starts_with("graph-comms: error: --store"),
        "{stderr}"
    );
}

#[test]
fn a_store_url_that_is_not_redis_exits_3() {
    let (code, _, stderr) = track(&["--call-id", "c1", "--store", "memcached://127.0.0.1:1"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("expected redis://HOST:PORT[/DB]"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_call_is_timed_out_after_the_timeout() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (code, stdout, stderr) = track(&[
        "--call-id",
        "nobody",
        "--store",
        &redis.url(),
        "--timeout",
        "1",
    ]);
    assert_eq!(code, 4, "{stdout}{stderr}");
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(line["callId"], "nobody");
    assert_eq!(line["outcome"], "timedOut");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}
