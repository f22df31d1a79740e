//! Build and validate Microsoft Graph call-transfer and call-control requests before they are sent.
//!
//! Graph accepts almost any transfer body and fails late: a `400`, a `500/7000` notification
//! minutes later, or a call that silently drops. This crate says each transfer in types and checks
//! a body against the call it applies to, so a transfer that passes is one Graph can carry out.
//!
//! - [`Transfer`] builds the model's [`TransferRequestBody`](graph_comms_model::TransferRequestBody):
//!   to a Teams user, a PSTN number, an application or an application instance; consultative;
//!   with a [`Transferee`] for group calls.
//! - [`validate`] checks any body (built here, or read from JSON with [`validate_json`], unknown
//!   fields kept) against a [`CallContext`], and returns a [`Report`] of every [`Violation`],
//!   errors and warnings, each displayed as `path: message`.
//! - [`E164`], [`Guid`] and [`CallId`] are validated once and trusted afterwards.
//! - [`control`] does the same for the rest of a transfer bot's work: [`OutgoingCall`] (the
//!   consultation call that `replacesCallId` names, a call to a user, a PSTN number or a bot),
//!   [`Answer`], [`Reject`], [`Redirect`], [`PlayPrompt`] and [`HoldMusic`], each checked by
//!   its rules into the same [`Report`].
//! - [`CallId::transfer_path`] and [`call_path_segment`] put a call id into the request path,
//!   percent-encoded, never raw;
//!   [`to_json`] writes the body in one allocation.
//!
//! ```
//! use graph_comms_model::EndpointType;
//! use graph_comms_transfer::{CallContext, CallId, Guid, Transfer, Transferee};
//!
//! let tenant: Guid = "72f988bf-86f1-41af-91ab-2d7cd011db47".parse()?;
//! let call = CallContext::group().with_tenant(tenant).with_call_id("341a0500-d4bf-4224-8b19-1581168d328b");
//!
//! let (body, warnings) = Transfer::to_teams_user("550fae72-d251-43ec-868c-373732c2704f".parse()?, tenant)
//!     .display_name("Heidi Steen")
//!     .endpoint_type(EndpointType::Default)
//!     .transferee(Transferee::teams_user(
//!         "751f6800-3180-414d-bd94-333364659951".parse()?,
//!         tenant,
//!         "909c6581-5130-43e9-88f3-fcb3582cde37",
//!     ))
//!     .build_for(&call)?;
//! assert!(warnings.is_empty());
//! let path = CallId::parse("341a0500-d4bf-4224-8b19-1581168d328b")?.transfer_path();
//! assert_eq!(path, "/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b/transfer");
//!
//! // A consultative transfer that names the call being transferred is refused:
//! let err = Transfer::to_teams_user("550fae72-d251-43ec-868c-373732c2704f".parse()?, None)
//!     .consultative(CallId::parse("341a0500d4bf42248b191581168d328b")?)
//!     .transferee(body.transferee.clone().unwrap_or_default())
//!     .build_for(&call)
//!     .unwrap_err();
//! assert!(err.to_string().contains("transferTarget.replacesCallId"));
//! # Ok::<(), graph_comms_transfer::Error>(())
//! ```

mod builder;
mod context;
pub mod control;
mod error;
mod ids;
mod validate;

pub use builder::{Transfer, Transferee};
pub use context::{CallContext, CallKind};
pub use control::{Answer, HoldMusic, OutgoingCall, PlayPrompt, Redirect, Reject};
pub use error::{Error, Report, Result, Severity, Violation};
pub use ids::{call_path_segment, CallId, Guid, E164, E164_MAX_DIGITS};
pub use validate::{to_json, validate, validate_json};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
