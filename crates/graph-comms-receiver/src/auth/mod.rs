//! Authentication of callbacks: RS256 bearer tokens checked against the keys of an OpenID
//! configuration, with a cache of verified tokens.

mod backend;
mod cache;
mod keys;

pub use backend::CRYPTO_BACKEND;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use graph_comms_transport::Transport;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
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
    validation: Validation,
    keys: Arc<KeyStore>,
    cache: cache::TokenCache,
    /// Striped by token: concurrent first uses of one token wait for a single verification.
    verify_locks: Vec<tokio::sync::Mutex<()>>,
    full_verifications: AtomicU64,
    cache_hits: AtomicU64,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Audience>,
    exp: Option<serde_json::Number>,
    nbf: Option<serde_json::Number>,
    tid: Option<String>,
    appid: Option<String>,
    azp: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

fn seconds(n: &serde_json::Number) -> Option<u64> {
    n.as_u64()
        .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
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
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.leeway = config.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // The audience is checked here, after the signature, to tell 403 from 401.
        validation.validate_aud = false;
        validation.set_issuer(&config.issuers);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
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
                validation,
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
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &inner.validation).map_err(|e| match e
                .kind()
            {
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => AuthError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(claim) => AuthError::InvalidClaim(claim.clone()),
                ErrorKind::InvalidClaimFormat(claim) => AuthError::InvalidClaim(claim.clone()),
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    AuthError::UnsupportedAlgorithm(format!("{:?}", header.alg))
                }
                _ => AuthError::Malformed(e.to_string()),
            })?;
        let claims = data.claims;
        let issuer = claims.iss.ok_or(AuthError::WrongIssuer)?;
        let expires_at = claims
            .exp
            .as_ref()
            .and_then(seconds)
            .ok_or_else(|| AuthError::InvalidClaim("exp".to_owned()))?;
        let audience_ok = match &claims.aud {
            Some(Audience::One(aud)) => *aud == inner.app_id,
            Some(Audience::Many(auds)) => auds.contains(&inner.app_id),
            None => return Err(AuthError::InvalidClaim("aud".to_owned())),
        };
        if !audience_ok {
            return Err(AuthError::WrongAudience);
        }
        let caller = Arc::new(VerifiedCaller {
            tenant_id: claims.tid,
            issuer,
            audience: inner.app_id.clone(),
            app_id: claims.appid.or(claims.azp),
            expires_at,
            not_before: claims.nbf.as_ref().and_then(seconds),
        });
        inner.cache.insert(token, caller.clone(), now, generation);
        Ok(caller)
    }
}
