#![doc = include_str!("../README.md")]

mod builder;
mod context;
pub mod control;
mod error;
mod ids;
mod json;
mod validate;

pub use builder::{Transfer, Transferee};
pub use context::{CallContext, CallKind};
pub use control::{Answer, HoldMusic, OutgoingCall, PlayPrompt, Redirect, Reject};
pub use error::{Error, Report, Result, Severity, Violation};
pub use ids::{call_path_segment, CallId, Guid, E164, E164_MAX_DIGITS};
pub use validate::{json_type, to_json, to_json_vec, validate, validate_json};
