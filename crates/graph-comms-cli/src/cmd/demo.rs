//! `graph-comms demo`: every transfer scenario of the `call: transfer` page, plus its failures,
//! end to end on one machine.
//!
//! It starts the emulator and a receiver on free loopback ports, then for each scenario places a
//! call at the bot, scripts the emulator's answer, builds and validates the transfer with
//! `graph-comms-transfer`, sends it with `GraphCommsClient` (a client-credentials token from the
//! emulator's token endpoint), and follows it through signed callbacks, the receiver and the
//! `TransferTracker`, showing each state change as it arrives. It ends with a table and exits 4
//! when any scenario ends other than scripted.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use graph_comms_emulator::{Emulator, EmulatorConfig, PlaceCall, Script, TransferFlow};
use graph_comms_model::TransferRequestBody;
use graph_comms_notify::{
    explain_subcode, TrackOptions, TrackerConfig, TransferOutcome, TransferProgress,
    TransferTracker,
};
use graph_comms_receiver::{AuthConfig, Receiver, ServeOptions};
use graph_comms_transfer::{CallContext, CallId, Guid, Transfer, Transferee, E164};
use graph_comms_transport::{
    BaseUrl, ClientCredential, ClientCredentials, GraphCommsClient, Secret,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::{fail, NOT_ACCEPTED, TRANSFER_FAILED};

/// The demo bot's app id (the audience of the emulator's callback tokens).
const BOT_APP_ID: &str = "9ecd52e5-6592-42b7-b562-093f37f13bde";
/// The users of the spec page's examples.
const HEIDI: &str = "550fae72-d251-43ec-868c-373732c2704f";
const PSTN_TARGET: &str = "+12345678901";

/// Arguments of `graph-comms demo`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  graph-comms demo\n  graph-comms demo --json\n  \
                        graph-comms demo --delay-ms 0 --only 6"
)]
pub(crate) struct Args {
    /// Delay between the emulator's notifications, in milliseconds (shows the flow live).
    #[arg(long, value_name = "MS", default_value_t = 120)]
    delay_ms: u64,
    /// Give up on a scenario's outcome after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    timeout: u64,
    /// Print the results as JSON lines instead of the live view and table.
    #[arg(long)]
    json: bool,
    /// Run only these scenarios (numbers from 1 to 8; repeat or separate with commas).
    #[arg(long, value_name = "N", value_delimiter = ',')]
    only: Vec<usize>,
}

/// What a scenario is scripted to end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Completed,
    Failed(i64),
    CallEnded,
}

impl Expect {
    fn label(self) -> String {
        match self {
            Self::Completed => "completed".into(),
            Self::Failed(sub) => format!("failed {sub}"),
            Self::CallEnded => "call ended".into(),
        }
    }

    fn matches(self, outcome: &TransferOutcome) -> bool {
        match (self, outcome) {
            (Self::Completed, TransferOutcome::Completed { .. }) => true,
            (Self::Failed(want), TransferOutcome::Failed { subcode, .. }) => *subcode == Some(want),
            (Self::CallEnded, TransferOutcome::CallEnded { .. }) => true,
            _ => false,
        }
    }
}

/// Who the transfer goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    TeamsUser,
    Phone,
}

/// One scenario of the demo.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    name: &'static str,
    target: Target,
    consultative: bool,
    group: bool,
    flow: TransferFlow,
    expect: Expect,
}

const SCENARIOS: [Scenario; 8] = [
    Scenario {
        name: "ex1 peer call -> Teams user",
        target: Target::TeamsUser,
        consultative: false,
        group: false,
        flow: TransferFlow::Success,
        expect: Expect::Completed,
    },
    Scenario {
        name: "ex2 consultative -> Teams user",
        target: Target::TeamsUser,
        consultative: true,
        group: false,
        flow: TransferFlow::Success,
        expect: Expect::Completed,
    },
    Scenario {
        name: "ex3 peer call -> PSTN",
        target: Target::Phone,
        consultative: false,
        group: false,
        flow: TransferFlow::Success,
        expect: Expect::Completed,
    },
    Scenario {
        name: "ex4 consultative -> PSTN",
        target: Target::Phone,
        consultative: true,
        group: false,
        flow: TransferFlow::Success,
        expect: Expect::Completed,
    },
    Scenario {
        name: "ex5 group call -> Teams user",
        target: Target::TeamsUser,
        consultative: false,
        group: true,
        flow: TransferFlow::Success,
        expect: Expect::Completed,
    },
    Scenario {
        name: "failure (500/7000)",
        target: Target::TeamsUser,
        consultative: false,
        group: false,
        flow: TransferFlow::Failed,
        expect: Expect::Failed(7000),
    },
    Scenario {
        name: "consultative failure (500/7700)",
        target: Target::TeamsUser,
        consultative: true,
        group: false,
        flow: TransferFlow::ConsultativeFailed,
        expect: Expect::Failed(7700),
    },
    Scenario {
        name: "caller hangs up mid-transfer",
        target: Target::TeamsUser,
        consultative: false,
        group: false,
        flow: TransferFlow::CallerHangUp,
        expect: Expect::CallEnded,
    },
];

/// How one scenario ended.
#[derive(Debug)]
struct Row {
    number: usize,
    scenario: Scenario,
    outcome: Result<TransferOutcome, String>,
    code: Option<i64>,
    subcode: Option<i64>,
    termination_reason: Option<String>,
    elapsed: Duration,
}

impl Row {
    fn as_scripted(&self) -> bool {
        self.outcome
            .as_ref()
            .is_ok_and(|o| self.scenario.expect.matches(o))
    }

    fn outcome_label(&self) -> String {
        match &self.outcome {
            Ok(TransferOutcome::Completed { .. }) => "completed".into(),
            Ok(TransferOutcome::Failed { .. }) => "failed".into(),
            Ok(TransferOutcome::CallEnded { .. }) => "call ended".into(),
            Ok(TransferOutcome::TimedOut) => "timed out".into(),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    fn code_label(&self) -> String {
        match (self.code, self.subcode, &self.termination_reason) {
            (Some(c), Some(s), _) => format!("{c}/{s}"),
            (_, _, Some(reason)) => reason.clone(),
            (Some(c), None, _) => c.to_string(),
            _ => "-".into(),
        }
    }

    fn explanation(&self) -> &'static str {
        match (
            self.subcode.and_then(explain_subcode),
            self.termination_reason.as_deref(),
        ) {
            (Some(text), _) => text,
            (None, Some("AppTransferred")) => {
                "AppTransferred: the call was handed to the transfer target"
            }
            (None, _) if matches!(self.outcome, Ok(TransferOutcome::CallEnded { .. })) => {
                "the call ended without a transfer result (the caller hung up)"
            }
            _ => "",
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "scenario": self.number,
            "name": self.scenario.name,
            "expected": self.scenario.expect.label(),
            "outcome": self.outcome_label(),
            "resultCode": self.code,
            "resultSubcode": self.subcode,
            "terminationReason": self.termination_reason,
            "explanation": Some(self.explanation()).filter(|e| !e.is_empty()),
            "asScripted": self.as_scripted(),
            "millis": u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

/// Runs `graph-comms demo`.
pub(crate) fn run(args: Args) -> ExitCode {
    if let Some(bad) = args
        .only
        .iter()
        .find(|n| !(1..=SCENARIOS.len()).contains(*n))
    {
        return fail(
            crate::exit::INVALID_INPUT,
            format!(
                "--only {bad}: scenarios are numbered 1 to {}",
                SCENARIOS.len()
            ),
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(NOT_ACCEPTED, format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(demo(&args)) {
        Ok(rows) => {
            if args.json {
                for row in &rows {
                    println!("{}", row.json());
                }
            } else {
                print_table(&rows);
            }
            if rows.iter().all(Row::as_scripted) {
                ExitCode::SUCCESS
            } else {
                let bad: Vec<String> = rows
                    .iter()
                    .filter(|r| !r.as_scripted())
                    .map(|r| r.number.to_string())
                    .collect();
                fail(
                    TRANSFER_FAILED,
                    format!("scenario {} did not end as scripted", bad.join(", ")),
                )
            }
        }
        Err(e) => fail(NOT_ACCEPTED, e),
    }
}

async fn demo(args: &Args) -> Result<Vec<Row>, String> {
    let emulator = Emulator::start(EmulatorConfig::default().with_bot_app_id(BOT_APP_ID))
        .await
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let tenant = emulator.tenant_id().to_owned();

    // The bot's side: a receiver authenticating callbacks against the emulator's keys.
    let tracker = TransferTracker::new(
        TrackerConfig::default().with_timeout(Duration::from_secs(args.timeout)),
    );
    let auth = AuthConfig::new(BOT_APP_ID).with_openid_config_url(emulator.openid_config_url());
    let receiver = Receiver::builder(auth)
        .tracker(tracker.clone())
        .build()
        .map_err(|e| format!("cannot build the receiver: {e}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let callback = format!(
        "http://{}{}",
        listener
            .local_addr()
            .map_err(|e| format!("listener address: {e}"))?,
        receiver.path()
    );
    let server = tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        ServeOptions::default(),
    ));

    // The client: client credentials against the emulator's token endpoint.
    let tokens = ClientCredentials::builder(
        BOT_APP_ID,
        ClientCredential::Secret(Secret::new("demo-secret")),
    )
    .authority_host(emulator.root_url())
    .and_then(|b| b.home_tenant(tenant.clone()).build())
    .map_err(|e| format!("cannot set up client credentials: {e}"))?;
    let base = BaseUrl::parse(&emulator.base_url("beta")).map_err(|e| e.to_string())?;
    let client = GraphCommsClient::builder(Arc::new(tokens))
        .base_url(base)
        .tenant(tenant.clone())
        .build()
        .map_err(|e| format!("cannot build the client: {e}"))?;

    if !args.json {
        println!("emulator  {}", emulator.root_url());
        println!("receiver  {callback}\n");
    }
    let live = !args.json && std::io::stdout().is_terminal();
    let mut rows = Vec::new();
    for (i, scenario) in SCENARIOS.iter().enumerate() {
        let number = i + 1;
        if !args.only.is_empty() && !args.only.contains(&number) {
            continue;
        }
        let ctx = Ctx {
            emulator: &emulator,
            client: &client,
            tracker: &tracker,
            callback: &callback,
            tenant: &tenant,
            delay_ms: args.delay_ms,
            quiet: args.json,
            live,
        };
        rows.push(run_scenario(&ctx, number, *scenario).await);
    }
    server.abort();
    emulator.shutdown().await;
    Ok(rows)
}

/// What every scenario shares.
struct Ctx<'a> {
    emulator: &'a Emulator,
    client: &'a GraphCommsClient,
    tracker: &'a TransferTracker,
    callback: &'a str,
    tenant: &'a str,
    delay_ms: u64,
    quiet: bool,
    live: bool,
}

/// Shows a scenario's progress: a spinner on a terminal, plain lines otherwise, nothing for JSON.
struct Progress {
    bar: Option<ProgressBar>,
    prefix: String,
    quiet: bool,
}

impl Progress {
    fn new(ctx: &Ctx<'_>, number: usize, name: &str) -> Self {
        let prefix = format!("[{number}/{}] {name}", SCENARIOS.len());
        let bar = ctx.live.then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix:40} {msg}") {
                bar.set_style(style);
            }
            bar.set_prefix(prefix.clone());
            bar.enable_steady_tick(Duration::from_millis(80));
            bar
        });
        Self {
            bar,
            prefix,
            quiet: ctx.quiet,
        }
    }

    fn step(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(message.to_owned()),
            None if !self.quiet => println!("{:44} {message}", self.prefix),
            None => {}
        }
    }

    fn finish(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(message.to_owned()),
            None if !self.quiet => println!("{:44} {message}", self.prefix),
            None => {}
        }
    }
}

async fn run_scenario(ctx: &Ctx<'_>, number: usize, scenario: Scenario) -> Row {
    let progress = Progress::new(ctx, number, scenario.name);
    let started = Instant::now();
    let outcome = drive(ctx, scenario, &progress).await;
    let elapsed = started.elapsed();
    let outcome = outcome.map(|(_, o)| o);
    // The outcome carries the final notification's codes and termination reason.
    let (code, subcode, termination_reason) = match &outcome {
        Ok(o) => (
            o.code(),
            o.subcode(),
            o.termination_reason().map(str::to_owned),
        ),
        Err(_) => (None, None, None),
    };
    let row = Row {
        number,
        scenario,
        outcome,
        code,
        subcode,
        termination_reason,
        elapsed,
    };
    let mark = if row.as_scripted() {
        "ok"
    } else {
        "NOT AS SCRIPTED"
    };
    progress.finish(&format!(
        "{} ({}) in {:.2} s: {mark}",
        row.outcome_label(),
        row.code_label(),
        elapsed.as_secs_f64()
    ));
    row
}

/// Places the call, sends the transfer, follows it; returns the call id and the outcome.
async fn drive(
    ctx: &Ctx<'_>,
    scenario: Scenario,
    progress: &Progress,
) -> Result<(String, TransferOutcome), String> {
    let script = Script::new(scenario.flow).with_delay_ms(ctx.delay_ms);
    let mut place = PlaceCall::new(ctx.callback)
        .with_app_id(BOT_APP_ID)
        .with_script(script);
    if scenario.group {
        place = place.with_group(3);
    }
    let call = ctx.emulator.place_call(place).map_err(|e| e.to_string())?;
    progress.step("call established");

    // A consultative transfer replaces the bot's call with the transfer target.
    let replaces = if scenario.consultative {
        let consult = ctx
            .emulator
            .place_call(PlaceCall::new(ctx.callback).with_app_id(BOT_APP_ID))
            .map_err(|e| e.to_string())?;
        Some(CallId::parse(&consult.id).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let (body, call_ctx) = build(ctx, scenario, &call, replaces.clone())?;
    let report = graph_comms_transfer::validate(&body, &call_ctx);
    if report.has_errors() {
        return Err(format!("validation: {report}"));
    }

    // Track first: the first notification may arrive before the 202 does.
    let mut options = TrackOptions::default();
    if let Some(r) = &replaces {
        options = TrackOptions::consultative(r.to_string());
    }
    let handle = ctx
        .tracker
        .track_with(call.id.clone(), options)
        .map_err(|e| e.to_string())?;
    let mut steps = handle.progress();
    progress.step("POST .../transfer");
    let accepted = ctx
        .client
        .transfer(&call.id, &body)
        .await
        .map_err(|e| e.to_string())?;
    progress.step(&format!(
        "202 Accepted (request-id {})",
        accepted.request_id.as_deref().unwrap_or("-")
    ));
    let mut outcome = None;
    while let Some(step) = steps.next().await {
        match step {
            TransferProgress::Transferring => progress.step("transferring"),
            TransferProgress::TransferAccepted => progress.step("transferAccepted"),
            TransferProgress::ConsultationEnded { call_id, .. } => {
                progress.step(&format!("consultation call {call_id} ended"));
            }
            TransferProgress::Finished(o) => {
                outcome = Some(o);
                break;
            }
            _ => {}
        }
    }
    let mut outcome = match outcome {
        Some(o) => o,
        None => handle.outcome().unwrap_or(TransferOutcome::TimedOut),
    };
    if outcome == TransferOutcome::TimedOut {
        // Ask Graph instead of guessing.
        progress.step("no final notification in time: GET the call");
        let options = graph_comms_flow::ReconcileOptions::default()
            .with_grace(Duration::from_secs(2))
            .with_interval(Duration::from_millis(200));
        if let Ok(o) = graph_comms_flow::reconcile_handle(ctx.client, &handle, &options).await {
            outcome = o;
        }
    }
    Ok((call.id, outcome))
}

/// The transfer body of a scenario, and the call context it is validated against.
fn build(
    ctx: &Ctx<'_>,
    scenario: Scenario,
    call: &graph_comms_emulator::PlacedCall,
    replaces: Option<CallId>,
) -> Result<(TransferRequestBody, CallContext), String> {
    let tenant = Guid::parse(ctx.tenant).ok();
    let mut transfer = match scenario.target {
        Target::TeamsUser => {
            Transfer::to_teams_user(guid(HEIDI)?, tenant).display_name("Heidi Steen")
        }
        Target::Phone => Transfer::to_phone(E164::parse(PSTN_TARGET).map_err(|e| e.to_string())?),
    };
    transfer = transfer.language_id("en-us").region("amer");
    if let Some(r) = replaces {
        transfer = transfer.consultative(r);
    }
    let mut call_ctx = if scenario.group {
        CallContext::group()
    } else {
        CallContext::peer()
    }
    .with_call_id(call.id.clone())
    .with_application_instance(scenario.target == Target::Phone);
    if let Some(t) = tenant {
        call_ctx = call_ctx.with_tenant(t);
    }
    if scenario.group {
        let first = call
            .participants
            .first()
            .ok_or("the group call has no participants")?;
        let participant_id = first["participantId"]
            .as_str()
            .ok_or("participant without participantId")?;
        let user = first["identity"]["user"]["id"]
            .as_str()
            .ok_or("participant without identity.user.id")?;
        transfer = transfer.transferee(Transferee::teams_user(guid(user)?, tenant, participant_id));
    }
    Ok((transfer.build(), call_ctx))
}

fn guid(s: &str) -> Result<Guid, String> {
    Guid::parse(s).map_err(|e| e.to_string())
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<3} {:<34} {:<12} {:<12} {:<16} {:>8}  explanation",
        "#", "scenario", "expected", "outcome", "code/subcode", "time"
    );
    for r in rows {
        // The table keeps each explanation to its first clause; `--json` has it whole.
        let explanation = r
            .explanation()
            .split([';', '('])
            .next()
            .unwrap_or_default()
            .trim_end();
        println!(
            "{:<3} {:<34} {:<12} {:<12} {:<16} {:>6.2} s  {}",
            r.number,
            r.scenario.name,
            r.scenario.expect.label(),
            r.outcome_label(),
            r.code_label(),
            r.elapsed.as_secs_f64(),
            explanation
        );
    }
    let ok = rows.iter().filter(|r| r.as_scripted()).count();
    println!("\n{ok} of {} scenarios ended as scripted", rows.len());
}
