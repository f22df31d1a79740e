//! Decode Microsoft Graph `commsNotifications` and track call transfers to their outcome.
//!
//! After Graph answers a transfer request with `202 Accepted`, everything a bot learns about the
//! transfer arrives as `commsNotifications` POSTed to its callback: state `transferring`, then
//! `transferAccepted`, then either `terminated` with sub-code 7015 (`GracefulTransferCompleted`) or
//! `terminationReason: AppTransferred` — success — or back to `established` with an error
//! `resultInfo` (500/7000, 500/7700) — failure. This crate turns those notifications into one
//! answer.
//!
//! - [`decode`] reads a `commsNotifications` body into [`NotificationEvent`]s (through the model's
//!   borrowed, routing-only decode), each classified by [`classify`] into an [`EventKind`]:
//!   `Transferring`, `TransferAccepted`, `Completed`, `Failed { .. }`, `OperationFailed { .. }` or
//!   `Other`. The older `commsOperation` flow's steps are transfer steps too; roster updates and
//!   anything newer than this crate decode as `Other`, never as an error.
//! - [`TransferTracker`] follows many transfers at once: [`TransferTracker::track`] returns a
//!   [`TransferHandle`], a future resolving to a [`TransferOutcome`] (`Completed`, `Failed`,
//!   `CallEnded`, `TimedOut`, each with its codes and whether it was inferred or late) with a
//!   [`ProgressStream`] for UIs; [`TransferTracker::apply_for_tenant`] feeds it events. It copes
//!   with early, batched, reordered, duplicated and late deliveries, compares call ids as Graph
//!   means them ([`normalize_call_id`]), binds each transfer to one tenant, and its memory is
//!   bounded. Its state lives behind the [`TransferStore`] trait ([`MemoryStore`] by default):
//!   the hot path is synchronous and in memory.
//! - [`SharedTracker`] is the same state machine for a fleet of bot instances, over the async
//!   [`SharedStore`] trait: [`MemorySharedStore`] in memory, `RedisStore` on Redis (the `redis`
//!   feature). Any instance registers a transfer, records the notifications it receives, and
//!   waits for the outcome that whichever instance saw the final notification recorded.
//! - [`explain_subcode`] explains known failure sub-codes.
//! - [`incoming_calls`] decodes the calls Graph offers the bot ([`IncomingCall`]: caller, callee,
//!   tenant, `incomingContext` with the transferor), to answer, reject or redirect.
//! - [`CallLifecycle`] follows the other actions the same way: a placed or answered call to
//!   established, declined or ended ([`CallFollower`]), an operation to completed or failed.
//!
//! This crate never sends HTTP; the receiver crate feeds it.
//!
//! ```
//! use graph_comms_notify::{decode, EventKind};
//!
//! let body = br#"{"value":[{"changeType":"deleted",
//!   "resourceUrl":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b",
//!   "resourceData":{"state":"terminated",
//!     "resultInfo":{"code":0,"subcode":7015,"message":"GracefulTransferCompleted"}}}]}"#;
//! let events = decode(body)?;
//! assert_eq!(events[0].kind, EventKind::Completed);
//! println!("{}", events[0].to_json_line());
//! # Ok::<(), graph_comms_notify::Error>(())
//! ```

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
pub use error::NotifyError;
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

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
