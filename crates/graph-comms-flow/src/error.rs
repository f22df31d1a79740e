//! The crate's error type.

/// Everything that can go wrong while reconciling or polling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// Reading the call from Graph failed (other than 404, which is an answer: the call is gone).
    #[error("GET /communications/calls/{call_id:?}: {source}")]
    Graph {
        /// The call read.
        call_id: String,
        /// The client's error.
        #[source]
        source: graph_comms_transport::Error,
    },
}

/// `Result` with [`FlowError`].
pub type Result<T, E = FlowError> = std::result::Result<T, E>;
