//! Rate-limited logging of refused callbacks.
//!
//! A hostile caller can make every request a refusal, so one log line per refusal is a way to
//! fill a disk (a slow-read run once wrote 929 000 lines). A misconfigured bot, on the other hand,
//! must be obvious: a wrong app id refuses every genuine callback. So, per kind of refusal and per
//! period ([`ReceiverBuilder::rejection_log_period`], default one minute):
//!
//! - the first refusal is logged at `warn`, with its detail;
//! - the next [`DETAILED_PER_PERIOD`]` - 1` at `debug`;
//! - the rest only count, and when the period is over (at the next refusal), one `warn` line sums
//!   the period up: how many of each kind, and how many were not logged.
//!
//! Every value an attacker controls (a token's `alg`, `kid`, claims, fragments of a body) reaches
//! the log through `Debug` formatting, so a newline or an escape sequence is printed escaped and
//! can never forge a line.
//!
//! [`ReceiverBuilder::rejection_log_period`]: crate::ReceiverBuilder::rejection_log_period

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Rejection;

/// How many refusals of one kind are logged with their detail per period.
pub(crate) const DETAILED_PER_PERIOD: u64 = 5;

/// Every kind, in the order summaries list them.
const KINDS: [Rejection; 9] = [
    Rejection::Unauthorized,
    Rejection::Forbidden,
    Rejection::KeysUnavailable,
    Rejection::UnsupportedMediaType,
    Rejection::PayloadTooLarge,
    Rejection::TooManyNotifications,
    Rejection::Timeout,
    Rejection::BadRequest,
    Rejection::Busy,
];

fn index(kind: Rejection) -> usize {
    match kind {
        Rejection::Unauthorized => 0,
        Rejection::Forbidden => 1,
        Rejection::KeysUnavailable => 2,
        Rejection::UnsupportedMediaType => 3,
        Rejection::PayloadTooLarge => 4,
        Rejection::TooManyNotifications => 5,
        Rejection::Timeout => 6,
        Rejection::BadRequest => 7,
        Rejection::Busy => 8,
    }
}

/// The refusals of the current period.
#[derive(Debug)]
struct Period {
    started: Instant,
    counts: [u64; KINDS.len()],
}

impl Period {
    fn new(now: Instant) -> Self {
        Self {
            started: now,
            counts: [0; KINDS.len()],
        }
    }
}

/// Logs refusals within a bounded number of lines per period.
#[derive(Debug)]
pub(crate) struct RejectionLog {
    period: Duration,
    state: Mutex<Period>,
}

/// How one refusal is logged.
#[derive(Debug, PartialEq, Eq)]
enum Level {
    Warn,
    Debug,
    Silent,
}

impl RejectionLog {
    pub(crate) fn new(period: Duration) -> Self {
        Self {
            period,
            state: Mutex::new(Period::new(Instant::now())),
        }
    }

    /// Records one refusal and logs it if the budget of its kind allows. `detail` may hold
    /// attacker-controlled text: it is logged with `Debug` formatting only.
    pub(crate) fn refused(
        &self,
        kind: Rejection,
        status: http::StatusCode,
        code: &str,
        detail: &str,
        hint: Option<&'static str>,
    ) {
        let level = {
            let now = Instant::now();
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if now.duration_since(state.started) >= self.period {
                summarize(&state, self.period);
                *state = Period::new(now);
            }
            let count = &mut state.counts[index(kind)];
            *count += 1;
            match *count {
                1 => Level::Warn,
                n if n <= DETAILED_PER_PERIOD => Level::Debug,
                _ => Level::Silent,
            }
        };
        let status = status.as_u16();
        let kind = kind.to_string();
        match (level, hint) {
            (Level::Warn, Some(hint)) => tracing::warn!(
                status,
                kind,
                code,
                detail = ?detail,
                hint,
                "callback refused (first of its kind this period; later ones are summarized)"
            ),
            (Level::Warn, None) => tracing::warn!(
                status,
                kind,
                code,
                detail = ?detail,
                "callback refused (first of its kind this period; later ones are summarized)"
            ),
            (Level::Debug, _) => {
                tracing::debug!(status, kind, code, detail = ?detail, "callback refused")
            }
            (Level::Silent, _) => {}
        }
    }
}

/// One line for a finished period (nothing when it refused nothing).
fn summarize(period: &Period, length: Duration) {
    let total: u64 = period.counts.iter().sum();
    if total == 0 {
        return;
    }
    let unlogged: u64 = period
        .counts
        .iter()
        .map(|n| n.saturating_sub(DETAILED_PER_PERIOD))
        .sum();
    let by_kind = KINDS
        .iter()
        .zip(period.counts)
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{kind}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    tracing::warn!(
        refused = total,
        not_logged = unlogged,
        period_secs = length.as_secs_f64(),
        "callbacks refused during the last period: {by_kind}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_counter_in_summary_order() {
        for (i, kind) in KINDS.iter().enumerate() {
            assert_eq!(index(*kind), i, "{kind}");
        }
    }
}
