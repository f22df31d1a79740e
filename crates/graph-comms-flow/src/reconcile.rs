//! Reconcile instead of guessing: ask Graph what became of a transfer.
//!
//! When a transfer reaches its deadline without a final notification, the tracker can only say
//! [`TransferOutcome::TimedOut`]. With a client at hand, [`reconcile`] reads the call
//! (`GET /communications/calls/{id}`) and decides from what Graph says ([`read_call`]):
//!
//! | Graph says | Outcome |
//! |---|---|
//! | 404 (the call is gone), after `transferAccepted` | `Completed`, inferred |
//! | 404, before it | `CallEnded`, inferred |
//! | `terminated` with 7015 or `AppTransferred` | `Completed` |
//! | `terminated` otherwise | `CallEnded` |
//! | `transferring` / `transferAccepted` | wait up to [`ReconcileOptions::grace`], then `TimedOut` |
//! | `established` with a failure code | `Failed` |
//! | `established` without one | `Failed`, inferred |
//!
//! [`poll`] follows a transfer by reading the call alone, for a bot whose callback URL is served
//! by another process.

use std::time::Duration;

use graph_comms_model::{Call, CallState};
use graph_comms_notify::{TransferHandle, TransferOutcome, TransferProgress};
use graph_comms_transport::{Error as ClientError, GraphCommsClient};
use tokio::time::Instant;

use crate::error::{Error, Result};

/// The sub-code of a completed transfer (`GracefulTransferCompleted`).
const TRANSFER_COMPLETED: i64 = 7015;

/// Settings of [`reconcile`] and [`poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconcileOptions {
    /// When Graph says the transfer is still under way, how much longer to wait for it (the
    /// second deadline) before settling on [`TransferOutcome::TimedOut`]. Default 30 s.
    pub grace: Duration,
    /// Time between two reads of the call while waiting. Default 2 s.
    pub interval: Duration,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions {
            grace: Duration::from_secs(30),
            interval: Duration::from_secs(2),
        }
    }
}

impl ReconcileOptions {
    /// Sets [`grace`](ReconcileOptions::grace).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sets [`interval`](ReconcileOptions::interval).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }
}

/// What one read of the call says about its transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallReading {
    /// The transfer has an outcome.
    Final(TransferOutcome),
    /// Graph says the transfer is under way (`transferring`, or `transferAccepted` when
    /// `accepted`).
    InProgress {
        /// The call is in `transferAccepted`.
        accepted: bool,
    },
    /// The call is `established` without a failure code: before the transfer started, or after it
    /// failed.
    Established,
    /// Any other state: nothing to conclude.
    Unknown,
}

/// What a read of the call means: `call` is `None` when Graph answered 404; `accepted` tells
/// whether the transfer was seen accepted before.
///
/// ```
/// use graph_comms_flow::{read_call, CallReading};
///
/// let gone = read_call(None, true);
/// let CallReading::Final(outcome) = gone else { panic!() };
/// assert!(outcome.is_success() && outcome.is_inferred());
/// ```
pub fn read_call(call: Option<&Call>, accepted: bool) -> CallReading {
    let Some(call) = call else {
        return CallReading::Final(if accepted {
            TransferOutcome::completed(true)
        } else {
            TransferOutcome::call_ended(true)
        });
    };
    let info = call.result_info.as_deref();
    let code = info.and_then(|i| i.code_value());
    let subcode = info.and_then(|i| i.subcode_value());
    let message = info.and_then(|i| i.message.clone());
    let termination_reason = call.termination_reason.clone();
    match call.state.as_ref() {
        Some(CallState::Terminated) => {
            let success_code = code.is_none_or(|c| c == 0 || (200..300).contains(&c));
            let graceful = subcode == Some(TRANSFER_COMPLETED) && success_code;
            let app_transferred = termination_reason
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case("AppTransferred"));
            CallReading::Final(if graceful || app_transferred {
                TransferOutcome::completed_with(code, subcode, message, termination_reason)
            } else {
                TransferOutcome::call_ended_with(code, subcode, message, termination_reason)
            })
        }
        Some(CallState::Transferring) => CallReading::InProgress { accepted },
        Some(CallState::TransferAccepted) => CallReading::InProgress { accepted: true },
        Some(CallState::Established) => match code {
            Some(c) if c != 0 && !(200..300).contains(&c) => {
                CallReading::Final(TransferOutcome::Failed {
                    code,
                    subcode,
                    message,
                    replaces_context: call.replaces_context.clone(),
                    termination_reason,
                    inferred: false,
                    late: false,
                })
            }
            _ => CallReading::Established,
        },
        _ => CallReading::Unknown,
    }
}

/// Reads the call: `Ok(None)` when Graph answers 404.
async fn get(client: &GraphCommsClient, call_id: &str) -> Result<Option<Call>> {
    match client.get_call(call_id).await {
        Ok(call) => Ok(Some(call)),
        Err(ClientError::NotFound(_)) => Ok(None),
        Err(source) => Err(Error::Graph {
            call_id: call_id.to_owned(),
            source,
        }),
    }
}

/// Asks Graph what became of the transfer of `call_id` that reached its deadline without an
/// outcome (`accepted`: whether `transferAccepted` was seen). See the [module](self) table.
///
/// # Errors
/// [`Error::Graph`] when the call cannot be read (other than 404).
pub async fn reconcile(
    client: &GraphCommsClient,
    call_id: &str,
    accepted: bool,
    options: &ReconcileOptions,
) -> Result<TransferOutcome> {
    reconcile_inner(client, call_id, accepted, options, || None).await
}

/// [`reconcile`] for a tracked transfer: returns the handle's outcome as it is unless it is
/// [`TransferOutcome::TimedOut`] (or not known yet, which counts as timed out); takes a late
/// result of the handle (a final notification arriving while Graph is asked) over what the
/// reads say.
///
/// # Errors
/// As [`reconcile`].
pub async fn reconcile_handle(
    client: &GraphCommsClient,
    handle: &TransferHandle,
    options: &ReconcileOptions,
) -> Result<TransferOutcome> {
    match handle.outcome() {
        Some(TransferOutcome::TimedOut) | None => {}
        Some(outcome) => return Ok(outcome),
    }
    if let Some(late) = handle.late_outcome() {
        return Ok(late);
    }
    reconcile_inner(client, handle.call_id(), handle.accepted(), options, || {
        handle.late_outcome()
    })
    .await
}

/// Waits for a tracked transfer's outcome and, when it timed out, [`reconcile_handle`]s it: the
/// one call a bot needs after sending a transfer. It reads the handle's progress stream (so do
/// not also consume that stream elsewhere).
///
/// # Errors
/// As [`reconcile`], when the transfer timed out and the call cannot be read.
pub async fn settle(
    client: &GraphCommsClient,
    handle: TransferHandle,
    options: &ReconcileOptions,
) -> Result<TransferOutcome> {
    let mut progress = handle.progress();
    while let Some(step) = progress.next().await {
        if let TransferProgress::Finished(_) = step {
            break;
        }
    }
    reconcile_handle(client, &handle, options).await
}

async fn reconcile_inner(
    client: &GraphCommsClient,
    call_id: &str,
    accepted: bool,
    options: &ReconcileOptions,
    late: impl Fn() -> Option<TransferOutcome>,
) -> Result<TransferOutcome> {
    let deadline = Instant::now() + options.grace;
    let mut accepted = accepted;
    loop {
        let call = get(client, call_id).await?;
        if let Some(outcome) = late() {
            return Ok(outcome);
        }
        match read_call(call.as_ref(), accepted) {
            CallReading::Final(outcome) => return Ok(outcome),
            CallReading::Established => return Ok(TransferOutcome::failed(true)),
            CallReading::InProgress { accepted: a } => accepted |= a,
            CallReading::Unknown => {}
        }
        if Instant::now() + options.interval > deadline {
            return Ok(late().unwrap_or(TransferOutcome::TimedOut));
        }
        tokio::time::sleep(options.interval).await;
    }
}

/// Follows the transfer of `call_id` by reading the call every `options.interval` until
/// `timeout`, reporting progress to `on_progress`, then [`reconcile`]s it if nothing final was
/// read. `established` ends the transfer only after `transferring` was read (before, the transfer
/// may not have started) or with a failure code.
///
/// # Errors
/// As [`reconcile`].
pub async fn poll(
    client: &GraphCommsClient,
    call_id: &str,
    timeout: Duration,
    options: &ReconcileOptions,
    mut on_progress: impl FnMut(TransferProgress),
) -> Result<TransferOutcome> {
    let deadline = Instant::now() + timeout;
    let mut transferring = false;
    let mut accepted = false;
    loop {
        let call = get(client, call_id).await?;
        match read_call(call.as_ref(), accepted) {
            CallReading::Final(outcome) => return Ok(outcome),
            CallReading::InProgress { accepted: now } => {
                if !transferring && !accepted {
                    transferring = true;
                    on_progress(TransferProgress::Transferring);
                }
                if now && !accepted {
                    accepted = true;
                    on_progress(TransferProgress::TransferAccepted);
                }
            }
            CallReading::Established if transferring => return Ok(TransferOutcome::failed(true)),
            CallReading::Established | CallReading::Unknown => {}
        }
        if Instant::now() + options.interval > deadline {
            break;
        }
        tokio::time::sleep(options.interval).await;
    }
    reconcile(client, call_id, accepted, options).await
}
