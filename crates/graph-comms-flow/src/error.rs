//! The crate's error type.

/// Everything that can go wrong while reconciling, polling or consulting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the call from Graph failed (other than 404, which is an answer: the call is gone).
    #[error("GET /communications/calls/{call_id:?}: {source}")]
    Graph {
        /// The call read.
        call_id: String,
        /// The client's error.
        #[source]
        source: graph_comms_transport::Error,
    },
    /// Graph refused a step of a consultation before the consultation call was up (holding the
    /// caller, placing the call); what was done was undone.
    #[error("{action} for call {call_id:?}: {source}")]
    Action {
        /// The step (`startHoldMusic`, `create call`).
        action: &'static str,
        /// The caller's call.
        call_id: String,
        /// The client's error.
        #[source]
        source: graph_comms_transport::Error,
    },
    /// Graph placed the consultation call but its answer had no `id`.
    #[error("POST /communications/calls: Graph's answer has no call id")]
    NoCallId,
    /// A call id Graph returned is not one a transfer can name (`replacesCallId`).
    #[error("call id {call_id:?}: {reason}")]
    BadCallId {
        /// The id.
        call_id: String,
        /// The rule it breaks.
        reason: String,
    },
    /// The transfer could not be tracked (so it was not sent).
    #[error("tracking the transfer of call {call_id:?}: {source}")]
    Track {
        /// The caller's call.
        call_id: String,
        /// The tracker's error.
        #[source]
        source: graph_comms_notify::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
