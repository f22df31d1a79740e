//! The Graph API the emulator serves under `/v1.0` and `/beta`, one module per resource:
//! [`calls`] (create, get, delete, answer, reject, redirect, transfer), [`participants`] (list,
//! hold music), [`operations`] (prompts, and the `commsOperation` notifications of actions), and
//! [`tokens`] (the bearer-token extractor every route starts with).
//!
//! Handlers take what they need as extractors ([`tokens::Authorized`] first; a route on one call
//! takes [`OnCall`], which checks it and then reads the call's id) and return
//! `Result<_, GraphError>`; the `request-id` stamp is a layer ([`crate::error::stamp`]).

pub(crate) mod calls;
pub(crate) mod operations;
pub(crate) mod participants;
pub(crate) mod tokens;

use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{Map, Value};

pub(crate) use graph_comms_transfer::json_type;

use crate::auth::json_response;
use crate::error::GraphError;
use crate::state::Shared;

/// Which API version a request came in on (`v1.0` or `beta`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApiVersion(pub(crate) &'static str);

/// The routes of one API version.
pub(crate) fn router(version: &'static str) -> Router<Arc<Shared>> {
    Router::new()
        .route("/communications/calls", post(calls::create))
        .route(
            "/communications/calls/{id}",
            get(calls::get).delete(calls::delete),
        )
        .route("/communications/calls/{id}/answer", post(calls::answer))
        .route("/communications/calls/{id}/reject", post(calls::reject))
        .route("/communications/calls/{id}/redirect", post(calls::redirect))
        .route(
            "/communications/calls/{id}/playPrompt",
            post(operations::play_prompt),
        )
        .route("/communications/calls/{id}/transfer", post(calls::transfer))
        .route("/app/calls/{id}/transfer", post(calls::transfer))
        .route(
            "/communications/calls/{id}/participants",
            get(participants::list),
        )
        .route(
            "/communications/calls/{id}/participants/{pid}/startHoldMusic",
            post(participants::start_hold_music),
        )
        .route(
            "/communications/calls/{id}/participants/{pid}/stopHoldMusic",
            post(participants::stop_hold_music),
        )
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(ApiVersion(version)))
}

/// A known path with a method it does not serve.
async fn method_not_allowed() -> GraphError {
    GraphError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The HTTP method is not allowed on this resource.",
    )
}

/// Any other path under `/v1.0` or `/beta`.
async fn fallback() -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "Resource not found for the segment: the emulator serves communications/calls, its answer, reject, redirect, transfer and playPrompt actions, its participants and their startHoldMusic/stopHoldMusic, and app/calls/{id}/transfer.",
    )
}

/// The request body as one JSON object ([`parse_object`]), for the handlers whose first step is
/// reading it; a body axum refuses keeps axum's rejection.
pub(crate) struct JsonObject(pub(crate) Map<String, Value>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for JsonObject {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = bytes::Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        parse_object(&body)
            .map(JsonObject)
            .map_err(IntoResponse::into_response)
    }
}

/// A request on one call (`…/calls/{id}…`): the caller [`Authorized`](tokens::Authorized) for
/// `R` first (`401`, `403`, `429`), then the call's id from the path; with the emulator's state
/// and the API version the request came in on. A path axum refuses keeps axum's rejection.
pub(crate) struct OnCall<R = tokens::InitiateCalls> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) version: &'static str,
    /// The call's id (`{id}`).
    pub(crate) id: String,
    roles: PhantomData<R>,
}

/// The call's id in a route's path; a participant's route also names the participant (`{pid}`),
/// which the handler extracts itself.
#[derive(serde::Deserialize)]
struct CallPath {
    id: String,
}

impl<R: tokens::Roles + Send + Sync> FromRequestParts<Arc<Shared>> for OnCall<R> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        tokens::Authorized::<R>::from_request_parts(parts, shared)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(CallPath { id }) = Path::<CallPath>::from_request_parts(parts, shared)
            .await
            .map_err(IntoResponse::into_response)?;
        let Extension(ApiVersion(version)) =
            Extension::<ApiVersion>::from_request_parts(parts, shared)
                .await
                .map_err(IntoResponse::into_response)?;
        Ok(OnCall {
            shared: Arc::clone(shared),
            version,
            id,
            roles: PhantomData,
        })
    }
}

impl<R> OnCall<R> {
    /// The emulator's calls, locked.
    pub(crate) fn calls(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, crate::state::CallRecord>>
    {
        self.shared.calls()
    }

    /// An operation's answer on this call: `status` with the operation, and `Location` naming it
    /// (`…/calls/{id}/operations/{opId}`).
    pub(crate) fn operation_response(&self, status: StatusCode, op: &Value) -> Response {
        let mut resp = json_response(status, op);
        let location = format!(
            "{}/{}/communications/calls/{}/operations/{}",
            self.shared.root_url,
            self.version,
            self.id,
            op["id"].as_str().unwrap_or_default()
        );
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp
    }
}

/// Parses a request body as one JSON object (`400` otherwise, naming line and column).
pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, GraphError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(GraphError::bad_request(
            "Empty request body: a JSON object is required.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(GraphError::bad_request(format!(
            "The request body must be a JSON object, found {}.",
            json_type(&other)
        ))),
        Err(e) => Err(GraphError::bad_request(format!(
            "Unable to read JSON request payload: {e}."
        ))),
    }
}

/// A field that is absent and a field that is `null` are the same to Graph.
pub(crate) fn present<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

/// Checks a callback URI: an absolute `https` URL, or `http` to a loopback host.
pub(crate) fn check_callback(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or_default();
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err("plain http is allowed only to a loopback host (127.0.0.1, ::1, localhost); Graph requires https".to_owned())
            }
        }
        other => Err(format!("scheme `{other}` is not https")),
    }
}

/// Checks an `identity` (identitySet) holds at least one identity; `path` names it in errors.
pub(crate) fn check_identity(v: Option<&Value>, path: &str) -> Result<(), GraphError> {
    let Some(Value::Object(set)) = v.filter(|v| !v.is_null()) else {
        return Err(GraphError::bad_request(format!(
            "{path}: required; an identitySet naming the participant."
        )));
    };
    let named: Vec<(&String, &Value)> = set
        .iter()
        .filter(|(k, v)| !k.starts_with('@') && v.is_object())
        .collect();
    if named.is_empty() {
        return Err(GraphError::bad_request(format!(
            "{path}: the identitySet names no identity (expected e.g. `user`, `phone`, `application`)."
        )));
    }
    for (k, v) in named {
        if k == "phone" {
            let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
            if !is_e164(id) {
                return Err(GraphError::bad_request(format!(
                    "{path}.phone.id: {id:?} is not a phone number in E.164 format (`+` and 1 to 15 digits)."
                )));
            }
        }
    }
    Ok(())
}

fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| {
        (1..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// A `callbackUri` in an action's body, checked (`None` when absent or `null`).
pub(crate) fn callback_field(m: &Map<String, Value>) -> Result<Option<String>, GraphError> {
    let Some(uri) = present(m, "callbackUri") else {
        return Ok(None);
    };
    let uri = uri
        .as_str()
        .ok_or_else(|| GraphError::bad_request("callbackUri: expected a string."))?;
    check_callback(uri)
        .map_err(|why| GraphError::bad_request(format!("callbackUri: {uri:?}: {why}.")))?;
    Ok(Some(uri.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_plain_http_only_on_loopback() {
        assert!(check_callback("https://bot.contoso.com/api/calls").is_ok());
        assert!(check_callback("http://127.0.0.1:8080/cb").is_ok());
        assert!(check_callback("http://[::1]:8080/cb").is_ok());
        assert!(check_callback("http://localhost/cb").is_ok());
        assert!(check_callback("http://bot.contoso.com/cb")
            .unwrap_err()
            .contains("loopback"));
        assert!(check_callback("ftp://127.0.0.1/")
            .unwrap_err()
            .contains("scheme"));
        assert!(check_callback("/relative").is_err());
    }

    #[test]
    fn e164() {
        assert!(is_e164("+12345678901"));
        assert!(!is_e164("12345678901"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+1-234"));
    }

    #[test]
    fn bad_json_names_the_position() {
        let e = parse_object(b"{\"a\": 1,}").unwrap_err();
        assert!(e.message.contains("line 1"), "{}", e.message);
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = parse_object(b"[1]").unwrap_err();
        assert!(e.message.contains("an array"));
    }
}
