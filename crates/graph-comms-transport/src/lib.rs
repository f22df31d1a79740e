#![doc = include_str!("../README.md")]

mod auth;
mod calls;
mod client;
mod cloud;
mod error;
mod options;
mod pipeline;
#[cfg(feature = "reqwest")]
mod reqwest_transport;
pub mod retry;
mod transport;

pub use auth::{
    AccessToken, ClientCertificate, ClientCredential, ClientCredentials, ClientCredentialsBuilder,
    Secret, StaticToken, TokenProvider,
};
pub use calls::Replied;
pub use client::{Accepted, GraphCommsClient, GraphCommsClientBuilder};
pub use cloud::{ApiVersion, BaseUrl, CallsPath, Cloud};
pub use error::{Error, GraphError, OutcomeUnknownReason, Refusal, Result};
/// The body [`GraphCommsClient::transfer`] sends, so a caller can name it without depending on
/// `graph-comms-model` itself.
pub use graph_comms_model::TransferRequestBody;
pub use options::HttpOptions;
#[cfg(feature = "reqwest")]
pub use reqwest_transport::ReqwestTransport;
pub use retry::RetryPolicy;
pub use transport::{
    HttpRequest, HttpResponse, Transport, TransportError, TransportErrorKind,
    DEFAULT_MAX_RESPONSE_BODY,
};
