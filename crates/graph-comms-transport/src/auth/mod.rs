//! Access tokens for Graph: the [`TokenProvider`] trait, a [`StaticToken`], and the OAuth 2.0
//! client-credentials flow ([`ClientCredentials`]) with a secret or a certificate.
//!
//! Tokens are asked for **per tenant**: a multi-tenant bot transfers calls in many tenants, and
//! each tenant has its own token.

mod certificate;
mod client_credentials;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::Result;

pub use certificate::ClientCertificate;
pub use client_credentials::{ClientCredential, ClientCredentials, ClientCredentialsBuilder};

/// A secret string (token, client secret) whose `Debug` output is redacted.
///
/// ```
/// use graph_comms_transport::Secret;
///
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "Secret(\"***\")");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A bearer token and when it expires (on tokio's clock, so tests can pause time).
#[derive(Clone, Debug)]
pub struct AccessToken {
    token: Secret,
    expires_at: Option<Instant>,
}

impl AccessToken {
    /// A token valid for `expires_in` from now, or without a known expiry.
    pub fn new(token: impl Into<Secret>, expires_in: Option<Duration>) -> Self {
        Self {
            token: token.into(),
            expires_at: expires_in.map(|d| Instant::now() + d),
        }
    }

    /// The token itself, to put after `Bearer `.
    pub fn secret(&self) -> &str {
        self.token.expose()
    }

    /// When it expires, if known.
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// True when it is still valid `margin` from now (always true without a known expiry).
    pub fn is_fresh(&self, margin: Duration) -> bool {
        self.expires_at
            .is_none_or(|at| Instant::now() + margin < at)
    }
}

/// Gives the bearer token to send with a request to `tenant`.
///
/// `tenant` is the tenant of the call (a GUID or a domain such as `contoso.onmicrosoft.com`);
/// an empty `tenant` means the provider's own default. Implementations cache as they see fit;
/// [`ClientCredentials`] caches per tenant and refreshes once at a time per tenant.
#[async_trait]
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// A token for `tenant`.
    async fn token(&self, tenant: &str) -> Result<AccessToken>;

    /// Forgets any cached token for `tenant` (called after Graph answers 401).
    fn invalidate(&self, tenant: &str) {
        let _ = tenant;
    }
}

/// The same token for every tenant, such as one passed with `--token`.
#[derive(Clone, Debug)]
pub struct StaticToken(Secret);

impl StaticToken {
    /// A provider that always returns `token`.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self(token.into())
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self, _tenant: &str) -> Result<AccessToken> {
        Ok(AccessToken::new(self.0.clone(), None))
    }
}

/// Checks that `tenant` can go into a token URL path: a GUID or a domain, in
/// `[A-Za-z0-9.-_]`, 1 to 256 bytes, not `.` or `..`.
pub(crate) fn check_tenant(tenant: &str) -> Result<()> {
    let reason = if tenant.is_empty() {
        Some("is empty")
    } else if tenant.len() > 256 {
        Some("is longer than 256 bytes")
    } else if tenant == "." || tenant == ".." {
        Some("is a dot segment")
    } else if !tenant
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        Some("may only hold letters, digits, '-', '.' and '_'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(crate::Error::InvalidTenant {
            tenant: tenant.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants() {
        for ok in [
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "contoso.onmicrosoft.com",
            "common",
        ] {
            assert!(check_tenant(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a?b", "a b", "é"] {
            assert!(check_tenant(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn freshness_follows_the_clock() {
        let t = AccessToken::new("t", Some(Duration::from_secs(600)));
        assert!(t.is_fresh(Duration::from_secs(300)));
        tokio::time::advance(Duration::from_secs(301)).await;
        assert!(!t.is_fresh(Duration::from_secs(300)));
        assert!(AccessToken::new("t", None).is_fresh(Duration::MAX / 4));
        assert!(!format!("{t:?}").contains("\"t\""));
    }
}
