//! `/{v}/communications/calls/{id}/participants`: the roster, and hold music.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::calls::live_call;
use super::operations::{check_media_prompt, client_context, established_call, running_operation};
use super::tokens::JoinGroupCalls;
use super::{present, JsonObject, OnCall};
use crate::auth::json_response;
use crate::error::GraphError;
use crate::state::CallRecord;

/// A participantInfo as a `participant` resource.
pub(crate) fn participant_resource(info: &Value) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.participant",
        "id": info["participantId"],
        "info": info,
        "isInLobby": false,
        "isMuted": false,
        "mediaStreams": [],
    })
}

/// `GET /{v}/communications/calls/{id}/participants`.
pub(crate) async fn list(call: OnCall) -> Result<Response, GraphError> {
    let mut calls = call.calls();
    let rec = live_call(&mut calls, &call.id)?;
    let value: Vec<Value> = rec.participants.iter().map(participant_resource).collect();
    Ok(json_response(StatusCode::OK, &json!({ "value": value })))
}

/// `POST /{v}/communications/calls/{id}/participants/{pid}/startHoldMusic`: `202` with a
/// `startHoldMusicOperation` (`running`), then its `completed` notification. One participant is
/// on hold at a time.
pub(crate) async fn start_hold_music(
    call: OnCall<JoinGroupCalls>,
    Path((_, pid)): Path<(String, String)>,
    JsonObject(m): JsonObject,
) -> Result<Response, GraphError> {
    if let Some(p) = present(&m, "customPrompt") {
        check_media_prompt(p, "customPrompt")?;
    }
    hold_music(&call, &pid, &m, "startHoldMusic", |on_hold| {
        if let Some(held) = on_hold {
            return Err(GraphError::bad_request(if *held == pid {
                format!("Participant {pid:?} is already on hold.")
            } else {
                format!("Participant {held:?} is on hold; one participant can be on hold at a time (stopHoldMusic first).")
            }));
        }
        *on_hold = Some(pid.clone());
        Ok("hold music started")
    })
}

/// `POST /{v}/communications/calls/{id}/participants/{pid}/stopHoldMusic`: `202` with a
/// `stopHoldMusicOperation`, then its `completed` notification; the participant must be on hold.
pub(crate) async fn stop_hold_music(
    call: OnCall<JoinGroupCalls>,
    Path((_, pid)): Path<(String, String)>,
    JsonObject(m): JsonObject,
) -> Result<Response, GraphError> {
    hold_music(&call, &pid, &m, "stopHoldMusic", |on_hold| {
        if on_hold.as_deref() != Some(pid.as_str()) {
            return Err(GraphError::bad_request(format!(
                "Participant {pid:?} is not on hold."
            )));
        }
        *on_hold = None;
        Ok("hold music stopped")
    })
}

/// The hold-music `action` (`startHoldMusic`, `stopHoldMusic`) on participant `pid` of an
/// established call, once `hold` has checked and changed who is on hold (its `Ok` says what it
/// did, for the log): `202` with the `{action}Operation` (`running`), its completion queued.
fn hold_music(
    call: &OnCall<JoinGroupCalls>,
    pid: &str,
    m: &Map<String, Value>,
    action: &str,
    hold: impl FnOnce(&mut Option<String>) -> Result<&'static str, GraphError>,
) -> Result<Response, GraphError> {
    let context = client_context(m)?;
    let id = &call.id;
    let mut calls = call.calls();
    let rec = participant_call(&mut calls, id, pid, action)?;
    let done = hold(&mut rec.on_hold)?;
    let op = running_operation(
        rec,
        id,
        &format!("#microsoft.graph.{action}Operation"),
        context,
    );
    drop(calls);
    tracing::info!(call_id = %id, participant = ?pid, "{done}");
    Ok(call.operation_response(StatusCode::ACCEPTED, &op))
}

/// The live, `established` call `id` for `action` on its participant `pid` (`404` unless `pid`
/// is a participant of the call).
fn participant_call<'a>(
    calls: &'a mut std::collections::HashMap<String, CallRecord>,
    id: &str,
    pid: &str,
    action: &str,
) -> Result<&'a mut CallRecord, GraphError> {
    let rec = established_call(calls, id, action)?;
    if rec.participants.iter().any(|p| p["participantId"] == pid) {
        Ok(rec)
    } else {
        Err(GraphError::not_found(format!(
            "Participant {pid:?} was not found in call {id:?}."
        )))
    }
}
