//! The emulator's control API (`/_emulator/...`): place calls at a bot, script them, hang up,
//! throttle, and read what was delivered. No auth: it is a local test harness.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::calls::{call_resource, establish_notifications, NewCall};
use crate::api::{check_callback, parse_object};
use crate::auth::json_response;
use crate::error::{Error, GraphError, Result};
use crate::notifications::{batch, call_ended, call_state, conversation_ended, Outgoing};
use crate::script::{Script, Throttle};
use crate::state::Shared;

/// A call placed at a bot by the emulator (an incoming call, from the bot's point of view).
///
/// With [`Answer::Auto`] (the default) the call is `established` at once and the bot receives
/// `establishing` and `established`; with [`Answer::Bot`] it receives an `incoming` notification
/// (`changeType: created`) and must answer with `POST /{v}/communications/calls/{id}/answer`.
/// No participant (or one) makes a peer call; two or more make a group call, whose transfers need
/// a `transferee` naming one of the participants.
///
/// JSON form (control route `POST /_emulator/calls`), all fields but `callbackUri` optional:
/// `{"callbackUri": "http://127.0.0.1:9000/api/calls", "appId": "...", "tenantId": "...",
///   "participants": [{"participantId": "...", "userId": "...", "displayName": "..."}],
///   "answer": "auto", "script": {"flow": "failed"}}`
///
/// ```
/// use graph_comms_emulator::{PlaceCall, Script, TransferFlow};
/// let call = PlaceCall::new("http://127.0.0.1:9000/api/calls")
///     .with_app_id("bot-app-id")
///     .with_group(3)
///     .with_script(Script::new(TransferFlow::ConsultativeFailed));
/// assert_eq!(call.participants.len(), 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PlaceCall {
    /// Where the bot receives notifications (`https`, or `http` on loopback).
    pub callback_uri: String,
    /// The bot's app id: the audience of the callback JWTs (default: the configured
    /// [`bot_app_id`](crate::EmulatorConfig::bot_app_id)).
    pub app_id: Option<String>,
    /// The tenant (default: the configured tenant).
    pub tenant_id: Option<String>,
    /// The remote participants (empty: one default caller).
    pub participants: Vec<EmulatedParticipant>,
    /// Who answers.
    pub answer: Answer,
    /// The call's script (default: the emulator's default script).
    pub script: Option<Script>,
}

impl PlaceCall {
    /// A peer call to the bot at `callback_uri`, answered at once.
    pub fn new(callback_uri: impl Into<String>) -> Self {
        PlaceCall {
            callback_uri: callback_uri.into(),
            ..PlaceCall::default()
        }
    }

    /// Sets the bot's app id (callback JWT audience).
    #[must_use]
    pub fn with_app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// Sets the tenant id.
    #[must_use]
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Adds a remote participant.
    #[must_use]
    pub fn with_participant(mut self, p: EmulatedParticipant) -> Self {
        self.participants.push(p);
        self
    }

    /// Makes a group call with `n` generated participants (`n` >= 2 for a group call).
    #[must_use]
    pub fn with_group(mut self, n: usize) -> Self {
        self.participants = (1..=n)
            .map(|i| EmulatedParticipant::named(format!("Participant {i}")))
            .collect();
        self
    }

    /// Lets the bot answer: it receives `incoming` first.
    #[must_use]
    pub fn answered_by_bot(mut self) -> Self {
        self.answer = Answer::Bot;
        self
    }

    /// Sets the call's script.
    #[must_use]
    pub fn with_script(mut self, script: Script) -> Self {
        self.script = Some(script);
        self
    }
}

/// Who answers a placed call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Answer {
    /// The call is established at once (`establishing`, `established` are posted).
    #[default]
    Auto,
    /// The bot receives `incoming` and answers through the API.
    Bot,
}

/// A remote participant of a placed call. Missing ids are generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EmulatedParticipant {
    /// The participant id in the call (what a group transfer's `transferee.participantId` names).
    pub participant_id: Option<String>,
    /// The Teams user id.
    pub user_id: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
}

impl EmulatedParticipant {
    /// A participant with this display name and generated ids.
    pub fn named(display_name: impl Into<String>) -> Self {
        EmulatedParticipant {
            display_name: Some(display_name.into()),
            ..EmulatedParticipant::default()
        }
    }

    /// Sets the participant id.
    #[must_use]
    pub fn with_participant_id(mut self, id: impl Into<String>) -> Self {
        self.participant_id = Some(id.into());
        self
    }

    /// Sets the user id.
    #[must_use]
    pub fn with_user_id(mut self, id: impl Into<String>) -> Self {
        self.user_id = Some(id.into());
        self
    }
}

/// What [`Emulator::place_call`](crate::Emulator::place_call) created.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PlacedCall {
    /// The call id (use it in `/communications/calls/{id}/transfer`).
    pub id: String,
    /// Two or more participants: transfers need a `transferee`.
    pub group: bool,
    /// The remote participants as Graph `participantInfo` JSON objects, each with its
    /// `participantId` and `identity.user` (ready to be a transfer's `transferee`).
    pub participants: Vec<Value>,
    /// The call resource as `GET /communications/calls/{id}` answers it.
    pub call: Value,
}

/// Creates a placed call: the shared path of the library and the control route.
pub(crate) fn place_call(shared: &Arc<Shared>, req: PlaceCall) -> Result<PlacedCall> {
    check_callback(&req.callback_uri).map_err(|reason| Error::InvalidCallback {
        uri: req.callback_uri.clone(),
        reason,
    })?;
    let tenant_id = req
        .tenant_id
        .clone()
        .unwrap_or_else(|| shared.config.tenant_id.clone());
    let app_id = req.app_id.clone().or_else(|| shared.config.bot_app_id.clone()).ok_or_else(|| {
        Error::InvalidRequest(
            "appId: required (the bot's app id, the audience of callback JWTs) unless the emulator is configured with a bot app id".to_owned(),
        )
    })?;
    let people = if req.participants.is_empty() {
        vec![EmulatedParticipant::named("Caller")]
    } else {
        req.participants.clone()
    };
    let group = people.len() > 1;
    let participants: Vec<Value> = people
        .iter()
        .map(|p| {
            json!({
                "@odata.type": "#microsoft.graph.participantInfo",
                "identity": {
                    "@odata.type": "#microsoft.graph.identitySet",
                    "user": {
                        "@odata.type": "#microsoft.graph.identity",
                        "id": p.user_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                        "tenantId": tenant_id,
                        "displayName": p.display_name.clone().unwrap_or_else(|| "Caller".to_owned()),
                    }
                },
                "participantId": p.participant_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            })
        })
        .collect();
    let bot = json!({
        "@odata.type": "#microsoft.graph.invitationParticipantInfo",
        "identity": {
            "@odata.type": "#microsoft.graph.identitySet",
            "application": { "@odata.type": "#microsoft.graph.identity", "displayName": "Bot", "id": app_id }
        },
        "endpointType": null, "region": null, "replacesCallId": null, "languageId": "en-US"
    });
    let id = uuid::Uuid::new_v4().to_string();
    let state = match req.answer {
        Answer::Auto => "established",
        Answer::Bot => "incoming",
    };
    let mut source = participants.first().cloned().unwrap_or(Value::Null);
    if let Value::Object(m) = &mut source {
        m.remove("participantId");
        m.insert("region".to_owned(), json!("amer"));
        m.insert("languageId".to_owned(), json!("en-US"));
    }
    let new = NewCall {
        id: id.clone(),
        version: "v1.0",
        state,
        direction: "incoming",
        callback_uri: req.callback_uri.clone(),
        tenant_id: tenant_id.clone(),
        source,
        targets: vec![bot],
        requested_modalities: json!(["audio"]),
        media_config: json!({ "@odata.type": "#microsoft.graph.serviceHostedMediaConfig" }),
        extra: serde_json::Map::new(),
    };
    let resource = call_resource(shared, &new);
    let script = req
        .script
        .clone()
        .unwrap_or_else(|| shared.default_script());
    let delay = script.delay_before(0);
    shared.insert_call(
        id.clone(),
        tenant_id.clone(),
        app_id,
        req.callback_uri.clone(),
        "incoming",
        resource.clone(),
        participants.clone(),
        group,
        script,
    );
    let calls = shared.calls();
    if let Some(rec) = calls.get(&id) {
        match req.answer {
            Answer::Auto => rec.enqueue(
                establish_notifications(&id, "incoming", &tenant_id, delay)
                    .into_iter()
                    .map(|o| Outgoing {
                        apply_state: false,
                        ..o
                    }),
            ),
            Answer::Bot => {
                let mut data = resource.clone();
                if let Value::Object(m) = &mut data {
                    m.retain(|_, v| !v.is_null());
                    m.remove("@odata.context");
                    m.insert(
                        "@odata.id".to_owned(),
                        json!(format!("/communications/calls/{id}")),
                    );
                }
                rec.enqueue([Outgoing {
                    delay,
                    body: batch(&id, "created", data),
                    ends_transfer: false,
                    apply_state: true,
                }]);
            }
        }
    }
    drop(calls);
    tracing::info!(call_id = %id, group, answer = ?req.answer, "call placed at the bot");
    Ok(PlacedCall {
        id,
        group,
        participants,
        call: resource,
    })
}

/// Sets a call's script.
pub(crate) fn script_call(shared: &Shared, id: &str, script: Script) -> Result<()> {
    let mut calls = shared.calls();
    let rec = calls
        .get_mut(id)
        .ok_or_else(|| Error::UnknownCall(id.to_owned()))?;
    rec.set_script(script);
    Ok(())
}

/// The remote party hangs up now: `terminated` (`deleted`) without a transfer code.
pub(crate) fn hang_up(shared: &Shared, id: &str) -> Result<()> {
    let mut calls = shared.calls();
    let rec = calls
        .get_mut(id)
        .filter(|r| !r.ending)
        .ok_or_else(|| Error::UnknownCall(id.to_owned()))?;
    rec.ending = true;
    let mut data = call_state("terminated");
    data["resultInfo"] = conversation_ended(rec.script.string_codes);
    rec.enqueue(call_ended(id, data, &rec.script));
    Ok(())
}

fn control_error(e: Error) -> GraphError {
    match e {
        Error::UnknownCall(id) => {
            GraphError::not_found(format!("Call `{id}` was not found in the emulator."))
        }
        other => GraphError::bad_request(other.to_string()),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> std::result::Result<T, GraphError> {
    let m = parse_object(body)?;
    serde_json::from_value(Value::Object(m))
        .map_err(|e| GraphError::bad_request(format!("Invalid control request: {e}.")))
}

/// `GET /_emulator`: where everything is.
pub(crate) async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let root = &shared.root_url;
    json_response(
        StatusCode::OK,
        &json!({
            "rootUrl": root,
            "baseUrls": [format!("{root}/v1.0"), format!("{root}/beta")],
            "tokenUrl": format!("{root}/{{tenant}}/oauth2/v2.0/token"),
            "openIdConfigurationUrl": format!("{root}/v1/.well-known/OpenIdConfiguration"),
            "jwksUrl": format!("{root}/v1/keys"),
            "defaultTenantId": shared.config.tenant_id,
            "anyClientAccepted": shared.config.clients.is_empty(),
            "defaultScript": shared.default_script(),
        }),
    )
}

/// `POST /_emulator/calls`: place a call at a bot.
pub(crate) async fn place(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> std::result::Result<Response, GraphError> {
    parse::<PlaceCall>(&body)
        .and_then(|req| place_call(&shared, req).map_err(control_error))
        .map(|placed| json_response(StatusCode::CREATED, &json!(placed)))
}

/// `GET /_emulator/calls`: every live call's id and state.
pub(crate) async fn list(State(shared): State<Arc<Shared>>) -> Response {
    let calls = shared.calls();
    let mut value: Vec<Value> = calls
        .iter()
        .map(|(id, r)| json!({ "id": id, "state": r.state(), "direction": r.direction, "group": r.group, "onHold": r.on_hold, "script": r.script }))
        .collect();
    drop(calls);
    value.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    json_response(StatusCode::OK, &json!({ "value": value }))
}

/// `PUT /_emulator/calls/{id}/script`.
pub(crate) async fn put_script(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> std::result::Result<Response, GraphError> {
    parse::<Script>(&body)
        .and_then(|s| script_call(&shared, &id, s).map_err(control_error))
        .map(|()| StatusCode::NO_CONTENT.into_response())
}

/// `GET /_emulator/calls/{id}/script`.
pub(crate) async fn get_script(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> std::result::Result<Response, GraphError> {
    let script = shared.calls().get(&id).map(|r| r.script.clone());
    script
        .map(|s| json_response(StatusCode::OK, &json!(s)))
        .ok_or_else(|| control_error(Error::UnknownCall(id)))
}

/// `POST /_emulator/calls/{id}/hangup`.
pub(crate) async fn hangup(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> std::result::Result<Response, GraphError> {
    hang_up(&shared, &id)
        .map(|()| StatusCode::ACCEPTED.into_response())
        .map_err(control_error)
}

/// `GET /_emulator/calls/{id}/deliveries`.
pub(crate) async fn deliveries(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    json_response(StatusCode::OK, &json!({ "value": shared.deliveries(&id) }))
}

/// `PUT /_emulator/script`: the default script of new calls.
pub(crate) async fn put_default_script(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> std::result::Result<Response, GraphError> {
    parse::<Script>(&body).map(|s| {
        shared.set_default_script(s);
        StatusCode::NO_CONTENT.into_response()
    })
}

/// `PUT /_emulator/throttle`: `429` for the next `count` API requests of any kind.
pub(crate) async fn put_throttle(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> std::result::Result<Response, GraphError> {
    parse::<Throttle>(&body).map(|t| {
        shared.set_global_throttle(Some(t).filter(|t| t.count > 0));
        StatusCode::NO_CONTENT.into_response()
    })
}
