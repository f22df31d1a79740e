//! `graph-comms listen`: the authenticated webhook receiver alone.
//!
//! Serves `POST {path}` on `--addr`, authenticating every callback against the OpenID
//! configuration's keys for `--app-id`. Prints to stdout, one JSON object per line:
//! - each notification of each accepted callback, in the `notify parse` shape (`callId`,
//!   `changeType`, `state`, `event`, `resultCode`, `resultSubcode`, `resultMessage`,
//!   `terminationReason`, `replacesContext`);
//! - each finished transfer, once: `{"callId", "outcome", "resultCode", "resultSubcode",
//!   "resultMessage", "replacesContext", "explanation"}` with `outcome` one of
//!   `transferCompleted`, `transferFailed`, `callEnded`, `timedOut`, plus `"inferred": true` when
//!   no final code was seen (e.g. the call was deleted after `transferAccepted`). A transfer that
//!   timed out and whose final notification arrives later (within ten minutes) gets a second line,
//!   its late outcome, with `"late": true`. `callId` is spelled as Graph spelled it in the
//!   notification that started following the transfer.
//!
//! A transfer is followed from the first transfer notification of a call nobody follows yet, under
//! the tenant of that notification's token; notifications for it under another tenant are not
//! applied and are logged on stderr. At most `--max-open` transfers are followed at once (the
//! oldest is timed out first).
//!
//! With `--store redis://HOST:PORT[/DB]`, every instance of a fleet also records each transfer
//! event it receives in the shared store before answering Graph (a store failure is answered
//! `503`, so Graph redelivers), and registers the transfers it starts following there (at most
//! `--max-open` of them open at once, per instance), so that any instance, `transfer --wait
//! --store` or `track` learns the outcome whichever instance received the final notification.
//! What it prints is unchanged.
//!
//! Rejected callbacks are logged on stderr (with `-v`). Exit 3 when the address cannot be bound
//! or the store cannot be reached.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graph_comms_notify::{
    normalize_call_id, Applied, EventKind, TrackOptions, TrackerConfig, TransferHandle,
    TransferOutcome, TransferTracker,
};
use graph_comms_receiver::{
    AuthConfig, Delivery, Receiver, DEFAULT_PATH, GRAPH_OPENID_CONFIGURATION,
};

use crate::exit::{fail, INVALID_INPUT, NOT_ACCEPTED};

/// Arguments of `graph-comms listen`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints one JSON line per authenticated notification (the `notify parse` shape) and one per
finished transfer. Unauthenticated or malformed callbacks are refused and never printed.

Examples:
  graph-comms listen --addr 0.0.0.0:3978 --app-id 9ecd52e5-6592-42b7-b562-093f37f13bde
  graph-comms listen --addr 127.0.0.1:3978 --app-id APP \\
      --openid-config http://127.0.0.1:4000/v1/.well-known/OpenIdConfiguration")]
pub(crate) struct Args {
    /// Address to listen on, e.g. 127.0.0.1:3978 (port 0 picks a free port; the address bound is
    /// printed on stderr).
    #[arg(long, value_name = "ADDR")]
    addr: SocketAddr,
    /// The bot's application id: the only token audience accepted.
    #[arg(long, value_name = "ID", env = "GRAPH_COMMS_APP_ID")]
    app_id: String,
    /// OpenID configuration URL of the callback signing keys (Graph's by default; an emulator's
    /// `{root}/v1/.well-known/OpenIdConfiguration` offline).
    #[arg(long = "openid-config", value_name = "URL", default_value = GRAPH_OPENID_CONFIGURATION)]
    openid_config: String,
    /// Callback path.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PATH)]
    path: String,
    /// Accepted token issuer (repeat for several; default: Bot Framework's and Graph's).
    #[arg(long = "issuer", value_name = "ISS")]
    issuers: Vec<String>,
    /// Seconds a transfer may wait for its final notification before it is reported `timedOut`.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    transfer_timeout: u64,
    /// At most this many transfers are followed at once; past it the oldest is timed out.
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_open: u64,
    /// Record every transfer event in this shared store too, for a fleet of instances:
    /// redis://HOST:PORT[/DB].
    #[arg(long, value_name = "URL", env = "GRAPH_COMMS_STORE")]
    store: Option<String>,
}

/// Runs `graph-comms listen`.
pub(crate) fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(NOT_ACCEPTED, format_args!("cannot start the runtime: {e}")),
    };
    runtime.block_on(listen(args))
}

async fn listen(args: Args) -> ExitCode {
    let mut auth = AuthConfig::new(args.app_id).with_openid_config_url(args.openid_config);
    if !args.issuers.is_empty() {
        auth = auth.with_issuers(args.issuers);
    }
    let config = TrackerConfig::default()
        .with_timeout(Duration::from_secs(args.transfer_timeout))
        .with_max_followed(usize::try_from(args.max_open).unwrap_or(usize::MAX));
    let late_window = config.late_result_window;
    let shared = match &args.store {
        Some(url) => match crate::cmd::store::open(url, config.clone()).await {
            Ok(shared) => Some(shared.following(true)),
            Err(e) => return fail(NOT_ACCEPTED, e),
        },
        None => None,
    };
    let tracker = TransferTracker::new(config);
    let followed = Arc::new(Followed {
        tracker: tracker.clone(),
        late_window,
        handles: Mutex::new(HashMap::new()),
    });
    let on_delivery = Arc::clone(&followed);
    let receiver = match Receiver::builder(auth)
        .path(args.path)
        .tracker(tracker)
        .handler(move |delivery: &Delivery<'_>| {
            crate::cmd::store::queue(delivery);
            on_delivery.deliver(delivery);
        })
        .build()
    {
        Ok(receiver) => receiver,
        Err(e) => return fail(INVALID_INPUT, e),
    };
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            return fail(
                NOT_ACCEPTED,
                format_args!("cannot listen on {}: {e}", args.addr),
            )
        }
    };
    let bound = listener.local_addr().unwrap_or(args.addr);
    eprintln!(
        "graph-comms: listening on http://{bound}{}",
        receiver.path()
    );
    if let Err(e) = receiver.authenticator().refresh_keys().await {
        eprintln!("graph-comms: warning: {e}; callbacks get 503 until the keys can be fetched");
    }
    // Timeouts resolve without any callback: look for them once a second.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            followed.tracker.sweep();
            followed.report_finished(None);
        }
    });
    let router = match shared {
        Some(shared) => crate::cmd::store::recording(receiver.router(), shared),
        None => receiver.router(),
    };
    match graph_comms_receiver::serve(listener, router, Default::default()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(NOT_ACCEPTED, e),
    }
}

/// The transfers `listen` follows: one per call that had a transfer notification while nobody
/// followed it, keyed by the call id as compared ([`normalize_call_id`]).
struct Followed {
    tracker: TransferTracker,
    /// How long a timed-out transfer may still get a late outcome.
    late_window: Duration,
    handles: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    /// The call id as Graph spelled it in the notification that started following it.
    call_id: String,
    handle: TransferHandle,
    /// When its `timedOut` line was printed (it may still get a late outcome).
    timed_out_at: Option<Instant>,
}

impl Followed {
    /// Prints the batch's events, starts following new transfers, prints the ones that ended.
    fn deliver(&self, delivery: &Delivery<'_>) {
        let mut out = String::new();
        for event in delivery.events {
            out.push_str(&event.to_json_line());
            out.push('\n');
        }
        write_stdout(&out);
        for (event, applied) in delivery.events.iter().zip(delivery.applied) {
            if *applied == Applied::OtherTenant {
                eprintln!(
                    "graph-comms: notification for call {:?} under tenant {:?} not applied: the \
                     transfer belongs to another tenant",
                    event.call_id.as_deref().unwrap_or_default(),
                    delivery.tenant_id().unwrap_or_default(),
                );
            }
        }
        {
            let mut handles = self.lock();
            for (event, applied) in delivery.events.iter().zip(delivery.applied) {
                // Buffered: an event for a call nobody tracks; a transfer notification starts
                // following it, and tracking replays every buffered event of the call in order
                // (the rest of this body included).
                let (Applied::Buffered, Some(call_id)) = (applied, &event.call_id) else {
                    continue;
                };
                if event.kind == EventKind::Other {
                    continue;
                }
                let key = normalize_call_id(call_id).into_owned();
                if handles.get(&key).is_some_and(|e| e.timed_out_at.is_none()) {
                    continue;
                }
                let mut options = TrackOptions::followed();
                if let Some(tenant) = delivery.tenant_id() {
                    options = options.with_tenant(tenant);
                }
                if let Ok(handle) = self.tracker.track_with(call_id.clone(), options) {
                    let entry = Entry {
                        call_id: call_id.clone(),
                        handle,
                        timed_out_at: None,
                    };
                    handles.insert(key, entry);
                }
            }
        }
        let calls: Vec<String> = delivery
            .events
            .iter()
            .filter_map(|e| e.call_id.as_deref())
            .map(|c| normalize_call_id(c).into_owned())
            .collect();
        self.report_finished(Some(&calls));
    }

    /// Prints the outcomes (and late outcomes) of the followed transfers of `calls`, or of all;
    /// forgets the transfers that are over.
    fn report_finished(&self, calls: Option<&[String]>) {
        let mut out = String::new();
        {
            let mut handles = self.lock();
            let keys: Vec<String> = match calls {
                Some(calls) => calls.to_vec(),
                None => handles.keys().cloned().collect(),
            };
            for key in keys {
                let Some(entry) = handles.get_mut(&key) else {
                    continue;
                };
                let over = match entry.timed_out_at {
                    None => match entry.handle.outcome() {
                        Some(TransferOutcome::TimedOut) => {
                            out.push_str(&outcome_line(&entry.call_id, &TransferOutcome::TimedOut));
                            out.push('\n');
                            entry.timed_out_at = Some(Instant::now());
                            false
                        }
                        Some(outcome) => {
                            out.push_str(&outcome_line(&entry.call_id, &outcome));
                            out.push('\n');
                            true
                        }
                        None => false,
                    },
                    Some(at) => match entry.handle.late_outcome() {
                        Some(late) => {
                            out.push_str(&outcome_line(&entry.call_id, &late));
                            out.push('\n');
                            true
                        }
                        None => at.elapsed() > self.late_window,
                    },
                };
                if over {
                    handles.remove(&key);
                }
            }
        }
        if !out.is_empty() {
            write_stdout(&out);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.handles
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One JSON line for a finished transfer, keys in a fixed order; `inferred` and `late` only when
/// true.
pub(crate) fn outcome_line(call_id: &str, outcome: &TransferOutcome) -> String {
    let json = |v: serde_json::Value| v.to_string();
    let mut line = format!(
        "{{\"callId\":{},\"outcome\":{},\"resultCode\":{},\"resultSubcode\":{},\"resultMessage\":{},\"replacesContext\":{},\"explanation\":{}",
        json(call_id.into()),
        json(outcome.name().into()),
        json(outcome.code().into()),
        json(outcome.subcode().into()),
        json(outcome.message().into()),
        json(outcome.replaces_context().into()),
        json(outcome.explanation().into()),
    );
    if outcome.is_inferred() {
        line.push_str(",\"inferred\":true");
    }
    if outcome.is_late() {
        line.push_str(",\"late\":true");
    }
    line.push('}');
    line
}

/// Writes and flushes; a closed stdout (`| head`) is not an error worth a panic.
fn write_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_lines_have_fixed_keys() {
        let line = outcome_line("c1", &TransferOutcome::completed(false));
        assert_eq!(
            line,
            r#"{"callId":"c1","outcome":"transferCompleted","resultCode":null,"resultSubcode":null,"resultMessage":null,"replacesContext":null,"explanation":null}"#
        );
        let late = outcome_line("c1", &TransferOutcome::completed(true).into_late());
        assert!(late.ends_with(r#","inferred":true,"late":true}"#), "{late}");
        let failed = TransferOutcome::Failed {
            code: Some(500),
            subcode: Some(7700),
            message: Some("Call transfer failed".to_owned()),
            replaces_context: Some("ctx".to_owned()),
            termination_reason: None,
            inferred: false,
            late: false,
        };
        let value: serde_json::Value =
            serde_json::from_str(&outcome_line("c2", &failed)).unwrap_or_default();
        assert_eq!(value["outcome"], "transferFailed");
        assert_eq!(value["resultCode"], 500);
        assert_eq!(value["resultSubcode"], 7700);
        assert_eq!(value["replacesContext"], "ctx");
    }
}
