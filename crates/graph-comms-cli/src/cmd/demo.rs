//! `graph-comms demo`: every transfer scenario of the `call: transfer` page, plus its failures,
//! end to end on one machine.
//!
//! It starts the emulator and a receiver on free loopback ports, then for each scenario places a
//! call at the bot, scripts the emulator's answer, builds and validates the transfer with
//! `graph-comms-transfer`, sends it with `GraphCommsClient` (a client-credentials token from the
//! emulator's token endpoint), and follows it through signed callbacks, the receiver and the
//! `TransferTracker`, showing each state change as it arrives. It ends with a table and exits 4
//! when any scenario ends other than scripted.
//!
//! The incoming scenario ([`drive_incoming`]) starts the other way round, as a real bot's calls
//! do: the emulator offers the bot a call (`incoming`), the receiver hands it to the bot's
//! handler, the bot answers it with `GraphCommsClient::answer`, awaits `established` through
//! `CallLifecycle`, then transfers it. The last scenario (`demo_bot.rs`) is `graph-comms bot`'s
//! own runtime putting an incoming call through by its rules: a consultation that is declined,
//! then the next target of the chain.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{CallTarget, Emulator, EmulatorConfig, PlaceCall, Script, TransferFlow};
use graph_comms_flow::{ConsultOptions, ConsultOutcome, ConsultStep, Consultation, RollbackReason};
use graph_comms_model::TransferRequestBody;
use graph_comms_notify::{
    explain_subcode, CallLifecycle, IncomingCall, TrackOptions, TrackerConfig, TransferOutcome,
    TransferProgress, TransferTracker,
};
use graph_comms_receiver::{AuthConfig, Delivery, NotificationHandler, Receiver, ServeOptions};
use graph_comms_transfer::{
    Answer, CallContext, CallId, Guid, OutgoingCall, Transfer, Transferee, E164,
};
use graph_comms_transport::{ClientCredential, ClientCredentials, GraphCommsClient, Secret};
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::{fail, NOT_ACCEPTED, TRANSFER_FAILED};

#[path = "demo_bot.rs"]
mod bot_scenario;

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
    /// Run only these scenarios (numbers from 1 to 13; repeat or separate with commas).
    #[arg(long, value_name = "N", value_delimiter = ',')]
    only: Vec<usize>,
}

/// What a scenario is scripted to end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Completed,
    Failed(i64),
    CallEnded,
    /// A consultation rolled back with this code or sub-code.
    RolledBack(i64),
}

impl Expect {
    fn label(self) -> String {
        match self {
            Self::RolledBack(code) => format!("rolled back {code}"),
            Self::Completed => "completed".into(),
            Self::Failed(sub) => format!("failed {sub}"),
            Self::CallEnded => "call ended".into(),
        }
    }

    /// Whether a consultation ended as this expects.
    fn matches_consult(self, outcome: &ConsultOutcome) -> bool {
        match (self, outcome) {
            (Self::Completed, ConsultOutcome::Completed { .. }) => true,
            (Self::RolledBack(want), ConsultOutcome::RolledBack { .. }) => {
                outcome.code() == Some(want) || outcome.subcode() == Some(want)
            }
            (Self::CallEnded, ConsultOutcome::CallEnded { .. }) => true,
            _ => false,
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

/// A call offered to the bot, answered, then transferred ([`drive_incoming`]).
const INCOMING: Scenario = Scenario {
    name: "incoming: answered -> Teams user",
    target: Target::TeamsUser,
    consultative: false,
    group: false,
    flow: TransferFlow::Success,
    expect: Expect::Completed,
};

const SCENARIOS: [Scenario; 9] = [
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
    INCOMING,
];

/// The consultation scenarios, after [`SCENARIOS`]: the flow crate's [`Consultation`] holds the
/// caller, calls the target (who does what the script says), then transfers or rolls back.
const CONSULT_SCENARIOS: [(Scenario, CallTarget); 3] = [
    (
        Scenario {
            name: "consult, target answers",
            target: Target::TeamsUser,
            consultative: true,
            group: false,
            flow: TransferFlow::Success,
            expect: Expect::Completed,
        },
        CallTarget::Answer,
    ),
    (
        Scenario {
            name: "consult, target declines",
            target: Target::TeamsUser,
            consultative: true,
            group: false,
            flow: TransferFlow::Success,
            expect: Expect::RolledBack(603),
        },
        CallTarget::Decline,
    ),
    (
        Scenario {
            name: "consult, transfer fails (7700)",
            target: Target::TeamsUser,
            consultative: true,
            group: false,
            flow: TransferFlow::ConsultativeFailed,
            expect: Expect::RolledBack(7700),
        },
        CallTarget::Answer,
    ),
];

/// The number of scenarios.
fn scenario_count() -> usize {
    SCENARIOS.len() + CONSULT_SCENARIOS.len() + 1
}

/// How one scenario ended.
#[derive(Debug)]
struct Row {
    number: usize,
    scenario: Scenario,
    /// A consultation scenario's outcome (its transfer's, when there was one, is `outcome`).
    consult: Option<ConsultOutcome>,
    outcome: Result<TransferOutcome, String>,
    code: Option<i64>,
    subcode: Option<i64>,
    termination_reason: Option<String>,
    elapsed: Duration,
}

impl Row {
    /// A scenario's row. Its codes and termination reason are the transfer's (the final
    /// notification's, which its outcome carries); a consultation that did not complete gives
    /// its own code and sub-code.
    fn new(
        number: usize,
        scenario: Scenario,
        consult: Option<ConsultOutcome>,
        outcome: Result<TransferOutcome, String>,
        elapsed: Duration,
    ) -> Self {
        let (code, subcode, termination_reason) = match (&consult, &outcome) {
            (Some(ConsultOutcome::Completed { transfer, .. }), _) | (None, Ok(transfer)) => (
                transfer.code(),
                transfer.subcode(),
                transfer.termination_reason().map(str::to_owned),
            ),
            (Some(c), _) => (c.code(), c.subcode(), None),
            (None, Err(_)) => (None, None, None),
        };
        Row {
            number,
            scenario,
            consult,
            outcome,
            code,
            subcode,
            termination_reason,
            elapsed,
        }
    }

    fn as_scripted(&self) -> bool {
        if let Some(c) = &self.consult {
            return self.scenario.expect.matches_consult(c);
        }
        self.outcome
            .as_ref()
            .is_ok_and(|o| self.scenario.expect.matches(o))
    }

    fn outcome_label(&self) -> String {
        match &self.consult {
            Some(ConsultOutcome::RolledBack { .. }) => return "rolledBack".into(),
            Some(ConsultOutcome::CallEnded { .. }) => return "call ended".into(),
            _ => {}
        }
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
            (None, _) if matches!(self.consult, Some(ConsultOutcome::RolledBack { .. })) => {
                match &self.consult {
                    Some(ConsultOutcome::RolledBack {
                        reason: RollbackReason::Declined,
                        ..
                    }) => "the target declined the consultation call; the caller is back",
                    _ => "the consultation was rolled back; the caller is back",
                }
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
        .find(|n| !(1..=scenario_count()).contains(*n))
    {
        return fail(
            crate::exit::INVALID_INPUT,
            format!(
                "--only {bad}: scenarios are numbered 1 to {}",
                scenario_count()
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
    let tenant = emulator.tenant_id().to_string();

    // The bot's side: a receiver authenticating callbacks against the emulator's keys.
    let tracker = TransferTracker::new(
        TrackerConfig::default().with_timeout(Duration::from_secs(args.timeout)),
    );
    let auth = AuthConfig::new(BOT_APP_ID).with_openid_config_url(emulator.openid_config_url());
    let lifecycle = Arc::new(CallLifecycle::default());
    let (offers_tx, offers) = tokio::sync::mpsc::channel(OFFERS);
    let receiver = Receiver::builder(auth)
        .tracker(tracker.clone())
        .handler(Bot {
            lifecycle: lifecycle.clone(),
            offers: offers_tx,
        })
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
    let base = emulator.base_url(ApiVersion::Beta).clone();
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
    let offers = tokio::sync::Mutex::new(offers);
    let ctx = Ctx {
        emulator: &emulator,
        client: &client,
        tracker: &tracker,
        callback: &callback,
        tenant: &tenant,
        lifecycle: &lifecycle,
        offers: &offers,
        timeout: Duration::from_secs(args.timeout),
        delay_ms: args.delay_ms,
        quiet: args.json,
        live,
    };
    let wanted = |number: usize| args.only.is_empty() || args.only.contains(&number);
    let mut rows = Vec::new();
    for (i, scenario) in SCENARIOS.iter().enumerate() {
        let number = i + 1;
        if wanted(number) {
            rows.push(run_scenario(&ctx, number, *scenario).await);
        }
    }
    for (i, (scenario, target)) in CONSULT_SCENARIOS.iter().enumerate() {
        let number = SCENARIOS.len() + i + 1;
        if wanted(number) {
            rows.push(run_consult_scenario(&ctx, number, *scenario, *target, args.timeout).await);
        }
    }
    let number = scenario_count();
    if wanted(number) {
        rows.push(bot_scenario::run_bot_scenario(&ctx, number).await);
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
    /// Each call's phase, from the receiver's callbacks (the incoming scenario).
    lifecycle: &'a CallLifecycle,
    /// The calls offered to the bot, from the receiver's handler.
    offers: &'a tokio::sync::Mutex<tokio::sync::mpsc::Receiver<IncomingCall>>,
    timeout: Duration,
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
        let prefix = format!("[{number}/{}] {name}", scenario_count());
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
    let outcome = if scenario.name == INCOMING.name {
        drive_incoming(ctx, scenario, &progress).await
    } else {
        drive(ctx, scenario, &progress).await
    };
    let elapsed = started.elapsed();
    let outcome = outcome.map(|(_, o)| o);
    report_row(
        &progress,
        Row::new(number, scenario, None, outcome, elapsed),
    )
}

/// Ends a scenario's live view with its outcome and whether it went as scripted.
fn report_row(progress: &Progress, row: Row) -> Row {
    let mark = if row.as_scripted() {
        "ok"
    } else {
        "NOT AS SCRIPTED"
    };
    progress.finish(&format!(
        "{} ({}) in {:.2} s: {mark}",
        row.outcome_label(),
        row.code_label(),
        row.elapsed.as_secs_f64()
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
    transfer_and_follow(ctx, scenario, &call, replaces, progress).await
}

/// Builds, validates and sends the transfer of `call`, then follows it to its outcome.
async fn transfer_and_follow(
    ctx: &Ctx<'_>,
    scenario: Scenario,
    call: &graph_comms_emulator::PlacedCall,
    replaces: Option<CallId>,
    progress: &Progress,
) -> Result<(String, TransferOutcome), String> {
    let (body, call_ctx) = build(ctx, scenario, call, replaces.clone())?;
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
    Ok((call.id.clone(), outcome))
}

/// Bounds the calls offered to the bot and not yet taken by the demo.
const OFFERS: usize = 16;

/// The demo bot's handler: feeds the call lifecycle, and hands each offered call to the demo.
struct Bot {
    lifecycle: Arc<CallLifecycle>,
    offers: tokio::sync::mpsc::Sender<IncomingCall>,
}

impl NotificationHandler for Bot {
    fn on_notifications(&self, delivery: &Delivery<'_>) {
        for e in delivery.events {
            self.lifecycle.apply(e);
        }
    }

    fn on_incoming_call(&self, call: &IncomingCall, _: &Delivery<'_>) {
        // Bounded: an offer beyond the bound is dropped (the demo offers one call at a time).
        let _ = self.offers.try_send(call.clone());
    }
}

/// The incoming scenario: the emulator offers the bot a call; the bot, told by its receiver,
/// answers it, awaits `established`, then transfers it as the other scenarios do.
async fn drive_incoming(
    ctx: &Ctx<'_>,
    scenario: Scenario,
    progress: &Progress,
) -> Result<(String, TransferOutcome), String> {
    let script = Script::new(scenario.flow).with_delay_ms(ctx.delay_ms);
    let call = ctx
        .emulator
        .place_call(
            PlaceCall::new(ctx.callback)
                .with_app_id(BOT_APP_ID)
                .with_script(script)
                .answered_by_bot(),
        )
        .map_err(|e| e.to_string())?;
    progress.step("ringing: incoming call offered to the bot");

    // The receiver hands the offer to the bot's handler, which passes it on here.
    let offer = tokio::time::timeout(ctx.timeout, async {
        let mut offers = ctx.offers.lock().await;
        while let Some(offer) = offers.recv().await {
            if offer.call_id == call.id {
                return Some(offer);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or("the receiver did not deliver the incoming call")?;
    let caller = offer
        .caller_display_name()
        .map_or_else(|| "a caller".to_owned(), |n| format!("{n:?}"));
    progress.step(&format!("incoming call from {caller}: POST .../answer"));

    // Follow first: `established` may arrive before the 202 does.
    let mut follower = ctx.lifecycle.follow(&offer.call_id);
    let answer = Answer::new(ctx.callback).build();
    let accepted = ctx
        .client
        .answer(&offer.call_id, &answer)
        .await
        .map_err(|e| format!("answer: {e}"))?;
    progress.step(&format!(
        "answer 202 Accepted (request-id {})",
        accepted.request_id.as_deref().unwrap_or("-")
    ));
    tokio::time::timeout(ctx.timeout, follower.established())
        .await
        .map_err(|_| "the answered call was not established in time".to_owned())?
        .map_err(|end| format!("the answered call ended: {end:?}"))?;
    progress.step("call established");
    transfer_and_follow(ctx, scenario, &call, None, progress).await
}

/// A consultation scenario: a call at the bot, then [`Consultation`] with the target scripted
/// to answer or decline, each step shown live (hold, the consultation call, the answer, the
/// transfer, unhold and hang-up when rolling back).
async fn run_consult_scenario(
    ctx: &Ctx<'_>,
    number: usize,
    scenario: Scenario,
    target: CallTarget,
    timeout: u64,
) -> Row {
    let progress = Progress::new(ctx, number, scenario.name);
    let started = Instant::now();
    let result = consult(ctx, scenario, target, timeout, &progress).await;
    // Calls the bot places from now on answer (the other scenarios' consultation calls).
    ctx.emulator.set_default_script(Script::default());
    let elapsed = started.elapsed();
    // `outcome` is the transfer's; a consultation rolled back before or after its transfer is
    // labelled from `consult`.
    let (consult, outcome) = match result {
        Ok(c) => {
            let transfer = match &c {
                ConsultOutcome::Completed { transfer, .. } => transfer.clone(),
                _ => TransferOutcome::TimedOut,
            };
            (Some(c), Ok(transfer))
        }
        Err(e) => (None, Err(e)),
    };
    report_row(
        &progress,
        Row::new(number, scenario, consult, outcome, elapsed),
    )
}

/// Places the call, finds the caller's participant, runs the consultation.
async fn consult(
    ctx: &Ctx<'_>,
    scenario: Scenario,
    target: CallTarget,
    timeout: u64,
    progress: &Progress,
) -> Result<ConsultOutcome, String> {
    let script = Script::new(scenario.flow).with_delay_ms(ctx.delay_ms);
    // The consultation call the bot places is scripted by the emulator's default script.
    ctx.emulator.set_default_script(
        Script::default()
            .with_target(target)
            .with_delay_ms(ctx.delay_ms),
    );
    let call = ctx
        .emulator
        .place_call(
            PlaceCall::new(ctx.callback)
                .with_app_id(BOT_APP_ID)
                .with_script(script),
        )
        .map_err(|e| e.to_string())?;
    progress.step("call established");
    let participants = ctx
        .client
        .list_participants(&call.id)
        .await
        .map_err(|e| e.to_string())?;
    let caller = participants
        .iter()
        .find_map(|p| p.id.clone())
        .ok_or("the call has no participant with an id")?;
    let tenant = guid(ctx.tenant)?;
    let heidi = guid(HEIDI)?;
    let consultation = Consultation::new(
        call.id.clone(),
        caller,
        OutgoingCall::to_teams_user(ctx.callback, heidi, tenant).build(),
        Transfer::to_teams_user(heidi, tenant).display_name("Heidi Steen"),
    )
    .tenant(ctx.tenant)
    .options(
        ConsultOptions::default()
            .with_answer_timeout(Duration::from_secs(timeout))
            .with_transfer_timeout(Duration::from_secs(timeout))
            .with_reconcile(
                graph_comms_flow::ReconcileOptions::default()
                    .with_grace(Duration::from_secs(2))
                    .with_interval(Duration::from_millis(200)),
            ),
    );
    consultation
        .run(ctx.client, ctx.tracker, ctx.lifecycle, |step| {
            progress.step(&consult_step(&step));
        })
        .await
        .map_err(|e| e.to_string())
}

/// One line of a consultation's live view.
fn consult_step(step: &ConsultStep) -> String {
    match step {
        ConsultStep::HoldStarted => "caller on hold (startHoldMusic)".into(),
        ConsultStep::ConsultationPlaced { call_id } => {
            format!("consultation call {call_id} placed, ringing")
        }
        ConsultStep::TargetAnswered => "target answered".into(),
        ConsultStep::TransferSent => "POST .../transfer (replacesCallId): 202 Accepted".into(),
        ConsultStep::Transfer(TransferProgress::Transferring) => "transferring".into(),
        ConsultStep::Transfer(TransferProgress::TransferAccepted) => "transferAccepted".into(),
        ConsultStep::Transfer(TransferProgress::ConsultationEnded { call_id, .. }) => {
            format!("consultation call {call_id} ended")
        }
        ConsultStep::Transfer(TransferProgress::Finished(o)) => {
            format!("transfer {}", o.name())
        }
        ConsultStep::Transfer(other) => format!("{other:?}"),
        ConsultStep::RollingBack(reason) => format!("rolling back: {reason}"),
        ConsultStep::HoldStopped => "caller off hold (stopHoldMusic)".into(),
        ConsultStep::ConsultationHungUp => "consultation call hung up".into(),
        other => format!("{other:?}"),
    }
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
        let participant_id = first
            .participant_id
            .as_deref()
            .ok_or("participant without participantId")?;
        let user = first
            .identity
            .as_ref()
            .and_then(|i| i.user.as_ref())
            .and_then(|u| u.id.as_deref())
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
        "{:<3} {:<34} {:<16} {:<12} {:<16} {:>8}  explanation",
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
            "{:<3} {:<34} {:<16} {:<12} {:<16} {:>6.2} s  {}",
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
