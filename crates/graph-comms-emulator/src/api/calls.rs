//! `/{v}/communications/calls`: create, read, delete, and the call actions (answer, reject,
//! redirect, transfer).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::tokens::Authorized;
use super::{
    check_callback, check_identity, json_type, parse_object, present, ApiVersion, JsonObject,
    OnCall,
};
use crate::auth::json_response;
use crate::error::GraphError;
use crate::notifications::{
    bare_call, batch, call_state, call_url, declined, not_answered, transfer_plan, Outgoing,
};
use crate::script::{CallTarget, TransferFlow};
use crate::state::Shared;

type ApiResult = Result<Response, GraphError>;

/// An action's answer: a status with no body (`202`, `204`), or Graph's error.
type ActionResult = Result<StatusCode, GraphError>;

/// The id in `identity.{application|applicationInstance}.id` of a participantInfo-like object.
fn app_identity_id(v: Option<&Value>) -> Option<String> {
    let identity = v?.get("identity")?;
    ["application", "applicationInstance"]
        .iter()
        .find_map(|k| identity.get(*k)?.get("id")?.as_str().map(str::to_owned))
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

/// What a call the bot places goes through, as its script's target decides: `establishing`,
/// then `established`, or `terminated` (`deleted`) with the `resultInfo` of a decline or of no
/// answer.
fn placed_call_notifications(
    id: &str,
    tenant_id: &str,
    target: CallTarget,
    strings: bool,
    delay: std::time::Duration,
) -> Vec<Outgoing> {
    let result = match target {
        CallTarget::Ring => {
            let mut ringing = establish_notifications(id, "outgoing", tenant_id, delay);
            ringing.truncate(1);
            return ringing;
        }
        CallTarget::Decline => declined(strings),
        CallTarget::NoAnswer => not_answered(strings),
        _ => return establish_notifications(id, "outgoing", tenant_id, delay),
    };
    let mut establishing = establish_notifications(id, "outgoing", tenant_id, delay);
    establishing.truncate(1);
    let mut terminated = call_state("terminated");
    terminated["resultInfo"] = result;
    establishing.push(Outgoing {
        delay,
        ..Outgoing::now(id, "deleted", terminated).ending()
    });
    establishing
}

/// `POST /{v}/communications/calls`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(version): Extension<ApiVersion>,
    Authorized { claims, .. }: Authorized,
    JsonObject(m): JsonObject,
) -> ApiResult {
    let shared = &shared;
    let version = version.0;
    let callback_uri = match present(&m, "callbackUri") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "callbackUri: expected a string, found {}.",
                json_type(other)
            )))
        }
        None => {
            return Err(GraphError::bad_request(
                "callbackUri: required; the bot's URL for notifications.",
            ))
        }
    };
    check_callback(&callback_uri)
        .map_err(|why| GraphError::bad_request(format!("callbackUri: {callback_uri:?}: {why}.")))?;
    let joins_meeting = present(&m, "meetingInfo").is_some() || present(&m, "chatInfo").is_some();
    let targets: Vec<Value> = match present(&m, "targets") {
        Some(Value::Array(a)) => a.clone(),
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "targets: expected an array, found {}.",
                json_type(other)
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
            // Every target is a participant (hold music names one); only a group call's
            // targets show their participantId.
            let pid = t
                .get("participantId")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            if group {
                t["participantId"] = json!(pid);
            }
            participants.push(json!({
                "@odata.type": "#microsoft.graph.participantInfo",
                "identity": t.get("identity").cloned().unwrap_or(Value::Null),
                "participantId": pid,
            }));
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
    let target = script.target;
    let strings = script.string_codes;
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
        rec.enqueue(placed_call_notifications(
            &id, &tenant_id, target, strings, delay,
        ));
    }
    tracing::info!(call_id = %id, group, ?target, "call created");
    let mut resp = json_response(StatusCode::CREATED, &resource);
    let location = format!("{}/{version}/communications/calls/{id}", shared.root_url);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// `GET /{v}/communications/calls/{id}`.
pub(crate) async fn get(call: OnCall) -> ApiResult {
    let mut calls = call.calls();
    let rec = live_call(&mut calls, &call.id)?;
    Ok(json_response(StatusCode::OK, &rec.resource))
}

/// `404 itemNotFound` for a call id the emulator does not know (or whose call has ended).
fn unknown_call(id: &str) -> GraphError {
    GraphError::not_found(format!(
        "Call {id:?} was not found: unknown call id, or the call has ended."
    ))
}

/// The live call `id` (one the bot has not ended), or `404` ([`unknown_call`]).
pub(crate) fn live_call<'a>(
    calls: &'a mut std::collections::HashMap<String, crate::state::CallRecord>,
    id: &str,
) -> Result<&'a mut crate::state::CallRecord, GraphError> {
    calls
        .get_mut(id)
        .filter(|r| !r.ending)
        .ok_or_else(|| unknown_call(id))
}

/// `DELETE /{v}/communications/calls/{id}`: `204`, then `terminating` and `terminated`.
pub(crate) async fn delete(call: OnCall) -> ActionResult {
    let id = &call.id;
    let mut calls = call.calls();
    let rec = live_call(&mut calls, id)?;
    rec.ending = true;
    let mut terminated = call_state("terminated");
    terminated["resultInfo"] = crate::notifications::conversation_ended(rec.script.string_codes);
    rec.enqueue([Outgoing::now(id, "updated", call_state("terminating"))]);
    rec.enqueue(crate::notifications::call_ended(
        id,
        terminated,
        &rec.script,
    ));
    tracing::info!(call_id = %id, "call deleted by the bot");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /{v}/communications/calls/{id}/answer`: answers an incoming call.
pub(crate) async fn answer(call: OnCall, JsonObject(m): JsonObject) -> ActionResult {
    let id = &call.id;
    let mut calls = call.calls();
    let rec = incoming_call(&mut calls, id, "answered")?;
    if let Some(uri) = super::callback_field(&m)? {
        rec.resource["callbackUri"] = json!(uri);
        rec.callback_uri = uri;
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
    rec.enqueue(establish_notifications(id, "incoming", &tenant, delay));
    tracing::info!(call_id = %id, "incoming call answered");
    Ok(StatusCode::ACCEPTED)
}

/// The live call `id`, which must be `incoming` for `action` (`400` otherwise).
fn incoming_call<'a>(
    calls: &'a mut std::collections::HashMap<String, crate::state::CallRecord>,
    id: &str,
    action: &str,
) -> Result<&'a mut crate::state::CallRecord, GraphError> {
    let rec = live_call(calls, id)?;
    if rec.state() != "incoming" {
        return Err(GraphError::bad_request(format!(
            "Call {id:?} is in state `{}`; only an incoming call can be {action}.",
            rec.state()
        )));
    }
    Ok(rec)
}

/// The live incoming call `id`, which the bot ends by `action` (reject, redirect): its new
/// callback URI (if the body gave one) is set and no action is taken on it after this one.
fn end_incoming_call<'a>(
    calls: &'a mut std::collections::HashMap<String, crate::state::CallRecord>,
    id: &str,
    action: &str,
    callback: Option<String>,
) -> Result<&'a mut crate::state::CallRecord, GraphError> {
    let rec = incoming_call(calls, id, action)?;
    if let Some(uri) = callback {
        rec.callback_uri = uri;
    }
    rec.ending = true;
    Ok(rec)
}

/// `POST /{v}/communications/calls/{id}/reject`: `202`, then a bare `deleted` (only `@odata.type`
/// and `@odata.id`), as the `call: reject` page shows.
pub(crate) async fn reject(call: OnCall, JsonObject(m): JsonObject) -> ActionResult {
    match present(&m, "reason") {
        None => {}
        Some(Value::String(r))
            if ["none", "busy", "forbidden", "unknownFutureValue"].contains(&r.as_str()) => {}
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "reason: expected one of none, busy, forbidden (a rejectReason), found {other}."
            )))
        }
    }
    let callback = super::callback_field(&m)?;
    let id = &call.id;
    let mut calls = call.calls();
    let rec = end_incoming_call(&mut calls, id, "rejected", callback)?;
    rec.enqueue([Outgoing::now(id, "deleted", bare_call(&call_url(id))).ending()]);
    tracing::info!(call_id = %id, "incoming call rejected");
    Ok(StatusCode::ACCEPTED)
}

/// `POST /{v}/communications/calls/{id}/redirect`: `202`, then the bot's leg ends: `terminated`
/// (`deleted`) with the call resource, as the `call: redirect` page shows.
pub(crate) async fn redirect(call: OnCall, JsonObject(m): JsonObject) -> ActionResult {
    let targets = match present(&m, "targets") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) | None => {
            return Err(GraphError::bad_request(
                "targets: required; at least one invitationParticipantInfo to redirect to.",
            ))
        }
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "targets: expected an array, found {}.",
                json_type(other)
            )))
        }
    };
    for (i, t) in targets.iter().enumerate() {
        if !t.is_object() {
            return Err(GraphError::bad_request(format!(
                "targets[{i}]: expected an invitationParticipantInfo object."
            )));
        }
        check_identity(t.get("identity"), &format!("targets[{i}].identity"))?;
    }
    match present(&m, "timeout") {
        None => {}
        Some(t) if t.as_u64().is_some_and(|t| (15..=90).contains(&t)) => {}
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "timeout: expected a number of seconds from 15 to 90, found {other}."
            )))
        }
    }
    let callback = super::callback_field(&m)?;
    let id = &call.id;
    let mut calls = call.calls();
    let rec = end_incoming_call(&mut calls, id, "redirected", callback)?;
    let mut data = rec.resource.clone();
    if let Value::Object(d) = &mut data {
        d.retain(|_, v| !v.is_null());
        d.remove("@odata.context");
        d.insert("state".to_owned(), json!("terminated"));
    }
    rec.enqueue([Outgoing::now(id, "deleted", data).ending()]);
    tracing::info!(call_id = %id, targets = targets.len(), "incoming call redirected");
    Ok(StatusCode::ACCEPTED)
}

/// `POST /{v}/communications/calls/{id}/transfer` and the deprecated `/{v}/app/calls/{id}/transfer`.
pub(crate) async fn transfer(call: OnCall, body: Bytes) -> ActionResult {
    let id = call.id.as_str();
    let mut calls = call.calls();
    let rec = live_call(&mut calls, id)?;
    if rec.throttle_left > 0 {
        rec.throttle_left -= 1;
        return Err(GraphError::throttled(rec.retry_after));
    }
    let m = parse_object(&body)?;
    let target = match present(&m, "transferTarget") {
        Some(Value::Object(t)) => t,
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "transferTarget: expected an invitationParticipantInfo object, found {}.",
                json_type(other)
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
                json_type(other)
            )))
        }
    };
    let transferee = match present(&m, "transferee") {
        Some(Value::Object(t)) => Some(t),
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "transferee: expected a participantInfo object, found {}.",
                json_type(other)
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
                        "transferee.participantId: {pid:?} is not a participant of call {id:?} (participants: {}).",
                        known.join(", ")
                    )));
                }
            }
            Some(other) => {
                return Err(GraphError::bad_request(format!(
                    "transferee.participantId: expected a string, found {}.",
                    json_type(other)
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
    if let Some(code) = rec.script.refuse {
        return Err(refusal(code));
    }
    if rec.state() != "established" || rec.transfer_pending {
        let state = if rec.transfer_pending {
            "transferring"
        } else {
            rec.state()
        };
        return Err(GraphError::bad_request(format!(
            "Call {id:?} is in state `{state}`; a transfer needs an established call with no transfer in progress."
        )));
    }
    rec.transfer_pending = true;
    let replaces = replaces_call_id.is_some();
    let flow = rec.script.flow;
    let roster: Vec<Value> = rec
        .participants
        .iter()
        .map(super::participants::participant_resource)
        .collect();
    let plan = transfer_plan(id, &rec.script, replaces, &roster);
    let total_delay: std::time::Duration = plan.iter().map(|o| o.delay).sum();
    tracing::info!(call_id = %id, %flow, consultative = replaces, "transfer accepted");
    rec.enqueue(plan);
    if let Some(consultation) = replaces_call_id.filter(|c| c != id) {
        end_consultation(&mut calls, &consultation, flow, total_delay);
    }
    Ok(StatusCode::ACCEPTED)
}

/// A scripted synchronous refusal of a transfer: `403` with Graph's `error.code`.
fn refusal(code: u32) -> GraphError {
    let message = match code {
        7505 => "The application is not allowed to transfer this call (scripted refusal 7505).",
        8523 => "Transfer is not supported for a call in a meeting (scripted refusal 8523).",
        _ => "The transfer was refused (scripted refusal).",
    };
    GraphError::new(StatusCode::FORBIDDEN, code.to_string(), message)
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
