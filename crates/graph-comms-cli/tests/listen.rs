//! `graph-comms listen`, run as a binary: signed callbacks in, JSON lines out.
//!
//! The test serves an OpenID configuration and JWKS for a key it generates, starts the binary
//! on 127.0.0.1 port 0, reads the bound address from stderr, posts callbacks, and reads stdout.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;

const APP_ID: &str = "0c4a1d3e-2b6f-4d7a-9e1c-5f8b2a7d6e90";
const KID: &str = "listen-test";

/// Serves the OpenID configuration and the JWKS (one request per connection) on a thread.
fn key_server(jwk: serde_json::Value) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(100) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let request = String::from_utf8_lossy(&request[..n]);
            let body = if request.starts_with("GET /v1/.well-known/OpenIdConfiguration ") {
                serde_json::json!({
                    "issuer": "https://api.botframework.com",
                    "jwks_uri": format!("http://{addr}/v1/keys"),
                    "id_token_signing_alg_values_supported": ["RS256"],
                })
            } else if request.starts_with("GET /v1/keys ") {
                serde_json::json!({ "keys": [jwk.clone()] })
            } else {
                serde_json::json!({ "unexpected": request.lines().next() })
            };
            let body = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

/// POSTs one callback on its own connection; returns the status code.
fn post(addr: SocketAddr, token: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "POST /api/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn notification(call_id: &str, resource_data: serde_json::Value) -> String {
    serde_json::json!({"value": [{
        "changeType": "updated",
        "resourceUrl": format!("/communications/calls/{call_id}"),
        "resourceData": resource_data,
    }]})
    .to_string()
}

struct Listener(Child);

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn listen_prints_events_and_outcomes_and_rejects_forgeries() {
    let key = graph_comms_testkit::rsa_key();
    let jwk = graph_comms_testkit::rsa_jwk(&key, KID);
    let keys = key_server(jwk);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    let der = key.to_pkcs1_der().expect("DER");
    let claims = serde_json::json!({
        "iss": "https://api.botframework.com", "aud": APP_ID, "tid": "tenant-1",
        "iat": now, "nbf": now, "exp": now + 3600,
    });
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(der.as_bytes()))
        .expect("token");

    let mut child = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
        .args([
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--app-id",
            APP_ID,
            "--openid-config",
        ])
        .arg(format!("http://{keys}/v1/.well-known/OpenIdConfiguration"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn graph-comms listen");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let _guard = Listener(child);

    // The bound address comes on stderr.
    let mut stderr = BufReader::new(stderr);
    let mut line = String::new();
    stderr.read_line(&mut line).expect("stderr line");
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("graph-comms: listening on http://")
        .and_then(|rest| rest.strip_suffix("/api/calls"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first stderr line: {line:?}"));

    // Stdout lines arrive on a channel so reads are bounded in time.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = || {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a stdout line within 30 s");
        serde_json::from_str::<serde_json::Value>(&line).expect("a JSON line")
    };

    // A forged callback is refused and prints nothing.
    let forged = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        token.split('.').nth(1).unwrap_or("")
    );
    assert_eq!(
        post(
            addr,
            &forged,
            &notification("c-0", serde_json::json!({"state": "transferring"}))
        ),
        401
    );

    // A successful transfer.
    for state in ["transferring", "transferAccepted"] {
        assert_eq!(
            post(
                addr,
                &token,
                &notification("c-1", serde_json::json!({"state": state}))
            ),
            202
        );
        let event = next_line();
        assert_eq!(event["callId"], "c-1");
        assert_eq!(event["state"], state);
    }
    let end = serde_json::json!({"state": "terminated", "resultInfo": {"code": 0, "subcode": 7015, "message": "GracefulTransferCompleted"}});
    assert_eq!(post(addr, &token, &notification("c-1", end)), 202);
    let event = next_line();
    assert_eq!(event["event"], "transferCompleted");
    let keys: BTreeSet<&str> = event
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let expected: BTreeSet<&str> = [
        "callId",
        "changeType",
        "state",
        "event",
        "resultCode",
        "resultSubcode",
        "resultMessage",
        "terminationReason",
        "replacesContext",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected, "the notify parse shape");
    let outcome = next_line();
    assert_eq!(outcome["callId"], "c-1");
    assert_eq!(outcome["outcome"], "transferCompleted");

    // A failed transfer.
    assert_eq!(
        post(
            addr,
            &token,
            &notification("c-2", serde_json::json!({"state": "transferring"}))
        ),
        202
    );
    assert_eq!(next_line()["event"], "transferring");
    let back = serde_json::json!({"state": "established", "resultInfo": {"code": 500, "subcode": 7700, "message": "Call transfer failed"}});
    assert_eq!(post(addr, &token, &notification("c-2", back)), 202);
    assert_eq!(next_line()["event"], "transferFailed");
    let outcome = next_line();
    assert_eq!(outcome["callId"], "c-2");
    assert_eq!(outcome["outcome"], "transferFailed");
    assert_eq!(outcome["resultCode"], 500);
    assert_eq!(outcome["resultSubcode"], 7700);
}

/// A signing key served by a key server, and tokens minted with it.
struct Keys {
    key: rsa::RsaPrivateKey,
    server: SocketAddr,
}

impl Keys {
    fn new() -> Self {
        let key = graph_comms_testkit::rsa_key();
        let jwk = graph_comms_testkit::rsa_jwk(&key, KID);
        let server = key_server(jwk);
        Keys { key, server }
    }

    /// A token for the bot, from tenant `tid`.
    fn token(&self, tid: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.to_owned());
        let der = self.key.to_pkcs1_der().expect("DER");
        let claims = serde_json::json!({
            "iss": "https://api.botframework.com", "aud": APP_ID, "tid": tid,
            "iat": now, "nbf": now, "exp": now + 3600,
        });
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(der.as_bytes()))
            .expect("token")
    }
}

/// A running `graph-comms listen` with `extra` arguments: its address and its stdout lines.
struct Running {
    addr: SocketAddr,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    _child: Listener,
}

impl Running {
    fn start(keys: &Keys, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
            .args(["listen", "--addr", "127.0.0.1:0", "--app-id", APP_ID])
            .arg("--openid-config")
            .arg(format!(
                "http://{}/v1/.well-known/OpenIdConfiguration",
                keys.server
            ))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn graph-comms listen");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let child = Listener(child);
        let mut stderr = BufReader::new(stderr);
        let mut line = String::new();
        stderr.read_line(&mut line).expect("stderr line");
        let addr: SocketAddr = line
            .trim()
            .strip_prefix("graph-comms: listening on http://")
            .and_then(|rest| rest.strip_suffix("/api/calls"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first stderr line: {line:?}"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (etx, stderr_lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if etx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            addr,
            lines,
            stderr: stderr_lines,
            _child: child,
        }
    }

    /// Posts `body` with `token`; expects 202.
    fn post(&self, token: &str, body: &str) {
        assert_eq!(post(self.addr, token, body), 202, "{body}");
    }

    /// The outcome lines among the next `count` lines (reading notification lines past).
    fn outcomes(&self, count: usize) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        while out.len() < count {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("an outcome line within 30 s; got {out:?}"));
            let value: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            if value.get("outcome").is_some() {
                out.push(value);
            }
        }
        out
    }

    /// No further outcome line within `wait`.
    fn no_more_outcomes(&self, wait: Duration) {
        let until = std::time::Instant::now() + wait;
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => assert!(!line.contains("\"outcome\""), "unexpected outcome: {line}"),
                Err(_) => return,
            }
        }
    }
}

/// One body of `(changeType, resourceUrl or resource, resourceData)` notifications.
fn body(notes: &[(&str, &str, serde_json::Value)]) -> String {
    let value: Vec<serde_json::Value> = notes
        .iter()
        .map(|(change, path, data)| {
            let key = if path.starts_with("/app/") {
                "resource"
            } else {
                "resourceUrl"
            };
            serde_json::json!({ "changeType": change, key: path, "resourceData": data })
        })
        .collect();
    serde_json::json!({ "value": value }).to_string()
}

const GUID: &str = "57dab8b1-894c-409a-b240-bd8beae78896";
const GUID_OLD: &str = "57DAB8B1894C409AB240BD8BEAE78896";

fn call_path(id: &str) -> String {
    format!("/communications/calls/{id}")
}

fn state(s: &str) -> serde_json::Value {
    serde_json::json!({ "@odata.type": "#microsoft.graph.call", "state": s })
}

fn bare(id: &str) -> serde_json::Value {
    serde_json::json!({ "@odata.type": "#microsoft.graph.call", "@odata.id": call_path(id) })
}

fn completed_7015() -> serde_json::Value {
    serde_json::json!({"@odata.type": "#microsoft.graph.call", "state": "terminated",
        "resultInfo": {"code": 0, "subcode": 7015, "message": "GracefulTransferCompleted"}})
}

#[test]
fn listen_prints_one_outcome_per_transfer_for_every_shape_graph_sends() {
    let keys = Keys::new();
    let token = keys.token("72f988bf-86f1-41af-91ab-2d7cd011db47");
    let running = Running::start(&keys, &["--transfer-timeout", "2"]);

    // Deleted after transferAccepted, holding only @odata.type / @odata.id: completed, inferred.
    let a = "a0000000-0000-4000-8000-00000000000a";
    running.post(
        &token,
        &body(&[("updated", &call_path(a), state("transferring"))]),
    );
    running.post(
        &token,
        &body(&[("updated", &call_path(a), state("transferAccepted"))]),
    );
    running.post(&token, &body(&[("deleted", &call_path(a), bare(a))]));
    let [line] = <[_; 1]>::try_from(running.outcomes(1)).expect("one line");
    assert_eq!(line["callId"], a);
    assert_eq!(line["outcome"], "transferCompleted");
    assert_eq!(line["inferred"], true);
    assert!(line.get("late").is_none());

    // One body holding the whole flow.
    let b = "b0000000-0000-4000-8000-00000000000b";
    running.post(
        &token,
        &body(&[
            ("updated", &call_path(b), state("transferring")),
            ("updated", &call_path(b), state("transferAccepted")),
            ("deleted", &call_path(b), completed_7015()),
        ]),
    );
    let [line] = <[_; 1]>::try_from(running.outcomes(1)).expect("one line");
    assert_eq!(
        (line["callId"].as_str(), line["outcome"].as_str()),
        (Some(b), Some("transferCompleted"))
    );
    assert_eq!(
        (line["resultCode"].as_i64(), line["resultSubcode"].as_i64()),
        (Some(0), Some(7015))
    );
    assert!(line.get("inferred").is_none());

    // The older operations flow, the call spelled in upper case without dashes, then its failed
    // operation; a later notification spelled with dashes is the same transfer.
    let op = format!("/app/calls/{GUID_OLD}/operations/0FE0623FD62842EDB4BD8AC290072CC5");
    let progress = |sub: &str| {
        serde_json::json!({"@odata.type": "#microsoft.graph.commsOperation",
            "resultInfo": {"code": "200", "subCode": sub}, "status": "running"})
    };
    running.post(&token, &body(&[("updated", &op, progress("transferring"))]));
    running.post(
        &token,
        &body(&[(
            "deleted",
            &op,
            serde_json::json!({"@odata.type": "#microsoft.graph.commsOperation",
                "resultInfo": {"code": "500", "subCode": "7000", "message": "Call transfer failed"},
                "status": "failed"}),
        )]),
    );
    let [line] = <[_; 1]>::try_from(running.outcomes(1)).expect("one line");
    assert_eq!(line["callId"], GUID_OLD, "spelled as Graph spelled it");
    assert_eq!(line["outcome"], "transferFailed");
    assert_eq!(
        (line["resultCode"].as_i64(), line["resultSubcode"].as_i64()),
        (Some(500), Some(7000))
    );
    // The call's deletion (spelled with dashes) after that outcome starts nothing new.
    running.post(&token, &body(&[("deleted", &call_path(GUID), bare(GUID))]));

    // A final result after the deadline: a timedOut line, then the late outcome of that transfer.
    let c = "c0000000-0000-4000-8000-00000000000c";
    running.post(
        &token,
        &body(&[("updated", &call_path(c), state("transferring"))]),
    );
    let [line] = <[_; 1]>::try_from(running.outcomes(1)).expect("one line");
    assert_eq!(
        (line["callId"].as_str(), line["outcome"].as_str()),
        (Some(c), Some("timedOut"))
    );
    running.post(
        &token,
        &body(&[("deleted", &call_path(c), completed_7015())]),
    );
    let [line] = <[_; 1]>::try_from(running.outcomes(1)).expect("one line");
    assert_eq!(
        (line["callId"].as_str(), line["outcome"].as_str()),
        (Some(c), Some("transferCompleted"))
    );
    assert_eq!(line["late"], true);
    running.no_more_outcomes(Duration::from_secs(3));
}

#[test]
fn listen_binds_transfers_to_their_tenant_and_bounds_what_it_follows() {
    let keys = Keys::new();
    let tenant_a = keys.token("72f988bf-86f1-41af-91ab-2d7cd011db47");
    let tenant_b = keys.token("11111111-2222-3333-4444-555555555555");
    // A long timeout: any `timedOut` line below comes from --max-open, not from the clock.
    let running = Running::start(&keys, &["--transfer-timeout", "600", "--max-open", "1"]);

    // Followed under tenant A; tenant B's "completed" is not applied (and is logged), tenant A's
    // own end is.
    let a = "a1000000-0000-4000-8000-00000000000a";
    running.post(
        &tenant_a,
        &body(&[("updated", &call_path(a), state("transferring"))]),
    );
    running.post(
        &tenant_b,
        &body(&[("deleted", &call_path(a), completed_7015())]),
    );
    // The receiver logs the count, then `listen` names the call: find `listen`'s line.
    let mut seen = Vec::new();
    loop {
        let line = running
            .stderr
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no line naming {a} on stderr: {seen:?}"));
        if line.contains("another tenant") && line.contains(a) {
            break;
        }
        seen.push(line);
    }
    let app_transferred = serde_json::json!({"@odata.type": "#microsoft.graph.call",
        "state": "terminated", "terminationReason": "AppTransferred"});
    running.post(
        &tenant_a,
        &body(&[("deleted", &call_path(a), app_transferred)]),
    );
    let [line] = <[_; 1]>::try_from(running.outcomes(1)).expect("one line");
    assert_eq!(
        (line["callId"].as_str(), line["outcome"].as_str()),
        (Some(a), Some("transferCompleted"))
    );
    assert!(
        line["resultCode"].is_null(),
        "tenant A's end, not B's 0/7015: {line}"
    );

    // --max-open 1: a second followed transfer times the first out.
    let b = "b1000000-0000-4000-8000-00000000000b";
    let c = "c1000000-0000-4000-8000-00000000000c";
    running.post(
        &tenant_a,
        &body(&[("updated", &call_path(b), state("transferring"))]),
    );
    running.post(
        &tenant_a,
        &body(&[("updated", &call_path(c), state("transferring"))]),
    );
    let [line] = <[_; 1]>::try_from(running.outcomes(1)).expect("one line");
    assert_eq!(
        (line["callId"].as_str(), line["outcome"].as_str()),
        (Some(b), Some("timedOut"))
    );
    running.post(
        &tenant_a,
        &body(&[("deleted", &call_path(c), completed_7015())]),
    );
    let [line] = <[_; 1]>::try_from(running.outcomes(1)).expect("one line");
    assert_eq!(
        (line["callId"].as_str(), line["outcome"].as_str()),
        (Some(c), Some("transferCompleted"))
    );
}
