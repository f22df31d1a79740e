//! The OAuth 2.0 client-credentials flow against Azure AD (or an emulator), cached per tenant.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method};
use serde::Deserialize;
use url::Url;

use super::{check_tenant, AccessToken, ClientCertificate, Secret, TokenProvider};
use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::options::HttpOptions;
use crate::pipeline::{
    check_secure, shown_header, Idempotency, Pipeline, Redirects, CLIENT_REQUEST_ID,
};
use crate::transport::HttpRequest;

/// How the app proves who it is to the token endpoint.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClientCredential {
    /// A client secret (`client_secret`).
    Secret(Secret),
    /// A certificate: a signed client assertion (`client_assertion`).
    Certificate(ClientCertificate),
}

/// A [`TokenProvider`] using the client-credentials grant:
/// `POST {authority}/{tenant}/oauth2/v2.0/token`.
///
/// The client secret or assertion goes to the authority and nowhere else: token requests never
/// follow redirects (a 3xx is [`Error::TokenRedirect`], as in Microsoft's identity libraries),
/// and an authority on plain http is refused unless it is a loopback address (a local
/// emulator).
///
/// Tokens are cached per tenant until [`refresh_margin`](ClientCredentialsBuilder::refresh_margin)
/// before they expire; however many tasks ask for one tenant at once, one request is made and
/// the others wait for its token. Cloning shares the cache.
///
/// ```no_run
/// # async fn demo() -> graph_comms_transport::Result<()> {
/// use graph_comms_transport::{ClientCredential, ClientCredentials, TokenProvider};
///
/// // Azure AD, global cloud:
/// let aad = ClientCredentials::builder("app-id", ClientCredential::Secret("s3cret".into()))
///     .build()?;
/// // A local emulator whose token endpoint is http://127.0.0.1:8080/{tenant}/oauth2/v2.0/token:
/// let local = ClientCredentials::builder("app-id", ClientCredential::Secret("s3cret".into()))
///     .authority_host("http://127.0.0.1:8080")?
///     .build()?;
/// let token = local.token("72f988bf-86f1-41af-91ab-2d7cd011db47").await?;
/// # let _ = (aad, token); Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientCredentials {
    inner: Arc<Inner>,
}

struct Inner {
    client_id: String,
    credential: ClientCredential,
    authority: Url,
    scope: String,
    home_tenant: Option<String>,
    refresh_margin: Duration,
    pipeline: Pipeline,
    cache: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<AccessToken>>>>>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.inner.client_id)
            .field("credential", &self.inner.credential)
            .field("authority", &self.inner.authority.as_str())
            .field("scope", &self.inner.scope)
            .field("home_tenant", &self.inner.home_tenant)
            .finish_non_exhaustive()
    }
}

/// Builds [`ClientCredentials`].
#[derive(Debug)]
pub struct ClientCredentialsBuilder {
    client_id: String,
    credential: ClientCredential,
    authority: Option<Url>,
    scope: Option<String>,
    cloud: Cloud,
    home_tenant: Option<String>,
    refresh_margin: Duration,
    http: HttpOptions,
}

fn parse_authority(host: &str) -> Result<Url> {
    let url = Url::parse(host).map_err(|e| Error::InvalidUrl {
        url: host.to_owned(),
        reason: e.to_string(),
    })?;
    if url.scheme() != "http" && url.scheme() != "https" || url.host_str().is_none() {
        return Err(Error::InvalidUrl {
            url: host.to_owned(),
            reason: "authority host must be an http or https URL".into(),
        });
    }
    check_secure(&url, "the client secret or assertion")?;
    Ok(url)
}

impl ClientCredentialsBuilder {
    crate::options::http_option_setters!();

    /// Uses `cloud`'s authority host and scope (unless set explicitly). Default: global.
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// The authority host, such as `https://login.microsoftonline.us` or an emulator's root;
    /// tokens are requested at `{authority}/{tenant}/oauth2/v2.0/token`.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when it is not an http(s) URL; [`Error::InsecureUrl`] for plain
    /// http to a host other than loopback (the credentials would travel in clear).
    pub fn authority_host(mut self, host: &str) -> Result<Self> {
        self.authority = Some(parse_authority(host)?);
        Ok(self)
    }

    /// The scope asked for (default: the cloud's, e.g. `https://graph.microsoft.com/.default`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The tenant used when the client asks for the default (empty) tenant.
    pub fn home_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.home_tenant = Some(tenant.into());
        self
    }

    /// How long before expiry a cached token is replaced (default 5 minutes).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Builds the provider.
    ///
    /// # Errors
    /// [`Error::InvalidTenant`] for a bad home tenant; [`Error::Transport`] when no transport
    /// was given and the default cannot be built.
    pub fn build(self) -> Result<ClientCredentials> {
        if let Some(t) = &self.home_tenant {
            check_tenant(t)?;
        }
        let authority = match self.authority {
            Some(a) => a,
            None => parse_authority(self.cloud.authority_host())?,
        };
        let pipeline = self.http.into_pipeline(0, Redirects::Never)?;
        Ok(ClientCredentials {
            inner: Arc::new(Inner {
                client_id: self.client_id,
                credential: self.credential,
                authority,
                scope: self.scope.unwrap_or_else(|| self.cloud.scope().to_owned()),
                home_tenant: self.home_tenant,
                refresh_margin: self.refresh_margin,
                pipeline,
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TokenErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
    correlation_id: Option<String>,
}

impl ClientCredentials {
    /// Starts a provider for the app `client_id` proving itself with `credential`.
    pub fn builder(
        client_id: impl Into<String>,
        credential: ClientCredential,
    ) -> ClientCredentialsBuilder {
        ClientCredentialsBuilder {
            client_id: client_id.into(),
            credential,
            authority: None,
            scope: None,
            cloud: Cloud::Global,
            home_tenant: None,
            refresh_margin: Duration::from_secs(300),
            http: HttpOptions::default(),
        }
    }

    /// A builder from the usual environment: `AZURE_TENANT_ID` (the home tenant),
    /// `AZURE_CLIENT_ID`, and `AZURE_CLIENT_SECRET` or `AZURE_CLIENT_CERTIFICATE_PATH` (a PEM
    /// with certificate and unencrypted key; the secret wins when both are set), plus an
    /// optional `AZURE_AUTHORITY_HOST`.
    ///
    /// # Errors
    /// [`Error::Credentials`] naming the variable that is missing, or a certificate that cannot
    /// be read.
    pub fn from_env() -> Result<ClientCredentialsBuilder> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) reading variables through `lookup` (for tests, or other
    /// configuration sources).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_env_with(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ClientCredentialsBuilder> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let require = |name: &str| {
            get(name).ok_or_else(|| {
                Error::Credentials(format!("environment variable {name} is not set"))
            })
        };
        let tenant = require("AZURE_TENANT_ID")?;
        let client_id = require("AZURE_CLIENT_ID")?;
        let credential = if let Some(secret) = get("AZURE_CLIENT_SECRET") {
            ClientCredential::Secret(Secret::new(secret))
        } else if let Some(path) = get("AZURE_CLIENT_CERTIFICATE_PATH") {
            if get("AZURE_CLIENT_CERTIFICATE_PASSWORD").is_some() {
                return Err(Error::Credentials(
                    "AZURE_CLIENT_CERTIFICATE_PASSWORD is set, but only unencrypted PEM certificates are supported".into(),
                ));
            }
            ClientCredential::Certificate(ClientCertificate::from_pem_file(path)?)
        } else {
            return Err(Error::Credentials(
                "neither AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH is set".into(),
            ));
        };
        let mut builder = Self::builder(client_id, credential).home_tenant(tenant);
        if let Some(host) = get("AZURE_AUTHORITY_HOST") {
            builder = builder.authority_host(&host)?;
        }
        Ok(builder)
    }

    /// The app's client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The home tenant, if one was set.
    pub fn home_tenant(&self) -> Option<&str> {
        self.inner.home_tenant.as_deref()
    }

    /// The token URL for `tenant`: `{authority}/{tenant}/oauth2/v2.0/token`.
    ///
    /// # Errors
    /// [`Error::InvalidTenant`] for a tenant that cannot be a path segment.
    pub fn token_url(&self, tenant: &str) -> Result<Url> {
        check_tenant(tenant)?;
        let base = self.inner.authority.as_str().trim_end_matches('/');
        let s = format!("{base}/{tenant}/oauth2/v2.0/token");
        Url::parse(&s).map_err(|e| Error::InvalidUrl {
            url: s,
            reason: e.to_string(),
        })
    }

    /// The form body of a token request (built apart: the serializer is not `Send`).
    fn form(&self, assertion: Option<&str>) -> String {
        let inner = &self.inner;
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &inner.client_id)
            .append_pair("scope", &inner.scope);
        match (&inner.credential, assertion) {
            (ClientCredential::Secret(s), _) => {
                form.append_pair("client_secret", s.expose());
            }
            (ClientCredential::Certificate(_), assertion) => {
                form.append_pair(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .append_pair("client_assertion", assertion.unwrap_or_default());
            }
        }
        form.finish()
    }

    fn slot(&self, tenant: &str) -> Arc<tokio::sync::Mutex<Option<AccessToken>>> {
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(tenant.to_ascii_lowercase())
            .or_default()
            .clone()
    }

    async fn fetch(&self, tenant: &str) -> Result<AccessToken> {
        let inner = &self.inner;
        let url = self.token_url(tenant)?;
        let assertion = match &inner.credential {
            ClientCredential::Secret(_) => None,
            ClientCredential::Certificate(c) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                Some(c.assertion(&inner.client_id, url.as_str(), now)?)
            }
        };
        let form = self.form(assertion.as_deref());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(crate::client::USER_AGENT),
        );
        if let Ok(v) = HeaderValue::from_str(&crate::client::new_request_id()) {
            headers.insert(CLIENT_REQUEST_ID, v);
        }
        let request = HttpRequest {
            method: Method::POST,
            url,
            headers,
            body: Bytes::from(form),
        };
        tracing::debug!(tenant, "requesting a token");
        let received = inner.pipeline.execute(request, Idempotency::Safe).await?;
        let response = received.response;
        if response.status.is_redirection() {
            return Err(Error::TokenRedirect {
                tenant: tenant.to_owned(),
                status: response.status.as_u16(),
                location: shown_header(&response, "location"),
            });
        }
        if !response.status.is_success() {
            let parsed = serde_json::from_slice::<TokenErrorResponse>(&response.body).ok();
            let (error, description, correlation_id) = match parsed {
                Some(p) => (p.error, p.error_description, p.correlation_id),
                None => (None, None, None),
            };
            return Err(Error::TokenRequest {
                tenant: tenant.to_owned(),
                status: response.status.as_u16(),
                error,
                description,
                correlation_id,
            });
        }
        let invalid = |reason: &str| Error::InvalidTokenResponse {
            tenant: tenant.to_owned(),
            reason: reason.to_owned(),
        };
        if received.body_dropped {
            return Err(invalid(&format!(
                "the body is longer than the limit of {} bytes",
                inner.pipeline.max_response_body
            )));
        }
        let parsed: TokenResponse = serde_json::from_slice(&response.body)
            .map_err(|e| invalid(&format!("not a JSON token response: {e}")))?;
        let token = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("no access_token"))?;
        if let Some(kind) = &parsed.token_type {
            if !kind.eq_ignore_ascii_case("bearer") {
                return Err(invalid(&format!("token_type is {kind:?}, not Bearer")));
            }
        }
        // Azure AD v2 gives a number, v1 a numeric string; without it, do not cache.
        let expires_in = match parsed.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
            _ => None,
        }
        .unwrap_or(0);
        Ok(AccessToken::new(
            token,
            Some(Duration::from_secs(expires_in)),
        ))
    }
}

#[async_trait]
impl TokenProvider for ClientCredentials {
    async fn token(&self, tenant: &str) -> Result<AccessToken> {
        let tenant = if tenant.is_empty() {
            self.inner.home_tenant.as_deref().ok_or_else(|| {
                Error::Credentials("no tenant given and no home tenant configured".into())
            })?
        } else {
            tenant
        };
        check_tenant(tenant)?;
        let slot = self.slot(tenant);
        // One refresh at a time per tenant: the others wait here and then find the new token.
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref() {
            if token.is_fresh(self.inner.refresh_margin) {
                return Ok(token.clone());
            }
        }
        let token = self.fetch(tenant).await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    fn invalidate(&self, tenant: &str) {
        let tenant = if tenant.is_empty() {
            match &self.inner.home_tenant {
                Some(t) => t.as_str(),
                None => return,
            }
        } else {
            tenant
        };
        let slot = self.slot(tenant);
        // A refresh in progress will store a new token anyway.
        let locked = slot.try_lock();
        if let Ok(mut cached) = locked {
            *cached = None;
        }
    }
}
