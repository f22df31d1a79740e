//! The crate's error type.

/// Everything that can go wrong in this crate.
///
/// Decoding fails only when the envelope itself is wrong (not JSON, not an object, `value` not an
/// array of objects); anything inside a notification that this crate does not understand decodes
/// as [`EventKind::Other`](crate::EventKind::Other) instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is not JSON, not a JSON object, or its `value` is not an array of objects.
    #[error("invalid commsNotifications body at line {line}, column {column}: {message}")]
    InvalidBody {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What was wrong, naming the JSON path where known (`$`, `$.value`, `$.value[2]`).
        message: String,
    },
    /// The body is a JSON object without a `value` array.
    #[error("$.value: missing; a commsNotifications body is an object with a `value` array")]
    MissingValue,
    /// A transfer is already open for this call (or the call is the consultation call of one).
    #[error(
        "call {call_id}: a transfer is already being tracked; one transfer at a time per call"
    )]
    AlreadyTracking {
        /// The call id.
        call_id: String,
    },
    /// `track` was given an empty call id.
    #[error("call id: must not be empty")]
    EmptyCallId,
    /// The tracker already follows [`TrackerConfig::max_open`](crate::TrackerConfig::max_open)
    /// transfers.
    #[error("tracker full: {limit} transfers are open (TrackerConfig::max_open)")]
    TrackerFull {
        /// The configured limit.
        limit: usize,
    },
    /// The shared transfer store failed: it could not be reached, or it answered something this
    /// crate cannot read.
    #[error("transfer store: {operation}: {message}")]
    Store {
        /// What was asked of the store (`register`, `append`, `log`, `record outcome`, ...).
        operation: &'static str,
        /// What went wrong (from the store's client; escaped where it quotes data).
        message: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Converts a `serde_json` error into [`Error::InvalidBody`], keeping line and column.
    pub(crate) fn from_json(e: &serde_json::Error) -> Self {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        Error::InvalidBody {
            line: e.line().max(1),
            column: e.column().max(1),
            message,
        }
    }
}
