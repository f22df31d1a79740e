//! The Transport trait and a reqwest client for Microsoft Graph's call-transfer API.
//!
//! [`GraphCommsClient::transfer`] sends `POST {base}/communications/calls/{id}/transfer` and
//! returns [`Accepted`] (Graph's 202) or a typed [`Error`]. Around one [`Transport`] it layers,
//! in order:
//!
//! 1. **Auth**: a bearer token from a [`TokenProvider`], asked per tenant: a [`StaticToken`], or
//!    [`ClientCredentials`] (client secret or certificate, any authority host, cached per tenant
//!    with one refresh at a time).
//! 2. **Headers**: `Content-Type`, a `client-request-id` per logical request (kept across its
//!    retries), `SdkVersion` and `User-Agent`, `Retry-Attempt` on retries.
//! 3. **Retries** that never transfer twice (see [`retry`]): 429 and 503 honour `Retry-After`,
//!    connect failures back off; a 504, a timeout or a connection lost after sending is
//!    [`Error::OutcomeUnknown`].
//! 4. **Redirects**: at most 5 and only on the same origin, so `Authorization` never crosses
//!    origins; a POST or DELETE follows only 307 and 308 (a transfer is never re-sent as
//!    something else); token requests follow none (see [`Error::RedirectNotFollowed`],
//!    [`Error::TokenRedirect`]).
//! 5. **The transport**: [`ReqwestTransport`] (rustls) with the default `reqwest` feature, or
//!    your own. Response bodies are read up to a limit ([`DEFAULT_MAX_RESPONSE_BODY`], 1 MiB,
//!    by default), enforced while streaming: a longer body is dropped (a transfer's 202 stays
//!    accepted).
//!
//! A bearer token, a client secret or an assertion never goes over plain http, except to a
//! loopback address ([`Error::InsecureUrl`]). Graph's numeric refusals (7504, 7505, 8523) are
//! explained by [`Error::explanation`].
//!
//! Beside `transfer`, the client places, answers, rejects, redirects and hangs up calls, plays
//! prompts and hold music, and lists participants, with the same guarantees: see
//! [`GraphCommsClient::create_call`], [`answer`](GraphCommsClient::answer), ... and the table of
//! actions and the application permissions each needs in [`GraphCommsClient`]'s documentation.
//!
//! Where requests go is a [`BaseUrl`]: v1.0 or beta of a [`Cloud`] (global, US Gov L4/L5,
//! China), or any root such as a local emulator's.
//!
//! ```no_run
//! # async fn demo() -> graph_comms_transport::Result<()> {
//! use std::sync::Arc;
//! use graph_comms_transport::{ApiVersion, BaseUrl, ClientCredentials, Cloud, GraphCommsClient};
//!
//! // AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH):
//! let tokens = ClientCredentials::from_env()?.cloud(Cloud::UsGovL4).build()?;
//! let client = GraphCommsClient::builder(Arc::new(tokens))
//!     .base_url(BaseUrl::new(Cloud::UsGovL4, ApiVersion::V1))
//!     .build()?;
//! let body = serde_json::from_str(
//!     r#"{"transferTarget":{"identity":{"phone":{"id":"+12345678901"}}}}"#,
//! )?;
//! match client.transfer("341a0500-d4bf-4224-8b19-1581168d328b", &body).await {
//!     Ok(accepted) => println!("accepted: {accepted:?}"),
//!     Err(e) if e.is_outcome_unknown() => println!("check the call before retrying: {e}"),
//!     Err(e) => println!("refused: {e}"),
//! }
//! # Ok(()) }
//! ```

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
