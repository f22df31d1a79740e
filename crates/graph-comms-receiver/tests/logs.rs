//! What the receiver logs about refused callbacks: attacker-controlled values escaped, the first
//! refusal of each kind at `warn`, the rest rate-limited and summed up per period.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use graph_comms_receiver::{AuthConfig, Receiver, ReceiverBuilder};
use support::*;

const PATH: &str = "/api/calls";

/// Everything logged on this thread (the test's runtime is single-threaded), as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log")).into_owned()
    }

    fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

async fn setup(
    configure: impl FnOnce(ReceiverBuilder) -> ReceiverBuilder,
) -> (KeyServer, Receiver, std::net::SocketAddr) {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let receiver = configure(Receiver::builder(config))
        .build()
        .expect("receiver");
    let addr = start(&receiver).await;
    receiver.authenticator().refresh_keys().await.expect("keys");
    (keys, receiver, addr)
}

/// A token whose header is `header` (any JSON), with honest claims and a junk signature.
fn token_with_header(header: &serde_json::Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims(APP_ID).to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 256]),
    )
}

const FORGED: &str = "INFO graph_comms_notify: transfer completed callId=forged";

#[tokio::test]
async fn attacker_controlled_values_never_forge_a_log_line() {
    let (captured, _guard) = capture();
    let (_keys, receiver, addr) = setup(|b| b).await;
    let forged = format!("\n{FORGED}\n\u{1b}[2K\r");
    let tokens = [
        token_with_header(&serde_json::json!({"alg": format!("RS256{forged}"), "kid": "k"})),
        token_with_header(&serde_json::json!({"alg": "RS256", "kid": format!("k{forged}")})),
        token_with_header(&serde_json::json!({"alg": "RS256", "kid": key().kid, "typ": forged})),
    ];
    for token in &tokens {
        let response = post_once(addr, PATH, &auth_headers(token), b"{}").await;
        assert_eq!(response.status, 401, "{}", response.body_text());
    }
    // A body fragment, from an authenticated sender.
    let genuine = key().sign(&claims(APP_ID));
    let body = serde_json::json!({"value": forged}).to_string();
    let response = post_once(addr, PATH, &auth_headers(&genuine), body.as_bytes()).await;
    assert_eq!(response.status, 400, "{}", response.body_text());
    // A claim value.
    let mut bad_claims = claims(APP_ID);
    bad_claims["iss"] = forged.clone().into();
    let response = post_once(addr, PATH, &auth_headers(&key().sign(&bad_claims)), b"{}").await;
    assert_eq!(response.status, 401, "{}", response.body_text());

    let text = captured.text();
    assert!(text.contains("callback refused"), "{text}");
    for line in text.lines() {
        assert!(
            !line.starts_with(FORGED) && !line.contains('\u{1b}') && !line.contains('\r'),
            "a forged line: {line:?}\n{text}"
        );
        // Each line is one event: it starts with its level.
        let level = line.trim_start().split(' ').next().unwrap_or_default();
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "a line that is no event: {line:?}\n{text}"
        );
    }
    // The values were logged, escaped.
    assert!(
        text.contains("INFO graph_comms_notify: transfer completed"),
        "{text}"
    );
    assert_eq!(receiver.stats().rejected(), 5);
}

#[tokio::test]
async fn refusals_are_rate_limited_and_summed_up_per_period() {
    let (captured, _guard) = capture();
    let period = Duration::from_millis(500);
    let (_keys, receiver, addr) = setup(|b| b.rejection_log_period(period)).await;
    let headers = [("Content-Type", "application/json".to_owned())];
    for _ in 0..40 {
        let response = post_once(addr, PATH, &headers, b"{}").await;
        assert_eq!(response.status, 401);
    }
    let refused = captured.lines_with("callback refused");
    assert_eq!(refused.len(), 5, "{refused:#?}");
    assert!(
        refused[0].trim_start().starts_with("WARN"),
        "{}",
        refused[0]
    );
    assert!(refused[0].contains("missing_token"), "{}", refused[0]);
    assert!(refused[1..]
        .iter()
        .all(|l| l.trim_start().starts_with("DEBUG")));

    // The next refusal after the period sums the last one up, and starts a new one.
    tokio::time::sleep(period + Duration::from_millis(100)).await;
    let response = post_once(addr, PATH, &headers, b"{}").await;
    assert_eq!(response.status, 401);
    let summaries = captured.lines_with("callbacks refused during the last period");
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    let summary = &summaries[0];
    assert!(summary.trim_start().starts_with("WARN"), "{summary}");
    assert!(summary.contains("unauthorized: 40"), "{summary}");
    assert!(summary.contains("not_logged=35"), "{summary}");
    assert_eq!(captured.lines_with("callback refused").len(), 6);
    assert_eq!(receiver.stats().unauthorized, 41);
}

/// A bot configured with the wrong app id refuses every genuine callback: that must show at
/// `warn`, with what to check.
#[tokio::test]
async fn a_wrong_app_id_is_obvious_at_warn() {
    let (captured, _guard) = capture();
    let (_keys, receiver, addr) = setup(|b| b).await;
    let token = key().sign(&claims("the-app-id-graph-knows"));
    for _ in 0..3 {
        let response = post_once(
            addr,
            PATH,
            &auth_headers(&token),
            notification("c", "transferring").as_bytes(),
        )
        .await;
        assert_eq!(response.status, 403);
    }
    let warnings: Vec<String> = captured
        .lines_with("callback refused")
        .into_iter()
        .filter(|l| l.trim_start().starts_with("WARN"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("wrong_audience") && warnings[0].contains("check the app id"),
        "{}",
        warnings[0]
    );
    assert_eq!(receiver.stats().forbidden, 3);
}
