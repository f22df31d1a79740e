//! `/{v}/communications/calls/{id}/participants`: the roster, and hold music.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use super::calls::live_call;
use super::operations::{check_media_prompt, client_context, established_call, operation_response};
use super::tokens::{Authorized, JoinGroupCalls};
use super::{present, ApiVersion, JsonObject};
use crate::auth::json_response;
use crate::error::GraphError;
use crate::notifications::{operation, operation_completed};
use crate::state::{CallRecord, Shared};

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
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    _: Authorized,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let mut calls = shared.calls();
    let rec = live_call(&mut calls, &id)?;
    let value: Vec<Value> = rec.participants.iter().map(participant_resource).collect();
    Ok(json_response(StatusCode::OK, &json!({ "value": value })))
}

/// `POST /{v}/communications/calls/{id}/participants/{pid}/startHoldMusic`: `202` with a
/// `startHoldMusicOperation` (`running`), then its `completed` notification. One participant is
/// on hold at a time.
pub(crate) async fn start_hold_music(
    State(shared): State<Arc<Shared>>,
    Extension(version): Extension<ApiVersion>,
    _: Authorized<JoinGroupCalls>,
    Path((id, pid)): Path<(String, String)>,
    JsonObject(m): JsonObject,
) -> Result<Response, GraphError> {
    if let Some(p) = present(&m, "customPrompt") {
        check_media_prompt(p, "customPrompt")?;
    }
    let context = client_context(&m)?;
    let mut calls = shared.calls();
    let rec = participant_call(&mut calls, &id, &pid, "startHoldMusic")?;
    if let Some(held) = &rec.on_hold {
        return Err(GraphError::bad_request(if *held == pid {
            format!("Participant {pid:?} is already on hold.")
        } else {
            format!("Participant {held:?} is on hold; one participant can be on hold at a time (stopHoldMusic first).")
        }));
    }
    rec.on_hold = Some(pid.clone());
    let op = hold_operation(
        rec,
        &id,
        "#microsoft.graph.startHoldMusicOperation",
        context,
    );
    drop(calls);
    tracing::info!(call_id = %id, participant = ?pid, "hold music started");
    Ok(operation_response(
        &shared,
        version.0,
        &id,
        StatusCode::ACCEPTED,
        &op,
    ))
}

/// `POST /{v}/communications/calls/{id}/participants/{pid}/stopHoldMusic`: `202` with a
/// `stopHoldMusicOperation`, then its `completed` notification; the participant must be on hold.
pub(crate) async fn stop_hold_music(
    State(shared): State<Arc<Shared>>,
    Extension(version): Extension<ApiVersion>,
    _: Authorized<JoinGroupCalls>,
    Path((id, pid)): Path<(String, String)>,
    JsonObject(m): JsonObject,
) -> Result<Response, GraphError> {
    let context = client_context(&m)?;
    let mut calls = shared.calls();
    let rec = participant_call(&mut calls, &id, &pid, "stopHoldMusic")?;
    if rec.on_hold.as_deref() != Some(pid.as_str()) {
        return Err(GraphError::bad_request(format!(
            "Participant {pid:?} is not on hold."
        )));
    }
    rec.on_hold = None;
    let op = hold_operation(rec, &id, "#microsoft.graph.stopHoldMusicOperation", context);
    drop(calls);
    tracing::info!(call_id = %id, participant = ?pid, "hold music stopped");
    Ok(operation_response(
        &shared,
        version.0,
        &id,
        StatusCode::ACCEPTED,
        &op,
    ))
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

/// A hold-music operation (`running`), its completion queued.
fn hold_operation(rec: &CallRecord, id: &str, odata_type: &str, context: Option<String>) -> Value {
    let op_id = uuid::Uuid::new_v4().to_string();
    let op = operation(odata_type, &op_id, "running", context.as_deref());
    rec.enqueue([operation_completed(id, &op)]);
    op
}
