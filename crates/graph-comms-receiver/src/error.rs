//! The receiver's error types: [`Error`] for setup and key fetching, [`AuthError`] for rejected callers.

use std::fmt;

use http::StatusCode;

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// An error setting up the receiver or fetching its signing keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is invalid.
    #[error("invalid receiver configuration: {field}: {rule}")]
    Config {
        /// The configuration field.
        field: &'static str,
        /// The rule it breaks.
        rule: String,
    },
    /// The OpenID configuration or the JWKS could not be fetched.
    #[error("fetching {url} failed: {message}")]
    Fetch {
        /// The URL fetched.
        url: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// The OpenID configuration or the JWKS is not what the OpenID Connect discovery spec says.
    #[error("invalid document from {url}: {path}: {rule}")]
    Document {
        /// The URL the document came from.
        url: String,
        /// The JSON path of the offending value (`$` for the whole document).
        path: String,
        /// The rule it breaks.
        rule: String,
    },
    /// An I/O error while serving.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a callback's bearer token was rejected.
///
/// Every variant maps to an HTTP status through [`AuthError::status`]: `403 Forbidden` for a token
/// that is genuine but addressed to another app, `503 Service Unavailable` when no signing keys
/// could be obtained, `401 Unauthorized` for everything else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header, or not a `Bearer` one.
    #[error("missing bearer token: the Authorization header must be `Bearer <jwt>`")]
    MissingToken,
    /// The token is not a well-formed JWT (three base64url parts, JSON header and claims).
    #[error("malformed token: {0:?}")]
    Malformed(String),
    /// The header names an algorithm other than RS256 (including `none` and HMAC ones).
    #[error("header.alg: only RS256 is accepted, got {0:?}")]
    UnsupportedAlgorithm(String),
    /// The header has no `kid`.
    #[error("header.kid: missing; a key id is required")]
    MissingKeyId,
    /// No signing key with this `kid` is published at the OpenID configuration's `jwks_uri`.
    #[error("header.kid: no signing key {0:?} is published by the OpenID configuration")]
    UnknownKey(String),
    /// The signature does not verify with the published key.
    #[error("signature: does not verify with the published key")]
    BadSignature,
    /// The `iss` claim is missing or not one of the accepted issuers.
    #[error("claims.iss: not an accepted issuer")]
    WrongIssuer,
    /// The token has expired (`exp` plus leeway is in the past).
    #[error("claims.exp: the token has expired")]
    Expired,
    /// The token is not valid yet (`nbf` minus leeway is in the future).
    #[error("claims.nbf: the token is not valid yet")]
    NotYetValid,
    /// A required claim is missing or has the wrong type.
    #[error("claims.{0}: missing or not of the required type")]
    InvalidClaim(String),
    /// The token is genuine but issued for another application (`aud` is not our app id).
    #[error("claims.aud: the token is issued for another application")]
    WrongAudience,
    /// No signing keys could be obtained from the OpenID configuration.
    #[error("signing keys unavailable: {0:?}")]
    KeysUnavailable(String),
}

impl AuthError {
    /// The HTTP status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::WrongAudience => StatusCode::FORBIDDEN,
            AuthError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short stable code for logs and error bodies (`invalid_token`, `wrong_audience`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::Malformed(_) => "malformed_token",
            AuthError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            AuthError::MissingKeyId => "missing_kid",
            AuthError::UnknownKey(_) => "unknown_kid",
            AuthError::BadSignature => "bad_signature",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::InvalidClaim(_) => "invalid_claim",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::KeysUnavailable(_) => "keys_unavailable",
        }
    }
}

/// Why a callback was turned away before reaching the tracker, as counted by the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejection {
    /// 401: missing or invalid token.
    Unauthorized,
    /// 403: a genuine token for another app.
    Forbidden,
    /// 503: the signing keys could not be fetched.
    KeysUnavailable,
    /// 415: the content type is not `application/json`.
    UnsupportedMediaType,
    /// 413: the body is larger than the limit.
    PayloadTooLarge,
    /// 413: the body holds more notifications than the limit.
    TooManyNotifications,
    /// 408: the body did not arrive in time.
    Timeout,
    /// 400: the body is not a commsNotifications batch.
    BadRequest,
    /// 503: too many bodies are being read at once.
    Busy,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejection::Unauthorized => "unauthorized",
            Rejection::Forbidden => "forbidden",
            Rejection::KeysUnavailable => "keys unavailable",
            Rejection::UnsupportedMediaType => "unsupported media type",
            Rejection::PayloadTooLarge => "payload too large",
            Rejection::TooManyNotifications => "too many notifications",
            Rejection::Timeout => "timeout",
            Rejection::BadRequest => "bad request",
            Rejection::Busy => "busy",
        })
    }
}
