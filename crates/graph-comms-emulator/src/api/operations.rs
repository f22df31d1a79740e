//! Operations: `playPrompt`, and the `commsOperation` resources (`…/calls/{id}/operations/{opId}`)
//! that actions answer with and notify about.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use super::calls::live_call;
use super::{json_type, present, JsonObject, OnCall};
use crate::error::GraphError;
use crate::notifications::{operation, operation_completed};
use crate::state::CallRecord;

/// The `clientContext` of an action's body, if any (a string).
pub(crate) fn client_context(m: &Map<String, Value>) -> Result<Option<String>, GraphError> {
    match present(m, "clientContext") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(GraphError::bad_request(format!(
            "clientContext: expected a string, found {}.",
            json_type(other)
        ))),
    }
}

/// Checks a `mediaPrompt` object at `path`: `mediaInfo.uri` must be a string.
pub(crate) fn check_media_prompt(v: &Value, path: &str) -> Result<(), GraphError> {
    if v["mediaInfo"]["uri"].as_str().is_none_or(str::is_empty) {
        return Err(GraphError::bad_request(format!(
            "{path}.mediaInfo.uri: required; the URL of the audio to play (a mediaPrompt)."
        )));
    }
    Ok(())
}

/// The live, `established` call `id` (`404`, or `400` in another state).
pub(crate) fn established_call<'a>(
    calls: &'a mut std::collections::HashMap<String, CallRecord>,
    id: &str,
    action: &str,
) -> Result<&'a mut CallRecord, GraphError> {
    let rec = live_call(calls, id)?;
    if rec.state() != "established" {
        return Err(GraphError::bad_request(format!(
            "Call {id:?} is in state `{}`; {action} needs an established call.",
            rec.state()
        )));
    }
    Ok(rec)
}

/// A new operation of type `odata_type` on call `id` (`running`, with the body's
/// `clientContext`), its `completed` notification queued on the call.
pub(crate) fn running_operation(
    rec: &CallRecord,
    id: &str,
    odata_type: &str,
    context: Option<String>,
) -> Value {
    let op_id = uuid::Uuid::new_v4().to_string();
    let op = operation(odata_type, &op_id, "running", context.as_deref());
    rec.enqueue([operation_completed(id, &op)]);
    op
}

/// `POST /{v}/communications/calls/{id}/playPrompt`: `200` with a `playPromptOperation`
/// (`running`), then its `completed` notification (`deleted`, resultInfo 200/0).
pub(crate) async fn play_prompt(
    call: OnCall,
    JsonObject(m): JsonObject,
) -> Result<Response, GraphError> {
    let prompts = match present(&m, "prompts") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) | None => {
            return Err(GraphError::bad_request(
                "prompts: required; at least one mediaPrompt to play.",
            ))
        }
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "prompts: expected an array, found {}.",
                json_type(other)
            )))
        }
    };
    for (i, p) in prompts.iter().enumerate() {
        check_media_prompt(p, &format!("prompts[{i}]"))?;
    }
    let context = client_context(&m)?;
    let id = &call.id;
    let mut calls = call.calls();
    let rec = established_call(&mut calls, id, "playPrompt")?;
    let op = running_operation(rec, id, "#microsoft.graph.playPromptOperation", context);
    drop(calls);
    tracing::info!(call_id = %id, prompts = prompts.len(), "prompt played");
    Ok(call.operation_response(StatusCode::OK, &op))
}
