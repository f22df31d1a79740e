//! Out of file descriptors: a receiver limited to 128 descriptors (`ulimit -n 128`), 130 clients
//! that pipeline requests and never read the answers, and a genuine callback that must still be
//! answered. Without the idle timeout the stalled connections are held forever, `accept` fails in
//! a loop and the genuine callback waits forever.
//!
//! The receiver runs in a child process (this same test binary, started under `sh -c 'ulimit -n
//! 128; exec …'`), so that the limit applies to it alone; the clients and the key server run here.
#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use graph_comms_receiver::{AuthConfig, Receiver, ServeOptions};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

/// Set in the child: the OpenID configuration URL of the parent's key server.
const CHILD: &str = "GRAPH_COMMS_RECEIVER_FD_LIMIT_CHILD";
const PATH: &str = "/api/calls";
const DEADLINE: Duration = Duration::from_secs(30);
const STALLED: usize = 130;

#[test]
fn out_of_descriptors_a_genuine_callback_is_still_answered() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match std::env::var(CHILD) {
        Ok(openid_url) => runtime.block_on(child(openid_url)),
        Err(_) => runtime.block_on(parent()),
    }
}

/// The receiver, limited to 128 descriptors: prints its address, serves for a while.
async fn child(openid_url: String) {
    let receiver = Receiver::new(AuthConfig::new(APP_ID).with_openid_config_url(openid_url))
        .expect("receiver");
    receiver.authenticator().refresh_keys().await.expect("keys");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!("ADDR {}", listener.local_addr().expect("addr"));
    let mut options = ServeOptions::default();
    options.idle_timeout = Duration::from_secs(1);
    let _ = tokio::time::timeout(
        DEADLINE * 2,
        graph_comms_receiver::serve(listener, receiver.router(), options),
    )
    .await;
}

/// Kills the child when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn parent() {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 128 && exec \"$@\"")
        .arg("sh")
        .arg(exe)
        .args([
            "--exact",
            "out_of_descriptors_a_genuine_callback_is_still_answered",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, keys.openid_url())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the receiver");
    let stdout = child.stdout.take().expect("stdout");
    let child = KillOnDrop(child);
    let addr: SocketAddr = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // The test harness may print `test … ... ` before it on the same line.
            .find_map(|line| {
                line.split("ADDR ")
                    .nth(1)
                    .and_then(|a| a.trim().parse().ok())
            })
    })
    .await
    .expect("task")
    .expect("the receiver printed its address");

    let mut stalled = Vec::new();
    for _ in 0..STALLED {
        stalled.push(tokio::spawn(pipeline_without_reading(addr)));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let token = key().sign(&claims(APP_ID));
    let response = tokio::time::timeout(
        DEADLINE,
        post_once(
            addr,
            PATH,
            &auth_headers(&token),
            notification("call-1", "transferring").as_bytes(),
        ),
    )
    .await
    .expect("a genuine callback is answered within the deadline");
    assert_eq!(response.status, 202, "{}", response.body_text());
    for task in stalled {
        task.abort();
    }
    drop(child);
}

/// Pipelines requests (each answered `401`) and never reads the answers.
async fn pipeline_without_reading(addr: SocketAddr) {
    let Ok(socket) = TcpSocket::new_v4() else {
        return;
    };
    let _ = socket.set_recv_buffer_size(4096);
    let Ok(mut stream) = socket.connect(addr).await else {
        return;
    };
    let batch = format!("POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").repeat(64);
    while stream.write_all(batch.as_bytes()).await.is_ok() {}
}
