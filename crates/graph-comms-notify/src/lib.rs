#![doc = include_str!("../README.md")]

mod config;
mod error;
mod event;
mod explain;
mod handle;
mod incoming;
mod lifecycle;
mod machine;
mod outcome;
#[cfg(feature = "redis")]
mod redis_store;
mod shared;
mod store;
mod tracker;

pub use config::{TrackOptions, TrackerConfig};
#[doc(hidden)]
pub use error::{Error, Result};
pub use event::{
    classify, decode, normalize_call_id, EventKind, NotificationEvent, ResourceShape,
    TRANSFER_COMPLETED_SUBCODE,
};
pub use explain::{explain_subcode, KNOWN_SUBCODES};
pub use handle::{ProgressStream, TransferHandle};
pub use incoming::{incoming_calls, is_incoming, IncomingCall};
pub use lifecycle::{
    CallEnd, CallFollower, CallLifecycle, CallPhase, OperationFollower, OperationPhase,
};
pub use outcome::{TransferOutcome, TransferProgress};
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
pub use shared::{
    fold_log, unix_ms, Appended, MemorySharedStore, SharedStore, SharedTracker, SharedTransfer,
    StoreFuture, StoreLimits,
};
pub use store::{CallRole, MemoryStore, TransferRecord, TransferStore};
pub use tracker::{Applied, TrackerStats, TransferTracker};

/// Model types that appear in this crate's API (an event's `state` and `change_type`, an incoming
/// call's identities, modalities and context), so a bot can name them without depending on
/// `graph-comms-model` itself.
pub use graph_comms_model::{CallState, ChangeType, IdentitySet, IncomingContext, Modality};
