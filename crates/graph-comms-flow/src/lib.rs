//! Orchestration above the Graph client and the transfer tracker.
//!
//! The notify crate decides outcomes from notifications and never sends HTTP; the transport crate
//! sends requests and knows nothing of outcomes. This crate is where they meet:
//! [`reconcile`](mod@reconcile) asks Graph what became of a transfer whose final notification
//! never came, and follows a transfer by polling when no callback reaches this process;
//! [`consult`](mod@consult) orchestrates a consultative transfer.

#![doc = include_str!("../README.md")]

pub mod consult;
mod error;
pub mod reconcile;

pub use consult::{
    ConsultOptions, ConsultOutcome, ConsultStep, Consultation, Proceed, RollbackReason,
};
#[doc(hidden)]
pub use error::FlowError;
pub use error::{Error, Result};
pub use reconcile::{
    poll, read_call, reconcile, reconcile_handle, settle, CallReading, ReconcileOptions,
};
