//! [`TransferOutcome`] and [`TransferProgress`]: how a tracked transfer ended, and its steps.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::explain::explain_subcode;
#[cfg(doc)]
use crate::{TrackerConfig, TransferHandle};

/// How a tracked transfer ended.
///
/// Every variant but [`TimedOut`](TransferOutcome::TimedOut) carries what the final notification
/// said (`resultInfo` code, sub-code and message, `terminationReason`), whether the outcome was
/// **inferred** (no final code was seen: e.g. the call was deleted after `transferAccepted`, or
/// reconciliation found it gone) and whether it arrived **late** (after the transfer had been
/// reported [`TimedOut`](TransferOutcome::TimedOut)). The accessors ([`code`](Self::code),
/// [`subcode`](Self::subcode), ...) read them whatever the variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TransferOutcome {
    /// The transfer completed: the call ended with sub-code 7015 (`GracefulTransferCompleted`) or
    /// `terminationReason: AppTransferred`, or (inferred) it was deleted after `transferAccepted`.
    Completed {
        /// `resultInfo.code`, when numeric.
        code: Option<i64>,
        /// `resultInfo.subcode` / `subCode`, when numeric.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
        /// `terminationReason`.
        termination_reason: Option<String>,
        /// No final code was seen; the outcome follows from what was.
        inferred: bool,
        /// Reported after the transfer had timed out.
        late: bool,
    },
    /// The transfer failed and the call is back to `established` (or the transfer's operation
    /// failed).
    Failed {
        /// `resultInfo.code`, when numeric (`None` only for an inferred failure).
        code: Option<i64>,
        /// `resultInfo.subcode` / `subCode`, when numeric.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
        /// `replacesContext` (consultative transfers).
        replaces_context: Option<String>,
        /// `terminationReason`.
        termination_reason: Option<String>,
        /// No failure code was seen; the outcome follows from what was (e.g. the call was found
        /// back in `established`).
        inferred: bool,
        /// Reported after the transfer had timed out.
        late: bool,
    },
    /// The call ended without a transfer code (for example the caller hung up mid-transfer).
    CallEnded {
        /// `resultInfo.code`, when numeric.
        code: Option<i64>,
        /// `resultInfo.subcode` / `subCode`, when numeric.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
        /// `terminationReason`.
        termination_reason: Option<String>,
        /// No final notification said so; the outcome follows from what was (e.g. Graph answered
        /// 404 for the call).
        inferred: bool,
        /// Reported after the transfer had timed out.
        late: bool,
    },
    /// Nothing final arrived before the transfer's timeout.
    TimedOut,
}

/// An outcome of `$variant` from what its final notification said, not late (the variants that
/// carry exactly the reported fields: `Completed` and `CallEnded`).
macro_rules! reported {
    ($variant:ident, $code:expr, $subcode:expr, $message:expr, $reason:expr, $inferred:expr) => {
        TransferOutcome::$variant {
            code: $code,
            subcode: $subcode,
            message: $message,
            termination_reason: $reason,
            inferred: $inferred,
            late: false,
        }
    };
}

impl TransferOutcome {
    /// A completion with nothing but its inference flag set (no `resultInfo`, no
    /// `terminationReason`).
    pub fn completed(inferred: bool) -> Self {
        reported!(Completed, None, None, None, None, inferred)
    }

    /// A completion as a final notification (or a read of the call) reported it: neither
    /// inferred nor late.
    pub fn completed_with(
        code: Option<i64>,
        subcode: Option<i64>,
        message: Option<String>,
        termination_reason: Option<String>,
    ) -> Self {
        reported!(Completed, code, subcode, message, termination_reason, false)
    }

    /// A failure with nothing but its inference flag set (no `resultInfo`, no
    /// `replacesContext`, no `terminationReason`).
    pub fn failed(inferred: bool) -> Self {
        TransferOutcome::Failed {
            code: None,
            subcode: None,
            message: None,
            replaces_context: None,
            termination_reason: None,
            inferred,
            late: false,
        }
    }

    /// A call end with nothing but its inference flag set (no `resultInfo`, no
    /// `terminationReason`).
    pub fn call_ended(inferred: bool) -> Self {
        reported!(CallEnded, None, None, None, None, inferred)
    }

    /// A call end as a final notification (or a read of the call) reported it: neither inferred
    /// nor late.
    pub fn call_ended_with(
        code: Option<i64>,
        subcode: Option<i64>,
        message: Option<String>,
        termination_reason: Option<String>,
    ) -> Self {
        reported!(CallEnded, code, subcode, message, termination_reason, false)
    }

    /// `true` for [`Completed`](TransferOutcome::Completed).
    pub fn is_success(&self) -> bool {
        matches!(self, TransferOutcome::Completed { .. })
    }

    /// The outcome's name as `listen` prints it: `transferCompleted`, `transferFailed`,
    /// `callEnded` or `timedOut`.
    pub fn name(&self) -> &'static str {
        match self {
            TransferOutcome::Completed { .. } => "transferCompleted",
            TransferOutcome::Failed { .. } => "transferFailed",
            TransferOutcome::CallEnded { .. } => "callEnded",
            TransferOutcome::TimedOut => "timedOut",
        }
    }

    /// `resultInfo.code` of the final notification.
    pub fn code(&self) -> Option<i64> {
        match self {
            TransferOutcome::Completed { code, .. }
            | TransferOutcome::Failed { code, .. }
            | TransferOutcome::CallEnded { code, .. } => *code,
            TransferOutcome::TimedOut => None,
        }
    }

    /// `resultInfo.subcode` / `subCode` of the final notification.
    pub fn subcode(&self) -> Option<i64> {
        match self {
            TransferOutcome::Completed { subcode, .. }
            | TransferOutcome::Failed { subcode, .. }
            | TransferOutcome::CallEnded { subcode, .. } => *subcode,
            TransferOutcome::TimedOut => None,
        }
    }

    /// `resultInfo.message` of the final notification.
    pub fn message(&self) -> Option<&str> {
        match self {
            TransferOutcome::Completed { message, .. }
            | TransferOutcome::Failed { message, .. }
            | TransferOutcome::CallEnded { message, .. } => message.as_deref(),
            TransferOutcome::TimedOut => None,
        }
    }

    /// `terminationReason` of the final notification.
    pub fn termination_reason(&self) -> Option<&str> {
        match self {
            TransferOutcome::Completed {
                termination_reason, ..
            }
            | TransferOutcome::Failed {
                termination_reason, ..
            }
            | TransferOutcome::CallEnded {
                termination_reason, ..
            } => termination_reason.as_deref(),
            TransferOutcome::TimedOut => None,
        }
    }

    /// `replacesContext` of a failed consultative transfer.
    pub fn replaces_context(&self) -> Option<&str> {
        match self {
            TransferOutcome::Failed {
                replaces_context, ..
            } => replaces_context.as_deref(),
            _ => None,
        }
    }

    /// `true` when no final code was seen and the outcome follows from what was.
    pub fn is_inferred(&self) -> bool {
        match self {
            TransferOutcome::Completed { inferred, .. }
            | TransferOutcome::Failed { inferred, .. }
            | TransferOutcome::CallEnded { inferred, .. } => *inferred,
            TransferOutcome::TimedOut => false,
        }
    }

    /// `true` when the outcome arrived after the transfer had been reported timed out.
    pub fn is_late(&self) -> bool {
        match self {
            TransferOutcome::Completed { late, .. }
            | TransferOutcome::Failed { late, .. }
            | TransferOutcome::CallEnded { late, .. } => *late,
            TransferOutcome::TimedOut => false,
        }
    }

    /// The same outcome marked late.
    pub fn into_late(mut self) -> Self {
        match &mut self {
            TransferOutcome::Completed { late, .. }
            | TransferOutcome::Failed { late, .. }
            | TransferOutcome::CallEnded { late, .. } => *late = true,
            TransferOutcome::TimedOut => {}
        }
        self
    }

    /// What the outcome means for the bot and what to do next: the sub-code's explanation when
    /// it is known, else one for the outcome itself.
    pub fn explanation(&self) -> Option<&'static str> {
        if let Some(known) = self.subcode().and_then(explain_subcode) {
            return Some(known);
        }
        Some(match self {
            TransferOutcome::Completed { inferred: true, .. } => {
                "the call was deleted after the target accepted, so the transfer is taken as \
                 completed; the bot's leg is gone and there is nothing more to do for this call"
            }
            TransferOutcome::Completed { .. } => return None,
            TransferOutcome::Failed { .. } => {
                "the transfer did not happen and the caller is still connected to the bot; \
                 tell the caller, then retry, transfer elsewhere or keep handling the call"
            }
            TransferOutcome::CallEnded { .. } => {
                "the call ended before the transfer completed (often the caller hung up); \
                 there is no call left to act on"
            }
            TransferOutcome::TimedOut => {
                "no final notification came in time; read the call (GET \
                 /communications/calls/{id}) to learn what happened before acting on it again"
            }
        })
    }
}

impl fmt::Display for TransferOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransferOutcome::Completed { .. } => "transfer completed",
            TransferOutcome::Failed { .. } => "transfer failed",
            TransferOutcome::CallEnded { .. } => "call ended before the transfer completed",
            TransferOutcome::TimedOut => "no final transfer notification in time",
        })?;
        match (self.code(), self.subcode()) {
            (Some(c), Some(s)) => write!(f, " ({c}/{s})")?,
            (Some(c), None) => write!(f, " ({c})")?,
            (None, Some(s)) => write!(f, " (sub-code {s})")?,
            (None, None) => {}
        }
        if self.is_inferred() {
            f.write_str(", inferred")?;
        }
        if self.is_late() {
            f.write_str(", reported late")?;
        }
        Ok(())
    }
}

/// A step of a tracked transfer, for UIs (see [`TransferHandle::progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferProgress {
    /// The call is being transferred.
    Transferring,
    /// The target accepted the transfer.
    TransferAccepted,
    /// The consultation call of a consultative transfer ended.
    ConsultationEnded {
        /// The consultation call's id (`replacesCallId`).
        call_id: String,
        /// Its `terminationReason`.
        termination_reason: Option<String>,
    },
    /// The transfer's outcome (always the last item but for a later `ConsultationEnded` or
    /// `Late`).
    Finished(TransferOutcome),
    /// The final result of a transfer already reported `Finished(TimedOut)`, which arrived
    /// within [`TrackerConfig::late_result_window`]; its outcome is marked
    /// [late](TransferOutcome::is_late).
    Late(TransferOutcome),
}
