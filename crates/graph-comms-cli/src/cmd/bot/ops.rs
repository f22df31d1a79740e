//! What makes the bot operable: its counters and their Prometheus text, `/healthz`, and the
//! per-call JSON lines (`--log FILE` or stdout).

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use graph_comms_notify::TransferTracker;
use graph_comms_receiver::{Receiver, ReceiverStats};

/// How one attempt (a target of the chain, or the last resort) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptOutcome {
    /// The caller was put through.
    Completed,
    /// Graph reported the transfer failed.
    Failed,
    /// A consultation was rolled back (the target declined, did not answer, ...).
    RolledBack,
    /// The caller's call ended (they hung up).
    CallEnded,
    /// No outcome, even after asking Graph.
    TimedOut,
    /// Graph refused the request (or it could not be sent).
    Refused,
    /// Cut short by the shutdown deadline.
    Interrupted,
    /// The bot hung up (the last resort).
    HungUp,
}

impl AttemptOutcome {
    const ALL: [AttemptOutcome; 8] = [
        AttemptOutcome::Completed,
        AttemptOutcome::Failed,
        AttemptOutcome::RolledBack,
        AttemptOutcome::CallEnded,
        AttemptOutcome::TimedOut,
        AttemptOutcome::Refused,
        AttemptOutcome::Interrupted,
        AttemptOutcome::HungUp,
    ];

    /// The camelCase name in JSON lines and metrics labels.
    pub(crate) fn name(self) -> &'static str {
        match self {
            AttemptOutcome::Completed => "completed",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::RolledBack => "rolledBack",
            AttemptOutcome::CallEnded => "callEnded",
            AttemptOutcome::TimedOut => "timedOut",
            AttemptOutcome::Refused => "refused",
            AttemptOutcome::Interrupted => "interrupted",
            AttemptOutcome::HungUp => "hungUp",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// Why an incoming call was not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The bot is shutting down.
    Draining,
    /// `--max-calls` calls are in progress.
    Busy,
    /// No rule matched the call.
    NoRule,
}

impl Refusal {
    const ALL: [Refusal; 3] = [Refusal::Draining, Refusal::Busy, Refusal::NoRule];

    /// The camelCase name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Refusal::Draining => "draining",
            Refusal::Busy => "busy",
            Refusal::NoRule => "noRule",
        }
    }
}

/// The bot's own counters (the receiver and tracker keep theirs).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Calls Graph offered.
    pub(crate) offered: AtomicU64,
    /// Calls answered.
    pub(crate) answered: AtomicU64,
    /// Calls in progress.
    pub(crate) in_progress: AtomicU64,
    rejected: [AtomicU64; 3],
    attempts: [AtomicU64; 8],
    /// Set once SIGTERM/SIGINT arrived.
    pub(crate) draining: AtomicBool,
}

impl Metrics {
    /// Counts an attempt's outcome.
    pub(crate) fn attempt(&self, outcome: AttemptOutcome) {
        self.attempts[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a call not answered.
    pub(crate) fn rejected(&self, why: Refusal) {
        let i = Refusal::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.rejected[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4) of the bot, its receiver and its tracker.
    pub(crate) fn render(&self, receiver: &ReceiverStats, tracker: &TransferTracker) -> String {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP graph_comms_bot_{name} {help}");
            let _ = writeln!(out, "# TYPE graph_comms_bot_{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "graph_comms_bot_{name}{labels} {value}");
            }
        };
        family(
            "calls_offered_total",
            "counter",
            "Incoming calls Graph offered the bot.",
            &[(String::new(), load(&self.offered))],
        );
        family(
            "calls_answered_total",
            "counter",
            "Incoming calls the bot answered.",
            &[(String::new(), load(&self.answered))],
        );
        let rejected: Vec<(String, u64)> = Refusal::ALL
            .iter()
            .zip(&self.rejected)
            .map(|(r, n)| (format!("{{reason=\"{}\"}}", r.name()), load(n)))
            .collect();
        family(
            "calls_rejected_total",
            "counter",
            "Incoming calls the bot rejected, by reason.",
            &rejected,
        );
        family(
            "calls_in_progress",
            "gauge",
            "Calls answered and not yet put through or ended.",
            &[(String::new(), load(&self.in_progress))],
        );
        let attempts: Vec<(String, u64)> = AttemptOutcome::ALL
            .iter()
            .zip(&self.attempts)
            .map(|(o, n)| (format!("{{outcome=\"{}\"}}", o.name()), load(n)))
            .collect();
        family(
            "transfers_total",
            "counter",
            "Transfer attempts (chain targets and last resorts), by outcome.",
            &attempts,
        );
        family(
            "open_transfers",
            "gauge",
            "Transfers the tracker follows now.",
            &[(String::new(), tracker.stats().open as u64)],
        );
        family(
            "notifications_received_total",
            "counter",
            "Notifications of authenticated callbacks.",
            &[(String::new(), receiver.events)],
        );
        family(
            "callbacks_accepted_total",
            "counter",
            "Callbacks answered 202.",
            &[(String::new(), receiver.accepted)],
        );
        let refused = [
            ("unauthorized", receiver.unauthorized),
            ("forbidden", receiver.forbidden),
            ("keysUnavailable", receiver.keys_unavailable),
            ("unsupportedMediaType", receiver.unsupported_media_type),
            ("payloadTooLarge", receiver.payload_too_large),
            ("tooManyNotifications", receiver.too_many_notifications),
            ("timeout", receiver.timeout),
            ("badRequest", receiver.bad_request),
            ("busy", receiver.busy),
        ]
        .map(|(r, n)| (format!("{{reason=\"{r}\"}}"), n));
        family(
            "callbacks_refused_total",
            "counter",
            "Callbacks refused, by reason.",
            &refused,
        );
        family(
            "draining",
            "gauge",
            "1 once the bot is shutting down.",
            &[(
                String::new(),
                u64::from(self.draining.load(Ordering::Relaxed)),
            )],
        );
        out
    }
}

/// `GET /healthz` (`200 ok`, or `503 draining` once shutting down, so that a load balancer stops
/// sending calls) and `GET /metrics`, to merge beside the receiver's routes.
pub(crate) fn routes(metrics: Arc<Metrics>, receiver: Receiver) -> Router {
    let health = Arc::clone(&metrics);
    Router::new()
        .route(
            "/healthz",
            get(move || {
                let draining = health.draining.load(Ordering::Relaxed);
                async move {
                    if draining {
                        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
                    } else {
                        (StatusCode::OK, "ok\n").into_response()
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let text = metrics.render(&receiver.stats(), receiver.tracker());
                async move {
                    let mut response: Response = text.into_response();
                    if let Ok(v) = "text/plain; version=0.0.4; charset=utf-8".parse() {
                        response.headers_mut().insert(header::CONTENT_TYPE, v);
                    }
                    response
                }
            }),
        )
}

/// Where the per-call JSON lines go.
#[derive(Debug)]
pub(crate) enum LogSink {
    /// Standard output.
    Stdout,
    /// An append-only file (`--log`).
    File(Mutex<File>),
    /// The last [`MEMORY_LINES`] lines, kept in memory (the demo reads them).
    Memory(Mutex<std::collections::VecDeque<serde_json::Value>>),
}

/// How many lines [`LogSink::Memory`] keeps.
pub(crate) const MEMORY_LINES: usize = 64;

impl LogSink {
    /// The line of call `call_id`, when [`LogSink::Memory`] has it.
    pub(crate) fn find(&self, call_id: &str) -> Option<serde_json::Value> {
        let LogSink::Memory(lines) = self else {
            return None;
        };
        let lines = lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().find(|l| l["callId"] == call_id).cloned()
    }

    /// Opens `--log FILE` for appending, or stdout.
    pub(crate) fn open(path: Option<&std::path::Path>) -> std::io::Result<LogSink> {
        Ok(match path {
            None => LogSink::Stdout,
            Some(p) => LogSink::File(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            )),
        })
    }

    /// Writes one line and flushes (one write, so lines never interleave).
    pub(crate) fn line(&self, json: &serde_json::Value) {
        if let LogSink::Memory(lines) = self {
            let mut lines = lines.lock().unwrap_or_else(|p| p.into_inner());
            if lines.len() >= MEMORY_LINES {
                lines.pop_front();
            }
            lines.push_back(json.clone());
            return;
        }
        let mut text = json.to_string();
        text.push('\n');
        let _ = match self {
            LogSink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
            LogSink::File(file) => {
                let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                file.write_all(text.as_bytes()).and_then(|()| file.flush())
            }
            LogSink::Memory(_) => Ok(()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_every_family_with_labels() {
        let m = Metrics::default();
        m.answered.fetch_add(2, Ordering::Relaxed);
        m.attempt(AttemptOutcome::Completed);
        m.attempt(AttemptOutcome::RolledBack);
        m.attempt(AttemptOutcome::RolledBack);
        m.rejected(Refusal::NoRule);
        let mut stats = ReceiverStats::default();
        stats.unauthorized = 3;
        stats.events = 7;
        let text = m.render(&stats, &TransferTracker::default());
        for line in [
            "graph_comms_bot_calls_answered_total 2",
            "graph_comms_bot_transfers_total{outcome=\"completed\"} 1",
            "graph_comms_bot_transfers_total{outcome=\"rolledBack\"} 2",
            "graph_comms_bot_transfers_total{outcome=\"failed\"} 0",
            "graph_comms_bot_calls_rejected_total{reason=\"noRule\"} 1",
            "graph_comms_bot_notifications_received_total 7",
            "graph_comms_bot_callbacks_refused_total{reason=\"unauthorized\"} 3",
            "graph_comms_bot_open_transfers 0",
            "# TYPE graph_comms_bot_open_transfers gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
    }
}
