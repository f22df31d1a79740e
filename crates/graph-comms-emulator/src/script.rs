//! Per-call scripts: which notification flow a transfer produces, and how it is delivered.
//!
//! A [`Script`] is set per call (in [`PlaceCall::script`](crate::PlaceCall::script), through
//! [`Emulator::script_call`](crate::Emulator::script_call), or with the control route
//! `PUT /_emulator/calls/{id}/script`), or for every new call through
//! [`EmulatorConfig::default_script`](crate::EmulatorConfig::default_script). Its JSON form is
//! camelCase:
//!
//! ```json
//! {"flow": "failed", "delayMs": 50, "duplicates": true, "outOfOrder": false,
//!  "throttle": {"count": 2, "retryAfterSeconds": 1}, "stringCodes": true,
//!  "target": "answer", "batching": false, "deletedAfterTerminated": false, "roster": false,
//!  "operations": false, "finalDelayMs": 60000, "refuse": 7505}
//! ```
//!
//! Every field is optional; the defaults (Graph's current notifications, one per body) are what
//! the existing flows have always played.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the emulator plays a transfer of one call. The default is [`TransferFlow::Success`], no
/// delay, no duplicates, in order, no throttling.
///
/// ```
/// use graph_comms_emulator::{Script, TransferFlow};
/// let script = Script::new(TransferFlow::Failed).with_delay_ms(20).with_duplicates();
/// assert_eq!(
///     serde_json::to_value(&script).unwrap()["flow"],
///     serde_json::json!("failed")
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Script {
    /// Which notifications follow the `202`.
    pub flow: TransferFlow,
    /// Delay before each notification of the flow, in milliseconds (default 0).
    pub delay_ms: u64,
    /// Per-notification delays in milliseconds: entry `i` is the delay before the `i`-th
    /// notification of the flow (after reordering); missing entries fall back to `delay_ms`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub delays_ms: Vec<u64>,
    /// Deliver every notification of the flow twice, as Graph may (at-least-once delivery).
    pub duplicates: bool,
    /// Deliver `transferAccepted` before `transferring` (the spec page: acceptance "may happen
    /// after or before" other state changes).
    pub out_of_order: bool,
    /// Answer the next transfer requests on this call with `429` and `Retry-After`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
    /// Write result codes as numeric strings (`"code": "500"`), as some real payloads do.
    pub string_codes: bool,
    /// What the target of a call the bot places (`POST /communications/calls`) does.
    pub target: CallTarget,
    /// Post all the transfer's notifications in one commsNotifications body (Graph may batch).
    pub batching: bool,
    /// End a call (transfer, hang-up, `DELETE`) with `terminated` as an `updated` notification,
    /// then a bare `deleted` (only `@odata.type` and `@odata.id`, no state), instead of one
    /// `deleted` with the state.
    pub deleted_after_terminated: bool,
    /// Interleave a roster update (`…/participants`, `updated`) after the transfer's first
    /// notification.
    pub roster: bool,
    /// The legacy operations flow: `transferring` / `transferAccepted` as a `commsOperation`
    /// (`resultInfo.subCode`, status `running` / `completed`); a failure fails it (`status:
    /// failed`) before the call's `established`.
    pub operations: bool,
    /// Delay before the transfer's final notification, in milliseconds (overrides `delayMs` and
    /// `delaysMs` for it): an outcome that arrives after the bot's deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_delay_ms: Option<u64>,
    /// Refuse every transfer request synchronously with `403` and this `error.code`: `7505` (the
    /// application may not transfer this call) or `8523` (transfers are not supported in a
    /// meeting); any other number is answered as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refuse: Option<u32>,
}

/// What the target of a call the bot places does (`"target"` in a script).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum CallTarget {
    /// Answers: `establishing`, `established` (the default).
    #[default]
    Answer,
    /// Declines: `establishing`, then `terminated` (`deleted`) with `resultInfo` 603.
    Decline,
    /// Does not answer: `establishing`, then `terminated` (`deleted`) with `resultInfo`
    /// 408/10057.
    NoAnswer,
    /// Rings and never answers: `establishing`, then nothing until the bot hangs up (`DELETE`).
    Ring,
}

impl Script {
    /// A script playing `flow` with the default delivery (no delay, in order, once each).
    pub fn new(flow: TransferFlow) -> Self {
        Script {
            flow,
            ..Script::default()
        }
    }

    /// Sets the delay before each notification.
    #[must_use]
    pub fn with_delay_ms(mut self, ms: u64) -> Self {
        self.delay_ms = ms;
        self
    }

    /// Sets per-notification delays (see [`Script::delays_ms`]).
    #[must_use]
    pub fn with_delays_ms(mut self, delays: impl Into<Vec<u64>>) -> Self {
        self.delays_ms = delays.into();
        self
    }

    /// Delivers every notification twice.
    #[must_use]
    pub fn with_duplicates(mut self) -> Self {
        self.duplicates = true;
        self
    }

    /// Delivers `transferAccepted` before `transferring`.
    #[must_use]
    pub fn with_out_of_order(mut self) -> Self {
        self.out_of_order = true;
        self
    }

    /// Answers the next `count` transfer requests with `429` and `Retry-After: retry_after_seconds`.
    #[must_use]
    pub fn with_throttle(mut self, count: u32, retry_after_seconds: u64) -> Self {
        self.throttle = Some(Throttle {
            count,
            retry_after_seconds,
        });
        self
    }

    /// Writes result codes as numeric strings.
    #[must_use]
    pub fn with_string_codes(mut self) -> Self {
        self.string_codes = true;
        self
    }

    /// Sets what the target of a call the bot places does.
    #[must_use]
    pub fn with_target(mut self, target: CallTarget) -> Self {
        self.target = target;
        self
    }

    /// Posts all the transfer's notifications in one body.
    #[must_use]
    pub fn with_batching(mut self) -> Self {
        self.batching = true;
        self
    }

    /// Ends calls with `terminated` (`updated`) then a bare `deleted`.
    #[must_use]
    pub fn with_deleted_after_terminated(mut self) -> Self {
        self.deleted_after_terminated = true;
        self
    }

    /// Interleaves a roster update with the transfer's notifications.
    #[must_use]
    pub fn with_roster(mut self) -> Self {
        self.roster = true;
        self
    }

    /// Plays the legacy operations flow.
    #[must_use]
    pub fn with_operations(mut self) -> Self {
        self.operations = true;
        self
    }

    /// Delays the transfer's final notification by `ms` milliseconds.
    #[must_use]
    pub fn with_final_delay_ms(mut self, ms: u64) -> Self {
        self.final_delay_ms = Some(ms);
        self
    }

    /// Refuses transfer requests with `403` and this `error.code` (7505, 8523).
    #[must_use]
    pub fn with_refusal(mut self, code: u32) -> Self {
        self.refuse = Some(code);
        self
    }

    /// The delay before the `i`-th delivered notification of the flow.
    pub fn delay_before(&self, i: usize) -> Duration {
        Duration::from_millis(self.delays_ms.get(i).copied().unwrap_or(self.delay_ms))
    }
}

/// Throttling: the next `count` transfer requests on the call answer `429 Too Many Requests` with
/// `Retry-After: retry_after_seconds`; the one after that is handled normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Throttle {
    /// How many requests are refused.
    pub count: u32,
    /// The `Retry-After` value in seconds (0 is allowed, for fast tests).
    #[serde(default = "default_retry_after")]
    pub retry_after_seconds: u64,
}

fn default_retry_after() -> u64 {
    1
}

/// The notifications a transfer produces after the `202 Accepted`.
///
/// All flows post the notifications of the spec page to the call's `callbackUri`:
///
/// | flow | notifications |
/// |---|---|
/// | `success` | `transferring`, `transferAccepted`, then `terminated` (`deleted`): `terminationReason: "AppTransferred"` if the request had `transferTarget.replacesCallId` (consultative), else `resultInfo` 0/7015 `GracefulTransferCompleted` |
/// | `completed` | as `success`, always 0/7015 |
/// | `appTransferred` | as `success`, always `AppTransferred` |
/// | `failed` | `transferring`, then `established` with `resultInfo` 500/7000 (`subCode` spelling) |
/// | `failedAfterAccepted` | `transferring`, `transferAccepted`, then `established` with 500/7000 |
/// | `consultativeFailed` | `transferring`, then `established` with 500/7700 and `replacesContext` |
/// | `callerHangUp` | `transferring`, then `terminated` (`deleted`) with `resultInfo` 200/5001 "The conversation has ended." (no transfer code) |
/// | `noOutcome` | `transferring`, `transferAccepted`, then nothing (for timeout tests) |
///
/// A successful consultative transfer whose `replacesCallId` names a call the emulator knows also
/// ends that consultation call (`terminated`, `deleted`, `terminationReason: AppTransferred`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum TransferFlow {
    /// Success, 7015 or `AppTransferred` depending on the request (the default).
    #[default]
    Success,
    /// Success with resultInfo 0/7015 `GracefulTransferCompleted`.
    Completed,
    /// Success with `terminationReason: "AppTransferred"`.
    AppTransferred,
    /// Failure back to `established` with 500/7000.
    Failed,
    /// `transferAccepted`, then failure back to `established` with 500/7000.
    FailedAfterAccepted,
    /// Consultative failure back to `established` with 500/7700 and `replacesContext`.
    ConsultativeFailed,
    /// The caller hangs up mid-transfer: `terminated` without a transfer code.
    CallerHangUp,
    /// `transferring` and `transferAccepted`, then silence.
    NoOutcome,
}

impl TransferFlow {
    /// Every flow, in documentation order.
    pub const ALL: [TransferFlow; 8] = [
        TransferFlow::Success,
        TransferFlow::Completed,
        TransferFlow::AppTransferred,
        TransferFlow::Failed,
        TransferFlow::FailedAfterAccepted,
        TransferFlow::ConsultativeFailed,
        TransferFlow::CallerHangUp,
        TransferFlow::NoOutcome,
    ];

    /// The camelCase name used in JSON and on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            TransferFlow::Success => "success",
            TransferFlow::Completed => "completed",
            TransferFlow::AppTransferred => "appTransferred",
            TransferFlow::Failed => "failed",
            TransferFlow::FailedAfterAccepted => "failedAfterAccepted",
            TransferFlow::ConsultativeFailed => "consultativeFailed",
            TransferFlow::CallerHangUp => "callerHangUp",
            TransferFlow::NoOutcome => "noOutcome",
        }
    }
}

impl std::fmt::Display for TransferFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TransferFlow {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TransferFlow::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = TransferFlow::ALL.iter().map(|f| f.as_str()).collect();
                crate::Error::InvalidRequest(format!(
                    "unknown transfer flow `{s}`; expected one of {}",
                    names.join(", ")
                ))
            })
    }
}
