//! Authentication of callbacks: RS256 bearer tokens checked against the keys of an OpenID
//! configuration, with a cache of verified tokens.

mod backend;
mod cache;
mod keys;
mod verifying;

pub use backend::CRYPTO_BACKEND;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use graph_comms_transport::Transport;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::error::{AuthError, Error, Result};
use keys::{KeyStore, Lookup};

/// The OpenID configuration of the keys Microsoft Graph signs call notifications with.
pub const GRAPH_OPENID_CONFIGURATION: &str =
    "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration";

/// The issuers accepted by default: Bot Framework's, used on call notifications, and Graph's, as
/// Microsoft's samples accept.
pub const DEFAULT_ISSUERS: [&str; 2] = [
    "https://api.botframework.com",
    "https://graph.microsoft.com",
];

/// How many single-flight locks verifications are spread over.
const VERIFY_STRIPES: usize = 64;

/// The longest token considered; anything longer is rejected unread.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// How callbacks are authenticated.
///
/// ```
/// use graph_comms_receiver::AuthConfig;
///
/// let mut config = AuthConfig::new("11111111-2222-3333-4444-555555555555");
/// config.openid_config_url = "http://127.0.0.1:8080/v1/.well-known/OpenIdConfiguration".into();
/// assert_eq!(config.issuers.len(), 2);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthConfig {
    /// The bot's application (client) id: the only audience accepted.
    pub app_id: String,
    /// Where the signing keys are described (default [`GRAPH_OPENID_CONFIGURATION`]).
    pub openid_config_url: String,
    /// The accepted `iss` values (default [`DEFAULT_ISSUERS`]).
    pub issuers: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf` (default 5 minutes, as Microsoft's libraries).
    pub leeway: Duration,
    /// Keys older than this are refreshed in the background (default 12 hours).
    pub refresh_interval: Duration,
    /// The shortest time between two fetches triggered by an unknown `kid` (default 5 minutes).
    pub min_refetch_interval: Duration,
    /// Timeout of one fetch of the OpenID configuration or the JWKS (default 10 seconds).
    pub fetch_timeout: Duration,
    /// How many verified tokens are remembered (default 10 000; 0 verifies every time).
    pub token_cache_capacity: usize,
    /// The HTTP transport the keys are fetched with (default, with the `reqwest` feature: a new
    /// `graph_comms_transport::ReqwestTransport`; without it, one must be given).
    pub transport: Option<Arc<dyn Transport>>,
}

impl AuthConfig {
    /// The defaults for a bot with this app id, against Microsoft Graph's keys.
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            openid_config_url: GRAPH_OPENID_CONFIGURATION.to_owned(),
            issuers: DEFAULT_ISSUERS.iter().map(|s| (*s).to_owned()).collect(),
            leeway: Duration::from_secs(300),
            refresh_interval: Duration::from_secs(12 * 3600),
            min_refetch_interval: Duration::from_secs(300),
            fetch_timeout: Duration::from_secs(10),
            token_cache_capacity: 10_000,
            transport: None,
        }
    }

    /// Fetches the keys through this transport (a proxy-aware client, a test double, ...).
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Sets the OpenID configuration URL (an emulator, a government cloud, ...).
    pub fn with_openid_config_url(mut self, url: impl Into<String>) -> Self {
        self.openid_config_url = url.into();
        self
    }

    /// Replaces the accepted issuers.
    pub fn with_issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.issuers = issuers.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`app_id`](AuthConfig::app_id).
    pub fn with_app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = app_id.into();
        self
    }

    /// Sets [`leeway`](AuthConfig::leeway).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Sets [`refresh_interval`](AuthConfig::refresh_interval).
    pub fn with_refresh_interval(mut self, refresh_interval: Duration) -> Self {
        self.refresh_interval = refresh_interval;
        self
    }

    /// Sets [`min_refetch_interval`](AuthConfig::min_refetch_interval).
    pub fn with_min_refetch_interval(mut self, min_refetch_interval: Duration) -> Self {
        self.min_refetch_interval = min_refetch_interval;
        self
    }

    /// Sets [`fetch_timeout`](AuthConfig::fetch_timeout).
    pub fn with_fetch_timeout(mut self, fetch_timeout: Duration) -> Self {
        self.fetch_timeout = fetch_timeout;
        self
    }

    /// Sets [`token_cache_capacity`](AuthConfig::token_cache_capacity).
    pub fn with_token_cache_capacity(mut self, token_cache_capacity: usize) -> Self {
        self.token_cache_capacity = token_cache_capacity;
        self
    }

    fn validate(&self) -> Result<()> {
        let config = |field, rule: &str| Error::Config {
            field,
            rule: rule.to_owned(),
        };
        if self.app_id.trim().is_empty() {
            return Err(config("app_id", "must not be empty"));
        }
        if self.issuers.is_empty() || self.issuers.iter().any(|i| i.is_empty()) {
            return Err(config("issuers", "must list at least one non-empty issuer"));
        }
        let url = &self.openid_config_url;
        let parsed = url::Url::parse(url).ok();
        if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
            return Err(config("openid_config_url", "must be an http(s) URL"));
        }
        Ok(())
    }
}

/// The transport the keys are fetched with when the configuration names none.
#[cfg(feature = "reqwest")]
fn default_transport() -> Result<Arc<dyn Transport>> {
    let transport = graph_comms_transport::ReqwestTransport::new().map_err(|e| Error::Config {
        field: "transport",
        rule: format!("cannot build the default HTTP transport: {e}"),
    })?;
    Ok(Arc::new(transport))
}

/// Without the `reqwest` feature there is no default: the bot brings its own HTTP stack.
#[cfg(not(feature = "reqwest"))]
fn default_transport() -> Result<Arc<dyn Transport>> {
    Err(Error::Config {
        field: "transport",
        rule: "must be set (AuthConfig::with_transport) when the `reqwest` feature is off"
            .to_owned(),
    })
}

/// Who sent a callback, from its verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedCaller {
    /// The `tid` claim: the tenant the notification concerns.
    pub tenant_id: Option<String>,
    /// The `iss` claim.
    pub issuer: String,
    /// The audience matched: our app id.
    pub audience: String,
    /// The calling application (`appid` or `azp` claim), when present.
    pub app_id: Option<String>,
    /// The `exp` claim, in seconds since the Unix epoch.
    pub expires_at: u64,
    /// The `nbf` claim, when present.
    pub not_before: Option<u64>,
}

/// Counters of the authenticator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthStats {
    /// Tokens verified cryptographically (successfully or not).
    pub full_verifications: u64,
    /// Requests answered from the verified-token cache.
    pub cache_hits: u64,
    /// Fetches of the OpenID configuration and JWKS attempted.
    pub key_fetches: u64,
}

/// Verifies callback bearer tokens. Cheap to clone (an `Arc` inside).
#[derive(Clone, Debug)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    app_id: String,
    /// The accepted `iss` values.
    issuers: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    leeway: u64,
    keys: Arc<KeyStore>,
    cache: cache::TokenCache,
    /// Striped by token: concurrent first uses of one token wait for a single verification.
    verify_locks: Vec<tokio::sync::Mutex<()>>,
    full_verifications: AtomicU64,
    cache_hits: AtomicU64,
}

/// The claims read from a token. `iss`, `aud`, `exp` and `nbf` are taken as any JSON value and
/// checked after the signature, so that a claim of the wrong type is refused as that claim
/// rather than as an unreadable token.
#[derive(Deserialize)]
struct Claims {
    iss: Option<serde_json::Value>,
    aud: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
    tid: Option<String>,
    appid: Option<String>,
    azp: Option<String>,
}

impl Claims {
    /// Checks the claims of a token whose signature is good, at `now` (seconds since the
    /// epoch): `exp`, `iss` and `aud` are required; `exp` and `nbf` are whole seconds, with
    /// `leeway` seconds of clock skew either way; `iss` is one of `issuers`; `app_id` is the
    /// audience or one of them.
    fn check(
        self,
        now: u64,
        leeway: u64,
        issuers: &[String],
        app_id: &str,
    ) -> std::result::Result<VerifiedCaller, AuthError> {
        let exp = self
            .exp
            .ok_or_else(|| AuthError::InvalidClaim("exp".to_owned()))?;
        let Some(serde_json::Value::String(issuer)) = self.iss else {
            return Err(AuthError::WrongIssuer);
        };
        let aud = self
            .aud
            .ok_or_else(|| AuthError::InvalidClaim("aud".to_owned()))?;
        let expires_at = exp
            .as_u64()
            .ok_or_else(|| AuthError::InvalidClaim("exp".to_owned()))?;
        let not_before = match &self.nbf {
            None => None,
            Some(nbf) => Some(
                nbf.as_u64()
                    .ok_or_else(|| AuthError::InvalidClaim("nbf".to_owned()))?,
            ),
        };
        if expires_at < now.saturating_sub(leeway) {
            return Err(AuthError::Expired);
        }
        if not_before.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(AuthError::NotYetValid);
        }
        if !issuers.contains(&issuer) {
            return Err(AuthError::WrongIssuer);
        }
        let audience_ok = match &aud {
            serde_json::Value::String(one) => one == app_id,
            serde_json::Value::Array(many) => many.iter().any(|a| a.as_str() == Some(app_id)),
            _ => return Err(AuthError::InvalidClaim("aud".to_owned())),
        };
        if !audience_ok {
            return Err(AuthError::WrongAudience);
        }
        Ok(VerifiedCaller {
            tenant_id: self.tid,
            issuer,
            audience: app_id.to_owned(),
            app_id: self.appid.or(self.azp),
            expires_at,
            not_before,
        })
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `alg` of a token header that `jsonwebtoken` refused to parse (`none`, unknown names).
fn raw_alg(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("alg")?.as_str().map(str::to_owned)
}

impl Authenticator {
    /// An authenticator for `config`. Keys are fetched on first use (or by [`refresh_keys`]).
    ///
    /// [`refresh_keys`]: Authenticator::refresh_keys
    pub fn new(config: AuthConfig) -> Result<Self> {
        config.validate()?;
        backend::install();
        let transport: Arc<dyn Transport> = match config.transport {
            Some(transport) => transport,
            None => default_transport()?,
        };
        let keys = KeyStore::new(
            config.openid_config_url.clone(),
            transport,
            config.refresh_interval,
            config.min_refetch_interval,
            config.fetch_timeout,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                app_id: config.app_id,
                issuers: config.issuers,
                leeway: config.leeway.as_secs(),
                keys: Arc::new(keys),
                cache: cache::TokenCache::new(config.token_cache_capacity),
                verify_locks: (0..VERIFY_STRIPES)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
                full_verifications: AtomicU64::new(0),
                cache_hits: AtomicU64::new(0),
            }),
        })
    }

    /// The app id tokens must be addressed to.
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// Fetches the signing keys now, e.g. at startup to fail fast on a wrong URL.
    pub async fn refresh_keys(&self) -> Result<()> {
        self.inner.keys.refresh().await
    }

    /// The `kid`s of the signing keys currently cached.
    pub fn key_ids(&self) -> Vec<String> {
        self.inner.keys.kids()
    }

    /// The authenticator's counters.
    pub fn stats(&self) -> AuthStats {
        AuthStats {
            full_verifications: self.inner.full_verifications.load(Ordering::Relaxed),
            cache_hits: self.inner.cache_hits.load(Ordering::Relaxed),
            key_fetches: self.inner.keys.fetches(),
        }
    }

    /// Authenticates a request from its `Authorization` header value (`Bearer <jwt>`).
    pub async fn authenticate(
        &self,
        authorization: Option<&http::HeaderValue>,
    ) -> std::result::Result<Arc<VerifiedCaller>, AuthError> {
        let value = authorization
            .and_then(|v| v.to_str().ok())
            .ok_or(AuthError::MissingToken)?;
        let (scheme, token) = value
            .trim()
            .split_once(' ')
            .ok_or(AuthError::MissingToken)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        self.verify(token).await
    }

    /// Verifies one token: RS256 only, signature by a published key, issuer, `exp`/`nbf` with
    /// leeway, then the audience (our app id).
    pub async fn verify(&self, token: &str) -> std::result::Result<Arc<VerifiedCaller>, AuthError> {
        let inner = &*self.inner;
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed("longer than 16 KiB".to_owned()));
        }
        let now = now_secs();
        let generation = inner.keys.generation();
        if let Some(caller) = inner.cache.get(token, now, generation) {
            inner.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(caller);
        }
        // Single flight: a token seen by many connections at once (a sender's first callbacks)
        // is verified once; the others wait for that and find it cached. Tokens sharing a stripe
        // only queue behind each other, and a failure is never cached, so it is retried.
        let _flight = if inner.cache.enabled() {
            let stripe = inner.cache.bucket(token) as usize % VERIFY_STRIPES;
            let guard = inner.verify_locks[stripe].lock().await;
            if let Some(caller) = inner.cache.get(token, now_secs(), inner.keys.generation()) {
                inner.cache_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(caller);
            }
            Some(guard)
        } else {
            None
        };

        let header = jsonwebtoken::decode_header(token).map_err(|e| match raw_alg(token) {
            Some(alg) if alg != "RS256" => AuthError::UnsupportedAlgorithm(alg),
            _ => AuthError::Malformed(e.to_string()),
        })?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(AuthError::MissingKeyId)?;
        let key = match inner.keys.get(&kid).await {
            Lookup::Found(key) => key,
            Lookup::Unknown => return Err(AuthError::UnknownKey(kid)),
            Lookup::Unavailable(message) => return Err(AuthError::KeysUnavailable(message)),
        };
        inner.full_verifications.fetch_add(1, Ordering::Relaxed);
        // The parts as jsonwebtoken splits them: the signature after the last dot, the claims
        // between it and the dot before (the header, already read, is all that precedes).
        let malformed = || AuthError::Malformed("not three dot-separated parts".to_owned());
        let (message, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
        let (_, payload) = message.rsplit_once('.').ok_or_else(malformed)?;
        if !key
            .verifies(message.as_bytes(), signature)
            .map_err(AuthError::Malformed)?
        {
            return Err(AuthError::BadSignature);
        }
        // The audience is checked last, after the signature, to tell 403 from 401.
        let claims: Claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|e| AuthError::Malformed(format!("the claims are not base64url: {e}")))
            .and_then(|json| {
                serde_json::from_slice(&json).map_err(|e| {
                    AuthError::Malformed(format!(
                        "the claims are not a JSON object of the expected types: {e}"
                    ))
                })
            })?;
        let caller =
            Arc::new(claims.check(now_secs(), inner.leeway, &inner.issuers, &inner.app_id)?);
        inner.cache.insert(token, caller.clone(), now, generation);
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;
    const LEEWAY: u64 = 300;
    const APP: &str = "app";

    fn check(claims: serde_json::Value) -> std::result::Result<VerifiedCaller, AuthError> {
        let claims: Claims = serde_json::from_value(claims).expect("claims of the expected shape");
        claims.check(NOW, LEEWAY, &["https://issuer".to_owned()], APP)
    }

    fn valid() -> serde_json::Value {
        serde_json::json!({
            "iss": "https://issuer", "aud": APP, "exp": NOW + 60, "nbf": NOW - 60,
            "tid": "tenant", "azp": "caller",
        })
    }

    fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut claims = valid();
        claims[key] = value;
        claims
    }

    fn without(key: &str) -> serde_json::Value {
        let mut claims = valid();
        claims.as_object_mut().expect("an object").remove(key);
        claims
    }

    #[test]
    fn valid_claims_make_the_caller() {
        let caller = check(valid()).expect("valid");
        assert_eq!(caller.issuer, "https://issuer");
        assert_eq!(caller.audience, APP);
        assert_eq!(caller.tenant_id.as_deref(), Some("tenant"));
        assert_eq!(caller.app_id.as_deref(), Some("caller"));
        assert_eq!(caller.expires_at, NOW + 60);
        assert_eq!(caller.not_before, Some(NOW - 60));
        let caller = check(with("appid", "app-id".into())).expect("valid");
        assert_eq!(
            caller.app_id.as_deref(),
            Some("app-id"),
            "appid is preferred to azp"
        );
        assert!(check(without("nbf"))
            .expect("nbf is optional")
            .not_before
            .is_none());
    }

    #[test]
    fn exp_and_nbf_hold_to_the_second_with_the_leeway() {
        assert!(check(with("exp", (NOW - LEEWAY).into())).is_ok());
        assert_eq!(
            check(with("exp", (NOW - LEEWAY - 1).into())).err(),
            Some(AuthError::Expired)
        );
        assert!(check(with("nbf", (NOW + LEEWAY).into())).is_ok());
        assert_eq!(
            check(with("nbf", (NOW + LEEWAY + 1).into())).err(),
            Some(AuthError::NotYetValid)
        );
    }

    #[test]
    fn each_claim_of_the_wrong_type_or_missing_is_refused_as_that_claim() {
        let invalid = |claim: &str| Some(AuthError::InvalidClaim(claim.to_owned()));
        assert_eq!(check(without("exp")).err(), invalid("exp"));
        assert_eq!(check(with("exp", 1.8e9.into())).err(), invalid("exp"));
        assert_eq!(
            check(with("exp", "1800000000".into())).err(),
            invalid("exp")
        );
        assert_eq!(check(with("exp", (-1).into())).err(), invalid("exp"));
        assert_eq!(check(with("nbf", 1.8e9.into())).err(), invalid("nbf"));
        assert_eq!(
            check(with("exp", serde_json::Value::Null)).err(),
            invalid("exp")
        );
        assert!(
            check(with("nbf", serde_json::Value::Null)).is_ok(),
            "a null nbf is no nbf"
        );
        assert_eq!(check(without("aud")).err(), invalid("aud"));
        assert_eq!(check(with("aud", 7.into())).err(), invalid("aud"));
        assert_eq!(check(without("iss")).err(), Some(AuthError::WrongIssuer));
        assert_eq!(
            check(with("iss", serde_json::json!(["https://issuer"]))).err(),
            Some(AuthError::WrongIssuer)
        );
    }

    #[test]
    fn issuer_and_audience_must_match_exactly() {
        let wrong = |key: &str, value: serde_json::Value| check(with(key, value)).err();
        assert_eq!(
            wrong("iss", "https://issuer/".into()),
            Some(AuthError::WrongIssuer)
        );
        assert_eq!(
            wrong("iss", "HTTPS://ISSUER".into()),
            Some(AuthError::WrongIssuer)
        );
        assert_eq!(wrong("aud", "App".into()), Some(AuthError::WrongAudience));
        assert_eq!(
            wrong("aud", serde_json::json!(["other", 7])),
            Some(AuthError::WrongAudience)
        );
        assert!(check(with("aud", serde_json::json!(["other", APP]))).is_ok());
    }
}
