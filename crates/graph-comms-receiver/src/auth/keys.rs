//! The signing-key cache: OpenID configuration → JWKS → RS256 verifying keys by `kid`.
//!
//! Keys are fetched on first use, refreshed in the background once they are older than the
//! refresh interval (requests keep using the old set meanwhile), and refetched at once when a
//! token names a `kid` we do not know — at most once per [`min_refetch_interval`], so a flood of
//! forged `kid`s cannot make us hammer the key endpoint. One fetch runs at a time.
//!
//! [`min_refetch_interval`]: crate::AuthConfig::min_refetch_interval

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use graph_comms_transport::{HttpRequest, Transport};
use serde::Deserialize;
use tokio::time::Instant;

use super::verifying::VerifyingKey;
use crate::error::{Error, Result};

/// How long to wait between fetches while no key set has ever been obtained.
const RETRY_WITHOUT_KEYS: Duration = Duration::from_secs(1);
/// Upper bound on an OpenID configuration or JWKS document.
const MAX_DOCUMENT: usize = 1024 * 1024;

/// The OpenID configuration fields we use.
#[derive(Debug, Deserialize)]
struct OpenIdConfiguration {
    jwks_uri: Option<String>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Option<Vec<String>>,
}

/// One JSON Web Key, RSA fields only.
#[derive(Debug, Deserialize)]
struct Jwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Option<Vec<Jwk>>,
}

/// One published signing key: the verifier and the RSA components it was built from.
struct PublishedKey {
    verifying: Arc<VerifyingKey>,
    /// `n` and `e` as published, to tell a key replaced under the same `kid`.
    components: (String, String),
}

/// Published keys by `kid`.
type Keys = HashMap<String, PublishedKey>;

/// A fetched key set.
#[derive(Clone, Default)]
struct KeySet {
    keys: Arc<Keys>,
    fetched_at: Option<Instant>,
}

#[derive(Default)]
struct State {
    set: KeySet,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
}

/// What a key lookup found.
pub(crate) enum Lookup {
    /// The key for the `kid`.
    Found(Arc<VerifyingKey>),
    /// Keys are known but none has this `kid` (after a refetch, when one was allowed).
    Unknown,
    /// No key set could be obtained at all.
    Unavailable(String),
}

/// The cache of signing keys behind an OpenID configuration URL.
pub(crate) struct KeyStore {
    openid_config_url: String,
    transport: Arc<dyn Transport>,
    fetch_timeout: Duration,
    refresh_interval: Duration,
    min_refetch_interval: Duration,
    state: RwLock<State>,
    fetch_lock: tokio::sync::Mutex<()>,
    background_refresh: AtomicBool,
    /// Bumped whenever a `kid` disappears from the key set, so cached verifications made with a
    /// withdrawn key stop counting.
    generation: AtomicU64,
    fetches: AtomicU64,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("openid_config_url", &self.openid_config_url)
            .field("refresh_interval", &self.refresh_interval)
            .field("min_refetch_interval", &self.min_refetch_interval)
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    pub(crate) fn new(
        openid_config_url: String,
        transport: Arc<dyn Transport>,
        refresh_interval: Duration,
        min_refetch_interval: Duration,
        fetch_timeout: Duration,
    ) -> Self {
        Self {
            openid_config_url,
            transport,
            fetch_timeout,
            refresh_interval,
            min_refetch_interval,
            state: RwLock::new(State::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
            background_refresh: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        }
    }

    /// The current key generation (see the field).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// How many key-set fetches were attempted.
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The `kid`s currently known.
    pub(crate) fn kids(&self) -> Vec<String> {
        let state = self.read();
        let mut kids: Vec<String> = state.set.keys.keys().cloned().collect();
        kids.sort();
        kids
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Finds the key for `kid`, fetching or refetching the key set when allowed.
    pub(crate) async fn get(self: &Arc<Self>, kid: &str) -> Lookup {
        let now = Instant::now();
        let (found, fetched_at) = {
            let state = self.read();
            (
                state.set.keys.get(kid).map(|k| k.verifying.clone()),
                state.set.fetched_at,
            )
        };
        if let Some(key) = found {
            if fetched_at.is_some_and(|at| now.duration_since(at) >= self.refresh_interval) {
                self.spawn_background_refresh();
            }
            return Lookup::Found(key);
        }
        // Unknown kid, or no keys yet: refetch if the rate limit allows.
        let min_interval = if fetched_at.is_some() {
            self.min_refetch_interval
        } else {
            RETRY_WITHOUT_KEYS
        };
        let _ = self.refetch_if_allowed(min_interval).await;
        let state = self.read();
        match state.set.keys.get(kid) {
            Some(key) => Lookup::Found(key.verifying.clone()),
            None if state.set.fetched_at.is_none() => Lookup::Unavailable(
                state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "no key set fetched yet".to_owned()),
            ),
            None => Lookup::Unknown,
        }
    }

    /// Fetches now unless another fetch started within `min_interval`; waits for a running fetch.
    async fn refetch_if_allowed(&self, min_interval: Duration) -> Result<()> {
        let requested = Instant::now();
        let _guard = self.fetch_lock.lock().await;
        let last_attempt = self.read().last_attempt;
        if let Some(last) = last_attempt {
            // A fetch finished while we waited, or one ran recently enough: use its result.
            if last >= requested || requested.duration_since(last) < min_interval {
                return Ok(());
            }
        }
        self.fetch_and_store().await
    }

    /// Fetches the key set now (waiting for any fetch in progress first).
    pub(crate) async fn refresh(&self) -> Result<()> {
        let _guard = self.fetch_lock.lock().await;
        self.fetch_and_store().await
    }

    fn spawn_background_refresh(self: &Arc<Self>) {
        if self.background_refresh.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.background_refresh.store(false, Ordering::Release);
            return;
        };
        let this = Arc::clone(self);
        handle.spawn(async move {
            // A failed refresh is retried no sooner than `min_refetch_interval`.
            let interval = this.min_refetch_interval;
            if let Err(error) = this.refetch_if_allowed(interval).await {
                tracing::warn!(
                    error = ?error.to_string(),
                    "periodic signing-key refresh failed; keeping the old keys"
                );
            }
            this.background_refresh.store(false, Ordering::Release);
        });
    }

    /// Must be called with `fetch_lock` held.
    async fn fetch_and_store(&self) -> Result<()> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = self.fetch().await;
        let mut state = self.write();
        state.last_attempt = Some(started.max(state.last_attempt.unwrap_or(started)));
        match result {
            Ok(keys) => {
                // A key withdrawn, or replaced under the same kid: verifications made with the
                // old key stop counting.
                let changed = state.set.keys.iter().any(|(kid, old)| {
                    keys.get(kid)
                        .is_none_or(|new| new.components != old.components)
                });
                if changed {
                    tracing::info!(
                        "signing keys withdrawn or replaced; cached verifications dropped"
                    );
                    self.generation.fetch_add(1, Ordering::AcqRel);
                }
                tracing::debug!(keys = keys.len(), "signing keys fetched");
                state.set = KeySet {
                    keys: Arc::new(keys),
                    fetched_at: Some(Instant::now()),
                };
                state.last_error = None;
                Ok(())
            }
            Err(error) => {
                // The message may quote the key server's documents: logged escaped.
                tracing::warn!(error = ?error.to_string(), "fetching signing keys failed");
                state.last_error = Some(error.to_string());
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<Keys> {
        let config: OpenIdConfiguration = self.get_json(&self.openid_config_url).await?;
        if let Some(algs) = &config.id_token_signing_alg_values_supported {
            if !algs.iter().any(|alg| alg == "RS256") {
                tracing::warn!(?algs, "the OpenID configuration does not list RS256");
            }
        }
        let jwks_uri = config.jwks_uri.ok_or_else(|| Error::Document {
            url: self.openid_config_url.clone(),
            path: "$.jwks_uri".to_owned(),
            rule: "required string is missing".to_owned(),
        })?;
        check_jwks_uri(&self.openid_config_url, &jwks_uri)?;
        let jwks: Jwks = self.get_json(&jwks_uri).await?;
        parse_keys(&jwks_uri, jwks)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T> {
        let fetch_error = |status: Option<u16>, message: String| Error::Fetch {
            url: url.to_owned(),
            status,
            message,
        };
        let url_parsed = url::Url::parse(url).map_err(|e| fetch_error(None, e.to_string()))?;
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        let request = HttpRequest {
            method: http::Method::GET,
            url: url_parsed,
            headers,
            body: bytes::Bytes::new(),
        };
        // The limit holds while the body streams in, not after it was read whole.
        let fetch = self.transport.send_with_body_limit(request, MAX_DOCUMENT);
        let response = tokio::time::timeout(self.fetch_timeout, fetch)
            .await
            .map_err(|_| fetch_error(None, format!("no answer within {:?}", self.fetch_timeout)))?
            .map_err(|e| fetch_error(None, e.to_string()))?;
        let status = response.status;
        if !status.is_success() {
            return Err(fetch_error(Some(status.as_u16()), format!("HTTP {status}")));
        }
        let body = response.body;
        if body.len() > MAX_DOCUMENT {
            return Err(fetch_error(
                Some(status.as_u16()),
                "document larger than 1 MiB".to_owned(),
            ));
        }
        serde_json::from_slice(&body).map_err(|e| Error::Document {
            url: url.to_owned(),
            path: "$".to_owned(),
            rule: format!("not the expected JSON object: {e}"),
        })
    }
}

/// The `jwks_uri` must be an http(s) URL, and https when the OpenID configuration came over https
/// (a downgrade would let anyone on the path substitute the keys).
fn check_jwks_uri(openid_config_url: &str, jwks_uri: &str) -> Result<()> {
    let scheme = |url: &str| url::Url::parse(url).ok().map(|u| u.scheme().to_owned());
    let jwks_scheme = scheme(jwks_uri);
    let rule = if !matches!(jwks_scheme.as_deref(), Some("http" | "https")) {
        format!("must be an http(s) URL, got {jwks_uri:?}")
    } else if scheme(openid_config_url).as_deref() == Some("https")
        && jwks_scheme.as_deref() != Some("https")
    {
        format!(
            "must be https like the OpenID configuration, got {jwks_uri:?} (a downgrade to http is refused)"
        )
    } else {
        return Ok(());
    };
    Err(Error::Document {
        url: openid_config_url.to_owned(),
        path: "$.jwks_uri".to_owned(),
        rule,
    })
}

/// Keeps the RSA signing keys usable for RS256 that have a `kid`.
fn parse_keys(url: &str, jwks: Jwks) -> Result<Keys> {
    let document_error = |path: String, rule: &str| Error::Document {
        url: url.to_owned(),
        path,
        rule: rule.to_owned(),
    };
    let keys = jwks
        .keys
        .ok_or_else(|| document_error("$.keys".to_owned(), "required array is missing"))?;
    let mut out = HashMap::new();
    for (i, jwk) in keys.into_iter().enumerate() {
        if jwk.kty.as_deref() != Some("RSA")
            || jwk.use_.as_deref().is_some_and(|u| u != "sig")
            || jwk.alg.as_deref().is_some_and(|a| a != "RS256")
        {
            continue;
        }
        let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else {
            tracing::warn!(index = i, "skipping an RSA key without kid, n or e");
            continue;
        };
        match VerifyingKey::from_components(&n, &e) {
            Ok(key) => {
                let key = PublishedKey {
                    verifying: Arc::new(key),
                    components: (n, e),
                };
                out.insert(kid, key);
            }
            Err(error) => tracing::warn!(index = i, %error, "skipping an unusable RSA key"),
        }
    }
    if out.is_empty() {
        return Err(document_error(
            "$.keys".to_owned(),
            "no RSA signing key with a kid usable for RS256",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwks(json: &str) -> Result<Keys> {
        parse_keys(
            "http://keys",
            serde_json::from_str(json).map_err(|e| Error::Document {
                url: String::new(),
                path: "$".into(),
                rule: e.to_string(),
            })?,
        )
    }

    #[test]
    fn keeps_only_rsa_signing_keys_with_kid() {
        // n and e of a tiny toy modulus are enough to build a key; nothing is verified here.
        let keys = jwks(
            r#"{"keys":[
                {"kty":"RSA","kid":"a","use":"sig","alg":"RS256","n":"AQAB","e":"AQAB"},
                {"kty":"RSA","kid":"b","use":"enc","n":"AQAB","e":"AQAB"},
                {"kty":"RSA","kid":"c","alg":"RS512","n":"AQAB","e":"AQAB"},
                {"kty":"EC","kid":"d","x":"AA","y":"AA"},
                {"kty":"RSA","use":"sig","n":"AQAB","e":"AQAB"},
                {"kty":"RSA","kid":"f","n":"AQAB","e":"AQAB","endorsements":["msteams"]}
            ]}"#,
        )
        .map(|k| {
            let mut kids: Vec<_> = k.keys().cloned().collect();
            kids.sort();
            kids
        });
        assert_eq!(keys.ok(), Some(vec!["a".to_owned(), "f".to_owned()]));
    }

    #[test]
    fn a_jwks_uri_downgraded_to_http_is_refused() {
        let https = "https://login.example/v1/.well-known/OpenIdConfiguration";
        let http = "http://127.0.0.1:4000/v1/.well-known/OpenIdConfiguration";
        assert!(check_jwks_uri(https, "https://login.example/keys").is_ok());
        assert!(check_jwks_uri(http, "http://127.0.0.1:4000/keys").is_ok());
        assert!(check_jwks_uri(http, "https://login.example/keys").is_ok());
        let error = check_jwks_uri(https, "http://login.example/keys")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("invalid document from https://login.example/v1/.well-known/OpenIdConfiguration: $.jwks_uri: must be https like the OpenID configuration, got \"http://login.example/keys\" (a downgrade to http is refused)")
        );
        assert!(check_jwks_uri(https, "HTTP://login.example/keys").is_err());
        assert!(check_jwks_uri(https, "HTTPS://login.example/keys").is_ok());
        assert!(check_jwks_uri(https, "ftp://login.example/keys").is_err());
    }

    #[test]
    fn an_empty_key_set_is_an_error_naming_the_path() {
        let error = jwks(r#"{"keys":[]}"#).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("invalid document from http://keys: $.keys: no RSA signing key with a kid usable for RS256")
        );
        let error = jwks(r#"{}"#).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("invalid document from http://keys: $.keys: required array is missing")
        );
    }
}
