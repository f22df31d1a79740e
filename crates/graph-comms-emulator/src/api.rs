//! The Graph API the emulator serves under `/v1.0` and `/beta`: calls, answer, transfer.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::auth::{authorize, json_response, AccessClaims};
use crate::error::{GraphError, RequestIds};
use crate::notifications::{batch, call_state, transfer_plan, Outgoing};
use crate::script::TransferFlow;
use crate::state::Shared;

/// Which API version a request came in on (`v1.0` or `beta`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApiVersion(pub(crate) &'static str);

type ApiResult = Result<Response, GraphError>;

fn finish(ids: &RequestIds, r: ApiResult) -> Response {
    match r {
        Ok(resp) => ids.stamp(resp),
        Err(e) => {
            tracing::debug!(status = %e.status, code = e.code, message = %e.message, "Graph error answered");
            e.with_ids(ids).into_response()
        }
    }
}

/// Auth (`401`/`403`) then the global throttle (`429`).
fn preamble(shared: &Shared, headers: &HeaderMap) -> Result<AccessClaims, GraphError> {
    let claims = authorize(shared, headers)?;
    if let Some(after) = shared.take_global_throttle() {
        return Err(GraphError::throttled(after));
    }
    Ok(claims)
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
            kind(&other)
        ))),
        Err(e) => Err(GraphError::bad_request(format!(
            "Unable to read JSON request payload: {e}."
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A field that is absent and a field that is `null` are the same to Graph.
fn present<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

/// Checks a callback URI: an absolute `https` URL, or `http` to a loopback host.
pub(crate) fn check_callback(uri: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(uri).map_err(|e| format!("not an absolute URL ({e})"))?;
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

/// The id in `identity.{application|applicationInstance}.id` of a participantInfo-like object.
fn app_identity_id(v: Option<&Value>) -> Option<String> {
    let identity = v?.get("identity")?;
    ["application", "applicationInstance"]
        .iter()
        .find_map(|k| identity.get(*k)?.get("id")?.as_str().map(str::to_owned))
}

/// Checks an `identity` (identitySet) holds at least one identity; `path` names it in errors.
fn check_identity(v: Option<&Value>, path: &str) -> Result<(), GraphError> {
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
                    "{path}.phone.id: `{id}` is not a phone number in E.164 format (`+` and 1 to 15 digits)."
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

/// Fills the participantInfo fields Graph answers with `null` when they were not sent.
fn with_nulls(mut v: Value, fields: &[&str]) -> Value {
    if let Value::Object(m) = &mut v {
        for f in fields {
            m.entry(*f).or_insert(Value::Null);
        }
    }
    v
}

fn application_source(app_id: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.participantInfo",
        "identity": {
            "@odata.type": "#microsoft.graph.identitySet",
            "application": { "@odata.type": "#microsoft.graph.identity", "displayName": "Calling Bot", "id": app_id }
        },
        "countryCode": null, "endpointType": null, "region": null, "languageId": null
    })
}

/// Inputs for a new call resource.
pub(crate) struct NewCall {
    pub(crate) id: String,
    pub(crate) version: &'static str,
    pub(crate) state: &'static str,
    pub(crate) direction: &'static str,
    pub(crate) callback_uri: String,
    pub(crate) tenant_id: String,
    pub(crate) source: Value,
    pub(crate) targets: Vec<Value>,
    pub(crate) requested_modalities: Value,
    pub(crate) media_config: Value,
    pub(crate) extra: Map<String, Value>,
}

/// The call resource, as Graph answers `POST /communications/calls` (nulls included).
pub(crate) fn call_resource(shared: &Shared, c: &NewCall) -> Value {
    let mut v = json!({
        "@odata.type": "#microsoft.graph.call",
        "state": c.state,
        "direction": c.direction,
        "callbackUri": c.callback_uri,
        "callChainId": uuid::Uuid::new_v4().to_string(),
        "callRoutes": [],
        "source": c.source,
        "targets": c.targets,
        "requestedModalities": c.requested_modalities,
        "activeModalities": [],
        "mediaConfig": c.media_config,
        "routingPolicies": [],
        "tenantId": c.tenant_id,
        "myParticipantId": uuid::Uuid::new_v4().to_string(),
        "id": c.id,
        "@odata.context": format!("{}/{}/$metadata#communications/calls/$entity", shared.root_url, c.version),
        "subject": null,
        "terminationReason": null,
        "ringingTimeoutInSeconds": null,
        "mediaState": null,
        "resultInfo": null,
        "answeredBy": null,
        "chatInfo": null,
        "meetingInfo": null,
        "transcription": null,
        "meetingCapability": null,
        "toneInfo": null,
    });
    for (k, val) in &c.extra {
        v[k.as_str()] = val.clone();
    }
    v
}

/// `establishing` then `established`, with the script's delay before each.
pub(crate) fn establish_notifications(
    call_id: &str,
    direction: &str,
    tenant_id: &str,
    delay: std::time::Duration,
) -> Vec<Outgoing> {
    ["establishing", "established"]
        .into_iter()
        .map(|state| {
            let mut data = call_state(state);
            data["id"] = json!(call_id);
            if state == "established" {
                data["direction"] = json!(direction);
                data["tenantId"] = json!(tenant_id);
            }
            Outgoing {
                delay,
                body: batch(call_id, "updated", data),
                ends_transfer: false,
                apply_state: true,
            }
        })
        .collect()
}

/// `POST /{v}/communications/calls`.
pub(crate) async fn create_call(
    State(shared): State<Arc<Shared>>,
    Extension(version): Extension<ApiVersion>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ids = RequestIds::from_headers(&headers);
    let r = create_call_inner(&shared, version.0, &headers, &body);
    finish(&ids, r)
}

fn create_call_inner(
    shared: &Arc<Shared>,
    version: &'static str,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult {
    let claims = preamble(shared, headers)?;
    let m = parse_object(body)?;
    let callback_uri = match present(&m, "callbackUri") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "callbackUri: expected a string, found {}.",
                kind(other)
            )))
        }
        None => {
            return Err(GraphError::bad_request(
                "callbackUri: required; the bot's URL for notifications.",
            ))
        }
    };
    check_callback(&callback_uri)
        .map_err(|why| GraphError::bad_request(format!("callbackUri: `{callback_uri}`: {why}.")))?;
    let joins_meeting = present(&m, "meetingInfo").is_some() || present(&m, "chatInfo").is_some();
    let targets: Vec<Value> = match present(&m, "targets") {
        Some(Value::Array(a)) => a.clone(),
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "targets: expected an array, found {}.",
                kind(other)
            )))
        }
        None => Vec::new(),
    };
    if targets.is_empty() && !joins_meeting {
        return Err(GraphError::bad_request(
            "targets: at least one invitationParticipantInfo is required unless the call joins a meeting (meetingInfo/chatInfo).",
        ));
    }
    for (i, t) in targets.iter().enumerate() {
        let Value::Object(t) = t else {
            return Err(GraphError::bad_request(format!(
                "targets[{i}]: expected an invitationParticipantInfo object."
            )));
        };
        check_identity(t.get("identity"), &format!("targets[{i}].identity"))?;
    }
    let requested_modalities = match present(&m, "requestedModalities") {
        Some(Value::Array(a)) if !a.is_empty() => Value::Array(a.clone()),
        _ => {
            return Err(GraphError::bad_request(
                "requestedModalities: required; a non-empty array such as [\"audio\"].",
            ))
        }
    };
    let media_config =
        match present(&m, "mediaConfig") {
            Some(v @ Value::Object(_)) => v.clone(),
            _ => return Err(GraphError::bad_request(
                "mediaConfig: required; a serviceHostedMediaConfig or appHostedMediaConfig object.",
            )),
        };
    if let Err(e) = serde_json::from_value::<graph_comms_model::Call>(Value::Object(m.clone())) {
        return Err(GraphError::bad_request(format!(
            "The call does not match Graph's schema: {e}."
        )));
    }
    let tenant_id = present(&m, "tenantId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| claims.tid.clone());
    let app_id = app_identity_id(present(&m, "source"))
        .or_else(|| Some(claims.appid.clone()).filter(|s| !s.is_empty()))
        .or_else(|| shared.config.bot_app_id.clone())
        .unwrap_or_default();
    let group = targets.len() > 1 || joins_meeting;
    let mut participants = Vec::new();
    let targets: Vec<Value> = targets
        .into_iter()
        .map(|mut t| {
            if group {
                let pid = t
                    .get("participantId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                t["participantId"] = json!(pid);
                participants.push(json!({
                    "@odata.type": "#microsoft.graph.participantInfo",
                    "identity": t.get("identity").cloned().unwrap_or(Value::Null),
                    "participantId": pid,
                }));
            }
            with_nulls(
                t,
                &["endpointType", "region", "replacesCallId", "languageId"],
            )
        })
        .collect();
    let source = match present(&m, "source") {
        Some(s) => with_nulls(
            s.clone(),
            &["countryCode", "endpointType", "region", "languageId"],
        ),
        None => application_source(&app_id),
    };
    let mut extra = Map::new();
    for k in ["chatInfo", "meetingInfo", "subject"] {
        if let Some(v) = present(&m, k) {
            extra.insert(k.to_owned(), v.clone());
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let new = NewCall {
        id: id.clone(),
        version,
        state: "establishing",
        direction: "outgoing",
        callback_uri: callback_uri.clone(),
        tenant_id: tenant_id.clone(),
        source,
        targets,
        requested_modalities,
        media_config,
        extra,
    };
    let resource = call_resource(shared, &new);
    let script = shared.default_script();
    let delay = script.delay_before(0);
    shared.insert_call(
        id.clone(),
        tenant_id.clone(),
        app_id,
        callback_uri,
        "outgoing",
        resource.clone(),
        participants,
        group,
        script,
    );
    if let Some(rec) = shared.calls().get(&id) {
        rec.enqueue(establish_notifications(&id, "outgoing", &tenant_id, delay));
    }
    tracing::info!(call_id = %id, group, "call created");
    let mut resp = json_response(StatusCode::CREATED, &resource);
    let location = format!("{}/{version}/communications/calls/{id}", shared.root_url);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// `GET /{v}/communications/calls/{id}`.
pub(crate) async fn get_call(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ids = RequestIds::from_headers(&headers);
    let r = (|| {
        preamble(&shared, &headers)?;
        let calls = shared.calls();
        let rec = calls
            .get(&id)
            .filter(|r| !r.ending)
            .ok_or_else(|| unknown_call(&id))?;
        Ok(json_response(StatusCode::OK, &rec.resource))
    })();
    finish(&ids, r)
}

/// `GET /{v}/communications/calls/{id}/participants`.
pub(crate) async fn list_participants(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ids = RequestIds::from_headers(&headers);
    let r = (|| {
        preamble(&shared, &headers)?;
        let calls = shared.calls();
        let rec = calls
            .get(&id)
            .filter(|r| !r.ending)
            .ok_or_else(|| unknown_call(&id))?;
        let value: Vec<Value> = rec
            .participants
            .iter()
            .map(|p| {
                json!({
                    "@odata.type": "#microsoft.graph.participant",
                    "id": p["participantId"],
                    "info": p,
                    "isInLobby": false,
                    "isMuted": false,
                    "mediaStreams": [],
                })
            })
            .collect();
        Ok(json_response(StatusCode::OK, &json!({ "value": value })))
    })();
    finish(&ids, r)
}

fn unknown_call(id: &str) -> GraphError {
    GraphError::not_found(format!(
        "Call `{id}` was not found: unknown call id, or the call has ended."
    ))
}

/// `DELETE /{v}/communications/calls/{id}`: `204`, then `terminating` and `terminated`.
pub(crate) async fn delete_call(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ids = RequestIds::from_headers(&headers);
    let r = (|| {
        preamble(&shared, &headers)?;
        let mut calls = shared.calls();
        let rec = calls
            .get_mut(&id)
            .filter(|r| !r.ending)
            .ok_or_else(|| unknown_call(&id))?;
        rec.ending = true;
        let mut terminated = call_state("terminated");
        terminated["resultInfo"] =
            crate::notifications::conversation_ended(rec.script.string_codes);
        rec.enqueue([
            Outgoing {
                delay: std::time::Duration::ZERO,
                body: batch(&id, "updated", call_state("terminating")),
                ends_transfer: false,
                apply_state: true,
            },
            Outgoing {
                delay: std::time::Duration::ZERO,
                body: batch(&id, "deleted", terminated),
                ends_transfer: true,
                apply_state: true,
            },
        ]);
        tracing::info!(call_id = %id, "call deleted by the bot");
        Ok(StatusCode::NO_CONTENT.into_response())
    })();
    finish(&ids, r)
}

/// `POST /{v}/communications/calls/{id}/answer`: answers an incoming call.
pub(crate) async fn answer_call(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ids = RequestIds::from_headers(&headers);
    let r = (|| {
        preamble(&shared, &headers)?;
        let m = parse_object(&body)?;
        let mut calls = shared.calls();
        let rec = calls
            .get_mut(&id)
            .filter(|r| !r.ending)
            .ok_or_else(|| unknown_call(&id))?;
        if rec.state() != "incoming" {
            return Err(GraphError::bad_request(format!(
                "Call `{id}` is in state `{}`; only an incoming call can be answered.",
                rec.state()
            )));
        }
        if let Some(uri) = present(&m, "callbackUri") {
            let uri = uri
                .as_str()
                .ok_or_else(|| GraphError::bad_request("callbackUri: expected a string."))?;
            check_callback(uri)
                .map_err(|why| GraphError::bad_request(format!("callbackUri: `{uri}`: {why}.")))?;
            rec.callback_uri = uri.to_owned();
            rec.resource["callbackUri"] = json!(uri);
        }
        if present(&m, "mediaConfig").is_none_or(|v| !v.is_object()) {
            return Err(GraphError::bad_request(
                "mediaConfig: required; a serviceHostedMediaConfig or appHostedMediaConfig object.",
            ));
        }
        if let Some(a) = present(&m, "acceptedModalities") {
            rec.resource["activeModalities"] = a.clone();
        }
        // Mark it as being answered so a second answer is refused before `establishing` goes out.
        rec.resource["state"] = json!("establishing");
        let delay = rec.script.delay_before(0);
        let tenant = rec.tenant_id.clone();
        rec.enqueue(establish_notifications(&id, "incoming", &tenant, delay));
        tracing::info!(call_id = %id, "incoming call answered");
        Ok(StatusCode::ACCEPTED.into_response())
    })();
    finish(&ids, r)
}

/// `POST /{v}/communications/calls/{id}/transfer` and the deprecated `/{v}/app/calls/{id}/transfer`.
pub(crate) async fn transfer(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ids = RequestIds::from_headers(&headers);
    let r = transfer_inner(&shared, &id, &headers, &body);
    finish(&ids, r)
}

fn transfer_inner(shared: &Shared, id: &str, headers: &HeaderMap, body: &[u8]) -> ApiResult {
    preamble(shared, headers)?;
    let mut calls = shared.calls();
    let rec = calls
        .get_mut(id)
        .filter(|r| !r.ending)
        .ok_or_else(|| unknown_call(id))?;
    if rec.throttle_left > 0 {
        rec.throttle_left -= 1;
        return Err(GraphError::throttled(rec.retry_after));
    }
    let m = parse_object(body)?;
    let target = match present(&m, "transferTarget") {
        Some(Value::Object(t)) => t,
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "transferTarget: expected an invitationParticipantInfo object, found {}.",
                kind(other)
            )))
        }
        None => {
            return Err(GraphError::bad_request(
                "transferTarget: required parameter is missing.",
            ))
        }
    };
    check_identity(target.get("identity"), "transferTarget.identity")?;
    let replaces_call_id = match present(target, "replacesCallId") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::String(_)) | None => None,
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "transferTarget.replacesCallId: expected a string, found {}.",
                kind(other)
            )))
        }
    };
    let transferee = match present(&m, "transferee") {
        Some(Value::Object(t)) => Some(t),
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "transferee: expected a participantInfo object, found {}.",
                kind(other)
            )))
        }
        None => None,
    };
    if rec.group {
        let Some(t) = transferee else {
            return Err(GraphError::bad_request(
                "transferee: required when transferring from a group call (the participant to transfer).",
            ));
        };
        match present(t, "participantId") {
            Some(Value::String(pid)) => {
                if !rec
                    .participants
                    .iter()
                    .any(|p| p["participantId"] == pid.as_str())
                {
                    let known: Vec<&str> = rec
                        .participants
                        .iter()
                        .filter_map(|p| p["participantId"].as_str())
                        .collect();
                    return Err(GraphError::bad_request(format!(
                        "transferee.participantId: `{pid}` is not a participant of call `{id}` (participants: {}).",
                        known.join(", ")
                    )));
                }
            }
            Some(other) => {
                return Err(GraphError::bad_request(format!(
                    "transferee.participantId: expected a string, found {}.",
                    kind(other)
                )))
            }
            None => check_identity(t.get("identity"), "transferee.identity")?,
        }
    }
    // Last, the body as Graph's schema types it (an `endpointType` that is not a string, ...).
    if let Err(e) =
        serde_json::from_value::<graph_comms_model::TransferRequestBody>(Value::Object(m.clone()))
    {
        return Err(GraphError::bad_request(format!(
            "The transfer body does not match Graph's schema: {e}."
        )));
    }
    if rec.state() != "established" || rec.transfer_pending {
        let state = if rec.transfer_pending {
            "transferring"
        } else {
            rec.state()
        };
        return Err(GraphError::bad_request(format!(
            "Call `{id}` is in state `{state}`; a transfer needs an established call with no transfer in progress."
        )));
    }
    rec.transfer_pending = true;
    let replaces = replaces_call_id.is_some();
    let flow = rec.script.flow;
    let plan = transfer_plan(id, &rec.script, replaces);
    let total_delay: std::time::Duration = plan.iter().map(|o| o.delay).sum();
    tracing::info!(call_id = %id, %flow, consultative = replaces, "transfer accepted");
    rec.enqueue(plan);
    if let Some(consultation) = replaces_call_id.filter(|c| c != id) {
        end_consultation(&mut calls, &consultation, flow, total_delay);
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

/// A consultative transfer that succeeds also ends the consultation call (`replacesCallId`),
/// when the emulator knows it: `terminated` (`deleted`) with `terminationReason: AppTransferred`,
/// posted to that call's callback about when the transferred call ends.
fn end_consultation(
    calls: &mut std::collections::HashMap<String, crate::state::CallRecord>,
    consultation: &str,
    flow: TransferFlow,
    delay: std::time::Duration,
) {
    let succeeds = matches!(
        flow,
        TransferFlow::Success | TransferFlow::Completed | TransferFlow::AppTransferred
    );
    let Some(rec) = calls
        .get_mut(consultation)
        .filter(|r| !r.ending && succeeds)
    else {
        return;
    };
    rec.ending = true;
    let mut data = call_state("terminated");
    data["terminationReason"] = json!("AppTransferred");
    rec.enqueue([Outgoing {
        delay,
        body: batch(consultation, "deleted", data),
        ends_transfer: true,
        apply_state: true,
    }]);
    tracing::info!(call_id = %consultation, "consultation call ends with the consultative transfer");
}

/// A known path with a method it does not serve.
pub(crate) async fn method_not_allowed(headers: HeaderMap) -> Response {
    let ids = RequestIds::from_headers(&headers);
    finish(
        &ids,
        Err(GraphError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The HTTP method is not allowed on this resource.",
        )),
    )
}

/// Any other path under `/v1.0` or `/beta`.
pub(crate) async fn api_fallback(headers: HeaderMap) -> Response {
    let ids = RequestIds::from_headers(&headers);
    finish(
        &ids,
        Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Resource not found for the segment: the emulator serves communications/calls, its transfer and answer actions, and app/calls/{id}/transfer.",
        )),
    )
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
