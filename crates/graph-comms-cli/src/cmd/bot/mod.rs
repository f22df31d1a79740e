//! `graph-comms bot`: a transfer bot in one command.
//!
//! It serves the authenticated webhook on `--listen` (with `GET /healthz` and `GET /metrics`
//! beside it), answers every call Graph offers, plays the rule's prompt, and transfers the call:
//! to one Teams user (`--transfer-to`), or where the first matching rule of `--rules FILE` says
//! (a chain of blind or consultative targets, then a queue, a voicemail or a polite hang-up).
//! `rules.rs` is the rules engine (pure: parse, validate, match), `run.rs` the runtime, `ops.rs`
//! the metrics and logs. `docs/bot.md` is the user's documentation.
//!
//! On SIGTERM or SIGINT the bot stops answering (new calls are rejected as busy and `/healthz`
//! answers 503), lets the calls in progress finish up to `--drain-timeout`, then gives each call
//! still in progress its chain's last resort, and exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use graph_comms_notify::{CallLifecycle, TrackerConfig, TransferTracker};
use graph_comms_receiver::{AuthConfig, Receiver, ServeOptions, GRAPH_OPENID_CONFIGURATION};
use graph_comms_transfer::Guid;
use tokio::sync::{watch, Semaphore};

use super::graph::GraphArgs;
use crate::exit::{fail, INVALID_INPUT, NOT_ACCEPTED};

pub(crate) mod ops;
pub(crate) mod rules;
pub(crate) mod run;

/// How long, after the drain deadline, the last resorts may take before the bot exits.
const LAST_RESORT_GRACE: Duration = Duration::from_secs(10);

/// Arguments of `graph-comms bot`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Answers every incoming call and transfers it: to one Teams user (--transfer-to), or as the first
matching rule of a TOML rules file says (--rules). Rules match the callee (the number or
application instance called), the caller (number prefix, tenant) and the time of day in a time
zone; each has a chain of targets tried in order (blind, or consultative with consult = true)
and a last resort (a call queue, a voicemail, or a prompt and a hang-up):

  prompt = \"https://bot.contoso.com/hello.wav\"
  time_zone = \"Europe/London\"

  [[rule]]
  name = \"office hours\"
  callee = [\"+14255550100\"]
  days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]
  hours = \"09:00-17:30\"
  targets = [{ user = \"USER-ID\", consult = true }, { phone = \"+14255550123\" }]
  last_resort = { queue = \"CALL-QUEUE-RESOURCE-ACCOUNT-ID\" }

  [[rule]]
  name = \"closed\"
  last_resort = { hang_up = true, prompt = \"https://bot.contoso.com/closed.wav\" }

The whole format is in docs/bot.md. A call no rule matches is rejected.

Output: one line per call on stderr; one JSON line per finished call (callId, caller, callee,
rule, result, attempts with target, mode, outcome, reason, codes and durationMs) on stdout or
--log FILE. GET /healthz and GET /metrics (Prometheus text) are served on --listen.
SIGTERM/SIGINT: new calls are rejected (busy) and /healthz answers 503; calls in progress finish
up to --drain-timeout, then get their last resort; exit 0.

Several instances (--store redis://HOST:PORT): each with its own --callback-uri, the shared
URL in the bot's registration; the instance that claims an offered call answers it, and every
transfer is an attempt registered and awaited in the store (docs/bot.md).

Exit codes: 0 after a clean shutdown, or --check-rules on a valid file; 2 invalid flags or an
invalid rules file (line and column on stderr); 3 the address cannot be bound, credentials
are missing, or the --store cannot be reached.

Examples:
  graph-comms bot --check-rules examples/bot-rules.toml
  graph-comms bot --app-id APP --listen 0.0.0.0:3978 \\
      --callback-uri https://bot.contoso.com/api/calls --transfer-to USER-ID
  graph-comms bot --app-id APP --listen 0.0.0.0:3978 \\
      --callback-uri https://bot.contoso.com/api/calls --rules rules.toml --log calls.jsonl")]
pub(crate) struct Args {
    /// Check a rules file and exit: 0 when valid, 2 with the line, column and problem when not
    /// (every other flag is ignored).
    #[arg(long, value_name = "FILE")]
    check_rules: Option<PathBuf>,
    /// The bot's application id: the only token audience accepted on callbacks.
    #[arg(
        long,
        value_name = "ID",
        env = "GRAPH_COMMS_APP_ID",
        required_unless_present = "check_rules"
    )]
    app_id: Option<String>,
    /// Address to serve the webhook, /healthz and /metrics on, e.g. 0.0.0.0:3978 (port 0 picks
    /// a free port; the address bound is printed on stderr).
    #[arg(long, value_name = "ADDR", required_unless_present = "check_rules")]
    listen: Option<SocketAddr>,
    /// The public URL Graph posts this bot's callbacks to (it must reach --listen); the path of
    /// the webhook is its path unless --path says otherwise.
    #[arg(long, value_name = "URL", required_unless_present = "check_rules")]
    callback_uri: Option<String>,
    /// Transfer every call to this Teams user (object id), blind; hang up if it fails.
    #[arg(long, value_name = "USER-ID", conflicts_with = "rules",
          required_unless_present_any = ["rules", "check_rules"])]
    transfer_to: Option<String>,
    /// With --transfer-to: the prompt (an audio file's URL) played before the transfer.
    #[arg(long, value_name = "URL", conflicts_with = "rules")]
    prompt: Option<String>,
    /// The rules file (TOML; see docs/bot.md).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// OpenID configuration URL of the callback signing keys (Graph's by default; an emulator's
    /// `{root}/v1/.well-known/OpenIdConfiguration` offline).
    #[arg(long = "openid-config", value_name = "URL", default_value = GRAPH_OPENID_CONFIGURATION)]
    openid_config: String,
    /// The webhook path (default: --callback-uri's path, or /api/calls).
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    /// Append the per-call JSON lines to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// On SIGTERM/SIGINT, how long the calls in progress may take before they get their last
    /// resort.
    #[arg(long, value_name = "SECS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    drain_timeout: u64,
    /// Seconds a transfer may wait for its outcome before Graph is asked.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    transfer_timeout: u64,
    /// At most this many calls in progress at once; more are rejected (busy).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_calls: u32,
    /// Share the work with the other instances of a fleet through this store:
    /// redis://HOST:PORT[/DB]. Each instance needs its own --callback-uri (see docs/bot.md).
    #[arg(long, value_name = "URL", env = "GRAPH_COMMS_STORE")]
    store: Option<String>,
    /// Evaluate time-of-day rules at this instant (RFC 3339) instead of the clock (testing).
    #[arg(long, value_name = "TIME", hide = true)]
    now: Option<String>,
    #[command(flatten)]
    graph: GraphArgs,
}

/// Runs `graph-comms bot`.
pub(crate) fn run(args: Args) -> ExitCode {
    if let Some(path) = &args.check_rules {
        return match load_rules(path) {
            Ok(rules) => {
                println!(
                    "{}: valid, {} rule{}",
                    path.display(),
                    rules.rules.len(),
                    if rules.rules.len() == 1 { "" } else { "s" }
                );
                ExitCode::SUCCESS
            }
            Err(message) => fail(INVALID_INPUT, message),
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(NOT_ACCEPTED, format_args!("cannot start the runtime: {e}")),
    };
    runtime.block_on(bot(args))
}

/// Reads and parses a rules file; the error is `FILE:LINE:COLUMN: what`.
fn load_rules(path: &std::path::Path) -> Result<rules::Rules, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the rules file: {e}", path.display()))?;
    rules::parse(&text)
        .map_err(|e| format!("{}:{}:{}: {}", path.display(), e.line, e.column, e.message))
}

/// The path of a URL (`/api/calls` of `https://host/api/calls?x`), if it has one.
fn url_path(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let path = &rest[rest.find('/')?..];
    let path = path.split(['?', '#']).next().unwrap_or(path);
    (path.len() > 1).then(|| path.trim_end_matches('/').to_owned())
}

async fn bot(args: Args) -> ExitCode {
    let (Some(app_id), Some(addr), Some(callback_uri)) =
        (args.app_id.clone(), args.listen, args.callback_uri.clone())
    else {
        return fail(
            INVALID_INPUT,
            "--app-id, --listen and --callback-uri are required",
        );
    };
    let rules = match (&args.rules, &args.transfer_to) {
        (Some(path), _) => match load_rules(path) {
            Ok(rules) => rules,
            Err(message) => return fail(INVALID_INPUT, message),
        },
        (None, Some(user)) => match Guid::parse(user) {
            Ok(user) => rules::Rules::transfer_to(user, args.prompt.clone()),
            Err(e) => return fail(INVALID_INPUT, format_args!("--transfer-to: {e}")),
        },
        (None, None) => return fail(INVALID_INPUT, "name --transfer-to or --rules"),
    };
    let now = match args.now.as_deref().map(str::parse::<jiff::Timestamp>) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return fail(INVALID_INPUT, format_args!("--now: {e}")),
    };
    let base = match args.graph.base_url() {
        Ok(b) => b,
        Err(f) => return f.exit(),
    };
    let client = match args.graph.client(&base) {
        Ok(c) => c,
        Err(f) => return f.exit(),
    };
    let log = match ops::LogSink::open(args.log.as_deref()) {
        Ok(l) => l,
        Err(e) => return fail(INVALID_INPUT, format_args!("--log: {e}")),
    };
    let transfer_timeout = Duration::from_secs(args.transfer_timeout);
    let config = TrackerConfig::default().with_timeout(transfer_timeout);
    let shared = match &args.store {
        Some(url) => match crate::cmd::store::open(url, config.clone()).await {
            Ok(shared) => Some(shared),
            Err(e) => return fail(NOT_ACCEPTED, e),
        },
        None => None,
    };
    let tracker = TransferTracker::new(config);
    let metrics = Arc::new(ops::Metrics::default());
    let (cutoff, _) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(args.max_calls as usize));
    let bot = Arc::new(run::Bot {
        client,
        tracker: tracker.clone(),
        shared: shared.clone(),
        lifecycle: Arc::new(CallLifecycle::default()),
        rules,
        callback_uri: callback_uri.clone(),
        now,
        metrics: Arc::clone(&metrics),
        log,
        slots: Arc::clone(&slots),
        cutoff,
        transfer_timeout,
        live: true,
        active: Default::default(),
    });
    let path = args
        .path
        .clone()
        .or_else(|| url_path(&callback_uri))
        .unwrap_or_else(|| graph_comms_receiver::DEFAULT_PATH.to_owned());
    let auth = AuthConfig::new(app_id).with_openid_config_url(args.openid_config.clone());
    let receiver = match Receiver::builder(auth)
        .path(path)
        .tracker(tracker.clone())
        .handler(run::Handler(Arc::clone(&bot)))
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(INVALID_INPUT, e),
    };
    // With a store, deliveries are recorded (and offers claimed) before Graph is answered.
    let webhook = match shared {
        Some(shared) => crate::cmd::store::recording(receiver.router(), shared),
        None => receiver.router(),
    };
    let router = webhook.merge(ops::routes(Arc::clone(&metrics), receiver.clone()));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => return fail(NOT_ACCEPTED, format_args!("cannot listen on {addr}: {e}")),
    };
    let bound = listener.local_addr().unwrap_or(addr);
    eprintln!(
        "graph-comms: bot listening on http://{bound}{} (and /healthz, /metrics)",
        receiver.path()
    );
    if let Err(e) = receiver.authenticator().refresh_keys().await {
        eprintln!("graph-comms: warning: {e}; callbacks get 503 until the keys can be fetched");
    }
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            tracker.sweep();
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(graph_comms_receiver::serve_with_shutdown(
        listener,
        router,
        ServeOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    tokio::select! {
        () = shutdown_signal() => {}
        result = &mut server => {
            sweeper.abort();
            return match result {
                Ok(Err(e)) => fail(NOT_ACCEPTED, e),
                _ => fail(NOT_ACCEPTED, "the server stopped"),
            };
        }
    }

    // Drain: no new calls, the calls in progress finish (up to the deadline), then the last
    // resort for those still in progress.
    metrics.draining.store(true, Ordering::Relaxed);
    let in_progress = metrics.in_progress.load(Ordering::Relaxed);
    eprintln!(
        "graph-comms: shutting down: new calls are rejected; {in_progress} call(s) in progress, \
         up to {} s",
        args.drain_timeout
    );
    let all = args.max_calls;
    let drained = tokio::time::timeout(
        Duration::from_secs(args.drain_timeout),
        slots.acquire_many(all),
    )
    .await;
    if drained.is_err() {
        let left = metrics.in_progress.load(Ordering::Relaxed);
        eprintln!("graph-comms: drain deadline: the last resort for {left} call(s)");
        bot.cutoff.send_replace(true);
        if tokio::time::timeout(LAST_RESORT_GRACE, slots.acquire_many(all))
            .await
            .is_err()
        {
            eprintln!("graph-comms: warning: some last resorts were still in progress at exit");
        }
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    sweeper.abort();
    eprintln!("graph-comms: bot stopped");
    ExitCode::SUCCESS
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::url_path;

    #[test]
    fn the_webhook_path_comes_from_the_callback_uri() {
        assert_eq!(
            url_path("https://bot.example/api/calls"),
            Some("/api/calls".to_owned())
        );
        assert_eq!(
            url_path("http://127.0.0.1:3978/bot/cb/?x=1"),
            Some("/bot/cb".to_owned())
        );
        assert_eq!(url_path("https://bot.example"), None);
        assert_eq!(url_path("https://bot.example/"), None);
    }
}
