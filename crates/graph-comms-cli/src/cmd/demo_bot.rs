//! The demo's last scenario: an incoming call put through by `graph-comms bot`'s own runtime
//! (the rules engine and the call handling of `cmd/bot`), on a receiver of its own.
//!
//! The rules (the format of `examples/bot-rules.toml`) send calls to the sales number to a
//! consultative target first and to a blind one next; the emulator's consulted target declines,
//! so the consultation is rolled back and the bot moves on to the next target, which takes the
//! call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use graph_comms_emulator::{CallTarget, PlaceCall, Script, TransferFlow};
use graph_comms_notify::{CallLifecycle, TransferOutcome};
use graph_comms_receiver::{AuthConfig, Receiver, ServeOptions, DEFAULT_PATH};
use serde_json::Value;
use tokio::sync::{watch, Semaphore};

use super::{report_row, Ctx, Expect, Progress, Row, Scenario, Target, BOT_APP_ID, HEIDI};
use crate::cmd::bot::ops::{LogSink, Metrics};
use crate::cmd::bot::rules;
use crate::cmd::bot::run::{Bot as BotRuntime, Handler};

/// The number the demo's caller dials.
const SALES_LINE: &str = "+14255550100";
/// Who the demo's caller is.
const CALLER: &str = "+14255550123";

/// The bot's rules in the demo: consult Heidi, else put the caller through to the sales desk.
fn rules_text() -> String {
    format!(
        r#"
[[rule]]
name = "sales line"
callee = ["{SALES_LINE}"]
targets = [
  {{ user = "{HEIDI}", consult = true, answer_timeout = 10 }},
  {{ user = "8a34a46b-3d17-4adc-8dce-dc4e7d572698" }},
]
last_resort = {{ hang_up = true }}
"#
    )
}

/// The scenario: named "incoming", scripted to end with the caller put through.
pub(super) const BOT_SCENARIO: Scenario = Scenario {
    name: "incoming: bot rules, 2nd target",
    target: Target::TeamsUser,
    consultative: true,
    group: false,
    flow: TransferFlow::Success,
    expect: Expect::Completed,
};

/// Runs the scenario and makes its row.
pub(super) async fn run_bot_scenario(ctx: &Ctx<'_>, number: usize) -> Row {
    let progress = Progress::new(ctx, number, BOT_SCENARIO.name);
    let started = Instant::now();
    let result = drive(ctx, &progress).await;
    // Calls the bot places from now on answer again.
    ctx.emulator.set_default_script(Script::default());
    let elapsed = started.elapsed();
    let (outcome, code, subcode) = match result {
        Ok(line) => {
            let last = line["attempts"]
                .as_array()
                .and_then(|a| a.last())
                .cloned()
                .unwrap_or_default();
            let outcome = if line["result"] == "transferred" {
                Ok(TransferOutcome::completed(false))
            } else {
                Err(format!("the bot's call ended: {}", line["result"]))
            };
            (
                outcome,
                last["resultCode"].as_i64(),
                last["resultSubcode"].as_i64(),
            )
        }
        Err(e) => (Err(e), None, None),
    };
    let row = Row {
        number,
        scenario: BOT_SCENARIO,
        consult: None,
        outcome,
        code,
        subcode,
        termination_reason: None,
        elapsed,
    };
    report_row(&progress, row)
}

/// Starts the bot's runtime on its own receiver, rings it, and returns its JSON line of the call.
async fn drive(ctx: &Ctx<'_>, progress: &Progress) -> Result<Value, String> {
    let rules = rules::parse(&rules_text()).map_err(|e| format!("the demo's rules: {e}"))?;
    // The consulted target declines the bot's consultation call.
    ctx.emulator.set_default_script(
        Script::default()
            .with_target(CallTarget::Decline)
            .with_delay_ms(ctx.delay_ms),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("listener address: {e}"))?;
    let callback = format!("http://{addr}{DEFAULT_PATH}");
    let bot = Arc::new(BotRuntime {
        client: ctx.client.clone(),
        tracker: ctx.tracker.clone(),
        shared: None,
        lifecycle: Arc::new(CallLifecycle::default()),
        rules,
        callback_uri: callback.clone(),
        now: None,
        metrics: Arc::new(Metrics::default()),
        log: LogSink::Memory(Default::default()),
        slots: Arc::new(Semaphore::new(4)),
        cutoff: watch::channel(false).0,
        transfer_timeout: ctx.timeout,
        live: false,
        active: Default::default(),
    });
    let auth = AuthConfig::new(BOT_APP_ID).with_openid_config_url(ctx.emulator.openid_config_url());
    let receiver = Receiver::builder(auth)
        .tracker(ctx.tracker.clone())
        .handler(Handler(Arc::clone(&bot)))
        .build()
        .map_err(|e| format!("cannot build the bot's receiver: {e}"))?;
    let server = tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        ServeOptions::default(),
    ));
    let placed = ctx.emulator.place_call(
        PlaceCall::new(&callback)
            .with_app_id(BOT_APP_ID)
            .with_script(Script::new(TransferFlow::Success).with_delay_ms(ctx.delay_ms))
            .answered_by_bot()
            .from_phone(CALLER)
            .to_phone(SALES_LINE),
    );
    let call = match placed {
        Ok(call) => call,
        Err(e) => {
            server.abort();
            return Err(e.to_string());
        }
    };
    progress.step(&format!(
        "{CALLER} rings {SALES_LINE}: the bot answers, rule \"sales line\""
    ));
    let deadline = Instant::now() + ctx.timeout * 3;
    let line = loop {
        if let Some(line) = bot.log.find(&call.id) {
            break Ok(line);
        }
        if Instant::now() > deadline {
            break Err("the bot did not finish the call in time".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    server.abort();
    let line = line?;
    let steps: Vec<String> = line["attempts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    let reason = a["reason"]
                        .as_str()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default();
                    format!(
                        "{} {}: {}{reason}",
                        a["mode"].as_str().unwrap_or_default(),
                        a["target"].as_str().unwrap_or_default(),
                        a["outcome"].as_str().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    progress.step(&steps.join(", then "));
    Ok(line)
}
