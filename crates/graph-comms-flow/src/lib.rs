#![doc = include_str!("../README.md")]

pub mod consult;
mod error;
pub mod reconcile;

pub use consult::{
    ConsultOptions, ConsultOutcome, ConsultStep, Consultation, Proceed, RollbackReason,
};
#[doc(hidden)]
pub use error::{Error, Result};
pub use reconcile::{
    poll, read_call, reconcile, reconcile_handle, settle, CallReading, ReconcileOptions,
};
