//! [`GraphCommsClient`]: sends transfers to Graph with auth, ids, retries and typed errors.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use graph_comms_model::TransferRequestBody;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use url::Url;

use crate::auth::TokenProvider;
use crate::cloud::BaseUrl;
use crate::error::{Error, GraphError, Result};
use crate::options::HttpOptions;
use crate::pipeline::{
    check_secure, Idempotency, Pipeline, Received, Redirects, CLIENT_REQUEST_ID,
};
use crate::retry::retry_after;
use crate::transport::{HttpRequest, HttpResponse, Transport};

/// `User-Agent` and `SdkVersion`: this crate and its version.
pub(crate) const USER_AGENT: &str = concat!("graph-comms-transport/", env!("CARGO_PKG_VERSION"));

/// The transport used when none is given: reqwest, with the `reqwest` feature.
pub(crate) fn default_transport() -> Result<Arc<dyn Transport>> {
    #[cfg(feature = "reqwest")]
    {
        Ok(Arc::new(crate::ReqwestTransport::new()?))
    }
    #[cfg(not(feature = "reqwest"))]
    {
        Err(Error::Transport(crate::TransportError::new(
            crate::TransportErrorKind::Other,
            "no transport given, and the `reqwest` feature is off",
        )))
    }
}

/// A random (v4) UUID from the thread-local generator: no system call per request.
pub(crate) fn new_request_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut buffer = uuid::Uuid::encode_buffer();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut buffer)
        .to_owned()
}

/// The headers of one request: the bearer token (marked sensitive), the JSON content type when
/// there is a body, `client-request-id`, and the SDK's name and version.
#[inline(never)]
fn request_headers(token: &str, client_request_id: &str, has_body: bool) -> Result<HeaderMap> {
    let mut headers = HeaderMap::with_capacity(8);
    let mut bearer = String::with_capacity(7 + token.len());
    bearer.push_str("Bearer ");
    bearer.push_str(token);
    let mut auth = HeaderValue::try_from(bearer).map_err(|_| Error::InvalidHeader {
        name: "Authorization",
        reason: "the token is not visible ASCII".into(),
    })?;
    auth.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, auth);
    if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(client_request_id) {
        headers.insert(CLIENT_REQUEST_ID, v);
    }
    headers.insert(SDK_VERSION, HeaderValue::from_static(USER_AGENT));
    headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    Ok(headers)
}

/// A success: the ids Graph gave (else the `client-request-id` sent), and the body unless it
/// was dropped for being longer than the limit.
#[inline(never)]
fn accepted(received: Received, client_request_id: String) -> (Accepted, Option<Bytes>) {
    let response = received.response;
    let header = |name: &HeaderName| {
        let value = response.headers.get(name)?;
        value.to_str().ok().map(str::to_owned)
    };
    let accepted = Accepted {
        status: response.status,
        request_id: header(&REQUEST_ID),
        client_request_id: header(&CLIENT_REQUEST_ID).unwrap_or(client_request_id),
        date: header(&header::DATE),
    };
    let body = (!received.body_dropped).then_some(response.body);
    (accepted, body)
}

/// Graph's request id, in its answers.
const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
/// The SDK's name and version, as Microsoft's SDKs send it.
const SDK_VERSION: HeaderName = HeaderName::from_static("sdkversion");

/// Graph's answer to a request it accepted (202 for a transfer): the ids to quote to Microsoft
/// support and the time Graph gave.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// The status (202 for a transfer).
    pub status: StatusCode,
    /// Graph's `request-id` header.
    pub request_id: Option<String>,
    /// The `client-request-id` Graph echoed, else the one this client sent.
    pub client_request_id: String,
    /// The `Date` header, as Graph gave it.
    pub date: Option<String>,
}

impl Accepted {
    /// The `Date` header as a time, when it is a valid HTTP date.
    pub fn date_time(&self) -> Option<SystemTime> {
        self.date
            .as_deref()
            .and_then(|d| httpdate::parse_http_date(d).ok())
    }
}

/// A Graph cloud-communications client: `transfer` a call, with authentication per tenant,
/// a `client-request-id` per logical request, retries that never transfer twice, redirects
/// followed safely, and Graph's errors typed.
///
/// Cloning is cheap and shares the transport and token cache; [`with_tenant`](Self::with_tenant)
/// gives a clone bound to another tenant.
///
/// # Example: against a local emulator
///
/// ```no_run
/// # async fn demo() -> graph_comms_transport::Result<()> {
/// use std::sync::Arc;
/// use graph_comms_transport::{BaseUrl, ClientCredential, ClientCredentials, GraphCommsClient};
///
/// let tokens = ClientCredentials::builder("bot-app-id", ClientCredential::Secret("s3cret".into()))
///     .authority_host("http://127.0.0.1:8080")? // token URL: {root}/{tenant}/oauth2/v2.0/token
///     .build()?;
/// let client = GraphCommsClient::builder(Arc::new(tokens))
///     .base_url(BaseUrl::parse("http://127.0.0.1:8080/v1.0")?)
///     .tenant("72f988bf-86f1-41af-91ab-2d7cd011db47")
///     .build()?;
/// let body: graph_comms_model::TransferRequestBody = serde_json::from_str(
///     r#"{"transferTarget":{"identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f"}}}}"#,
/// )?;
/// let accepted = client.transfer("341a0500-d4bf-4224-8b19-1581168d328b", &body).await?;
/// println!("accepted, request-id {:?}", accepted.request_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GraphCommsClient {
    inner: Arc<Inner>,
    tenant: Option<Arc<str>>,
}

struct Inner {
    base: BaseUrl,
    tokens: Arc<dyn TokenProvider>,
    pipeline: Pipeline,
}

impl fmt::Debug for GraphCommsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphCommsClient")
            .field("base", &self.inner.base)
            .field("tenant", &self.tenant)
            .field("tokens", &self.inner.tokens)
            .field("transport", &self.inner.pipeline.transport)
            .field("retry", &self.inner.pipeline.retry)
            .finish()
    }
}

/// Builds a [`GraphCommsClient`].
#[derive(Debug)]
pub struct GraphCommsClientBuilder {
    tokens: Arc<dyn TokenProvider>,
    base: BaseUrl,
    tenant: Option<String>,
    http: HttpOptions,
    max_redirects: u32,
}

impl GraphCommsClientBuilder {
    crate::options::http_option_setters!();

    /// The API root (default `https://graph.microsoft.com/v1.0`).
    pub fn base_url(mut self, base: BaseUrl) -> Self {
        self.base = base;
        self
    }

    /// The tenant whose token is used (default: the token provider's own default).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Redirects followed per attempt (default 5). Only same-origin redirects are ever
    /// followed, and for a POST or DELETE only 307 and 308.
    pub fn max_redirects(mut self, max: u32) -> Self {
        self.max_redirects = max;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::InvalidTenant`] for a tenant that cannot be used; [`Error::InsecureUrl`] for a
    /// base URL on plain http to a host other than loopback (the bearer token would travel in
    /// clear); [`Error::Transport`] when no transport was given and the default cannot be
    /// built.
    pub fn build(self) -> Result<GraphCommsClient> {
        if let Some(t) = &self.tenant {
            crate::auth::check_tenant(t)?;
        }
        let root = Url::parse(self.base.as_str()).map_err(|e| Error::InvalidUrl {
            url: self.base.as_str().to_owned(),
            reason: e.to_string(),
        })?;
        check_secure(&root, "a bearer token")?;
        let pipeline = self
            .http
            .into_pipeline(self.max_redirects, Redirects::SameOrigin)?;
        Ok(GraphCommsClient {
            inner: Arc::new(Inner {
                base: self.base,
                tokens: self.tokens,
                pipeline,
            }),
            tenant: self.tenant.map(Arc::from),
        })
    }
}

impl GraphCommsClient {
    /// Starts a client that authenticates with `tokens`.
    pub fn builder(tokens: Arc<dyn TokenProvider>) -> GraphCommsClientBuilder {
        GraphCommsClientBuilder {
            tokens,
            base: BaseUrl::default(),
            tenant: None,
            http: HttpOptions::default(),
            max_redirects: 5,
        }
    }

    /// A clone that sends with `tenant`'s token (shares transport and token cache).
    ///
    /// # Errors
    /// [`Error::InvalidTenant`] for a tenant that cannot be used.
    pub fn with_tenant(&self, tenant: &str) -> Result<Self> {
        crate::auth::check_tenant(tenant)?;
        Ok(Self {
            inner: self.inner.clone(),
            tenant: Some(Arc::from(tenant)),
        })
    }

    /// The API root in use.
    pub fn base_url(&self) -> &BaseUrl {
        &self.inner.base
    }

    /// The tenant in use, if set.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The URL a transfer of `call_id` is sent to.
    ///
    /// # Errors
    /// [`Error::InvalidCallId`] for an id that cannot be a path segment.
    pub fn transfer_url(&self, call_id: &str) -> Result<Url> {
        self.inner.base.transfer_url(call_id)
    }

    /// Transfers the call `call_id`: `POST {base}/communications/calls/{id}/transfer` with `body`
    /// as JSON. `Ok` means Graph accepted it (202); the outcome comes later, as notifications.
    ///
    /// # Errors
    /// A typed [`Error`]: [`Error::Unauthorized`], [`Error::Forbidden`], [`Error::NotFound`],
    /// [`Error::Throttled`], [`Error::BadRequest`], [`Error::Server`] when Graph refused;
    /// [`Error::OutcomeUnknown`] when it may have acted (504, timeout, connection lost after
    /// sending); [`Error::Transport`] when nothing could be sent; auth errors from the token
    /// provider.
    pub async fn transfer(&self, call_id: &str, body: &TransferRequestBody) -> Result<Accepted> {
        let json = graph_comms_transfer::to_json_vec(body)?;
        self.transfer_json(call_id, Bytes::from(json)).await
    }

    /// [`transfer`](Self::transfer) with a body already serialized as JSON, sent as it is.
    ///
    /// # Errors
    /// As [`transfer`](Self::transfer).
    pub async fn transfer_json(&self, call_id: &str, json: Bytes) -> Result<Accepted> {
        let url = self.transfer_url(call_id)?;
        let response = self
            .send(Method::POST, url, Some(json), Idempotency::Unsafe)
            .await?;
        Ok(response)
    }

    /// Reads the call `call_id` (`GET {base}/communications/calls/{id}`), for instance to learn
    /// what became of a transfer whose outcome is unknown. Reads are safe to repeat, so they are
    /// also retried after timeouts and 5xx.
    ///
    /// # Errors
    /// As [`transfer`](Self::transfer) (a 504 or a timeout is [`Error::Transport`] or a
    /// [`Error::Server`] after its retries rather than "outcome unknown": reading twice is
    /// harmless); a body that is not a call is [`Error::Decode`].
    pub async fn get_call(&self, call_id: &str) -> Result<graph_comms_model::Call> {
        let url = self.inner.base.call_url(call_id)?;
        let (_, body) = self
            .send_raw(Method::GET, url, None, Idempotency::Safe)
            .await?;
        serde_json::from_slice(&body).map_err(Error::Decode)
    }

    /// Sends one logical request whose response body is not needed (a body past the limit
    /// was dropped, and a success stays a success).
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        idempotency: Idempotency,
    ) -> Result<Accepted> {
        self.exchange(method, url, body, idempotency)
            .await
            .map(|(a, _)| a)
    }

    /// Sends one logical request and returns the success response's body.
    ///
    /// # Errors
    /// As [`exchange`](Self::exchange), and [`Error::ResponseTooLarge`] when the body was
    /// longer than the limit.
    pub(crate) async fn send_raw(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        idempotency: Idempotency,
    ) -> Result<(Accepted, Bytes)> {
        let (accepted, body) = self.exchange(method, url, body, idempotency).await?;
        match body {
            Some(body) => Ok((accepted, body)),
            None => Err(Error::ResponseTooLarge {
                status: accepted.status.as_u16(),
                limit: self.inner.pipeline.max_response_body,
            }),
        }
    }

    /// Sends one logical request through auth, ids, retries and redirects, and types the
    /// outcome. The body is `None` when it was dropped for being longer than the limit.
    async fn exchange(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        idempotency: Idempotency,
    ) -> Result<(Accepted, Option<Bytes>)> {
        // Before a token is asked for: none is fetched for a URL it could not be sent to.
        check_secure(&url, "a bearer token")?;
        let tenant = self.tenant.as_deref().unwrap_or("");
        let token = self.inner.tokens.token(tenant).await?;
        let client_request_id = new_request_id();
        let request = HttpRequest {
            headers: request_headers(token.secret(), &client_request_id, body.is_some())?,
            method,
            url,
            body: body.unwrap_or_default(),
        };
        let received = self.inner.pipeline.execute(request, idempotency).await?;
        if received.response.status.is_success() {
            return Ok(accepted(received, client_request_id));
        }
        Err(self.refused(tenant, &received.response, &client_request_id))
    }

    /// Graph's refusal, typed; a 401 also drops the tenant's cached token.
    #[cold]
    #[inline(never)]
    fn refused(&self, tenant: &str, response: &HttpResponse, client_request_id: &str) -> Error {
        if response.status == StatusCode::UNAUTHORIZED {
            self.inner.tokens.invalidate(tenant);
        }
        Error::from_status(GraphError::from_response(
            response,
            Some(client_request_id),
            retry_after(response),
        ))
    }
}
