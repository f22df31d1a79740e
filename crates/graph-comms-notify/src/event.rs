//! Typed notification events and the stateless classifier.

use graph_comms_model::routing::{self, RoutingCode, RoutingData, RoutingNotification};
use graph_comms_model::{CallState, ChangeType};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::explain::explain_subcode;

/// Decodes a `commsNotifications` body into one [`NotificationEvent`] per notification.
///
/// Built on the model's routing-only decode ([`graph_comms_model::routing`]): only the fields a
/// bot routes on are read, everything else is skipped. Notifications that have nothing to do with
/// transfers (roster updates, operations, media, calls being created) decode as
/// [`EventKind::Other`], never as an error.
///
/// # Errors
/// [`Error::InvalidBody`] (with line and column) when the body is not JSON, not an object,
/// or its `value` is not an array of objects; [`Error::MissingValue`] when it has no `value`.
///
/// ```
/// use graph_comms_notify::{decode, EventKind};
///
/// let body = br#"{"value":[{"changeType":"updated",
///   "resourceUrl":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b",
///   "resourceData":{"state":"established",
///     "resultInfo":{"code":500,"subCode":7000,"message":"<message>"}}}]}"#;
/// let events = decode(body)?;
/// assert_eq!(events[0].call_id.as_deref(), Some("341a0500-d4bf-4224-8b19-1581168d328b"));
/// assert!(matches!(events[0].kind, EventKind::Failed { code: 500, subcode: Some(7000), .. }));
/// # Ok::<(), graph_comms_notify::Error>(())
/// ```
pub fn decode(body: &[u8]) -> Result<Vec<NotificationEvent>> {
    // Each notification becomes its event where the scan reads it: no `Vec` of routing
    // notifications in between.
    let events = routing::map_slice(body, |n| {
        let mut event = NotificationEvent::from_routing(n);
        if event.operation_id.is_some() {
            add_operation_status(n, &mut event);
        }
        event
    })
    .map_err(|e| Error::from_json(&e))?;
    events.ok_or(Error::MissingValue)
}

/// Reads `resourceData.status` of an operation notification (the older `commsOperation` flow),
/// and classifies a failed `commsOperation` as [`EventKind::OperationFailed`].
fn add_operation_status(n: &RoutingNotification<'_>, event: &mut NotificationEvent) {
    let Some(call) = n.call() else { return };
    let Some(status) = call.status.as_deref() else {
        return;
    };
    event.operation_status = Some(status.to_owned());
    // Transfers run as a plain `commsOperation`; a failed `recordOperation`,
    // `playPromptOperation`, ... is about something else.
    let generic = call.odata_type.as_deref().is_none_or(|t| {
        t.trim_start_matches('#')
            .eq_ignore_ascii_case("microsoft.graph.commsOperation")
    });
    if generic && status.eq_ignore_ascii_case("failed") {
        event.kind = EventKind::OperationFailed {
            code: event.result_code,
            subcode: event.result_subcode,
            message: event.result_message.clone(),
        };
    }
}

/// The bytes of a GUID in lower case: `0`–`9` and `a`–`f`.
static LOWER_HEX: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = matches!(byte as u8, b'0'..=b'9' | b'a'..=b'f');
        byte += 1;
    }
    table
};

/// The key under which a call id is compared: Graph spells the same call id in lower case with
/// dashes (`57dab8b1-894c-409a-b240-bd8beae78896`) or, in older payloads, in upper case without
/// them (`57DAB8B1894C409AB240BD8BEAE78896`). A GUID-shaped id (32 hex digits, bare or dashed
/// 8-4-4-4-12) becomes its lower-case dashed form; any other id is compared exactly.
///
/// ```
/// use graph_comms_notify::normalize_call_id;
/// assert_eq!(
///     normalize_call_id("57DAB8B1894C409AB240BD8BEAE78896"),
///     "57dab8b1-894c-409a-b240-bd8beae78896"
/// );
/// assert_eq!(normalize_call_id("Call-1"), "Call-1");
/// ```
pub fn normalize_call_id(id: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let b = id.as_bytes();
    // The usual case, checked in one pass: already a dashed GUID in lower case.
    if b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && [&b[..8], &b[9..13], &b[14..18], &b[19..23], &b[24..]]
            .iter()
            .all(|group| group.iter().all(|&c| LOWER_HEX[usize::from(c)]))
    {
        return Cow::Borrowed(id);
    }
    let dashed = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let bare = b.len() == 32 && b.iter().all(u8::is_ascii_hexdigit);
    if dashed && !b.iter().any(u8::is_ascii_uppercase) {
        return Cow::Borrowed(id);
    }
    if !dashed && !bare {
        return Cow::Borrowed(id);
    }
    let mut out = String::with_capacity(36);
    for (i, c) in b.iter().filter(|c| **c != b'-').enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(char::from(c.to_ascii_lowercase()));
    }
    Cow::Owned(out)
}

/// Classifies one routing-decoded notification without any state.
///
/// On the call itself (`/communications/calls/{id}`, `/app/calls/{id}`):
/// - state `transferring` → [`EventKind::Transferring`]; `transferAccepted` →
///   [`EventKind::TransferAccepted`];
/// - state `terminated`, or `changeType: deleted`, with sub-code 7015 (`GracefulTransferCompleted`,
///   code 0 or 2xx, numbers or numeric strings) or `terminationReason: AppTransferred` →
///   [`EventKind::Completed`]; any other end of the call is [`EventKind::Other`] here and
///   [`NotificationEvent::is_call_end`] (the tracker decides what it means for a transfer);
/// - state `established` with a `resultInfo` whose code is not a success (neither 0 nor 2xx) →
///   [`EventKind::Failed`].
///
/// On an operation of the call (`…/calls/{id}/operations/{opId}`, the older `commsOperation`
/// flow): `resultInfo.subCode` `transferring` / `transferAccepted` → [`EventKind::Transferring`] /
/// [`EventKind::TransferAccepted`]. (A `failed` operation is [`EventKind::OperationFailed`], set by
/// [`decode`], which also reads the operation's `status`.)
///
/// Everything else, including roster arrays, other sub-resources (`…/calls/{id}/participants`) and
/// unknown states → [`EventKind::Other`].
pub fn classify(n: &RoutingNotification<'_>) -> EventKind {
    let path = resource_path(n);
    let facts = Facts::read(
        n,
        path,
        operation_of(path).is_some(),
        StateClass::of(None, n.call().and_then(|c| c.state.as_deref())),
        n.change_type
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("deleted")),
    );
    classify_at(n, &facts)
}

/// What [`classify_at`] needs beyond the notification, computed once by its caller.
#[derive(Clone, Copy)]
struct Facts {
    /// The resource path is the call itself (see [`names_the_call_itself`]).
    on_call: bool,
    /// The resource path is an operation of the call (see [`operation_of`]).
    operation: bool,
    /// The call state, as far as classification is concerned.
    state: StateClass,
    /// `changeType` is `deleted` (any case).
    deleted: bool,
    /// `resultInfo.code`, when numeric.
    code: Option<i64>,
    /// `resultInfo.subcode` / `subCode`, when numeric.
    subcode: Option<i64>,
}

impl Facts {
    /// The facts of `n`, whose resource path is `path`, with what its caller has already read:
    /// whether the path is an operation, the state's class and whether the call was deleted.
    fn read(
        n: &RoutingNotification<'_>,
        path: Option<(&str, &str)>,
        operation: bool,
        state: StateClass,
        deleted: bool,
    ) -> Self {
        let info = n.call().and_then(|c| c.result_info.as_ref());
        Facts {
            on_call: names_the_call_itself(path),
            operation,
            state,
            deleted,
            code: info.and_then(|i| i.code_value()),
            subcode: info.and_then(|i| i.subcode_value()),
        }
    }
}

/// The call states [`classify`] tells apart (compared ignoring ASCII case).
#[derive(Clone, Copy, PartialEq, Eq)]
enum StateClass {
    Terminated,
    Transferring,
    TransferAccepted,
    Established,
    Other,
}

impl StateClass {
    /// The class of `raw` (the state as sent), from its exact-case parse `known` when there is one:
    /// a known spelling is one match on the enum, anything else is compared ignoring case.
    fn of(known: Option<&CallState>, raw: Option<&str>) -> Self {
        match known {
            Some(CallState::Terminated) => return StateClass::Terminated,
            Some(CallState::Transferring) => return StateClass::Transferring,
            Some(CallState::TransferAccepted) => return StateClass::TransferAccepted,
            Some(CallState::Established) => return StateClass::Established,
            Some(CallState::Unknown(_)) | None => {}
            // Another known state: none of the four above in any case.
            Some(_) => return StateClass::Other,
        }
        let raw = raw.unwrap_or_default();
        if raw.eq_ignore_ascii_case("terminated") {
            StateClass::Terminated
        } else if raw.eq_ignore_ascii_case("transferring") {
            StateClass::Transferring
        } else if raw.eq_ignore_ascii_case("transferAccepted") {
            StateClass::TransferAccepted
        } else if raw.eq_ignore_ascii_case("established") {
            StateClass::Established
        } else {
            StateClass::Other
        }
    }
}

/// `true` for a result code that means success: 0 or 2xx.
fn is_success_code(code: i64) -> bool {
    code == 0 || (200..300).contains(&code)
}

/// [`classify`] with what the notification's resource path names (see [`resource_path`]), its
/// state, deletion and result codes already read.
fn classify_at(n: &RoutingNotification<'_>, facts: &Facts) -> EventKind {
    let RoutingData::Call(call) = &n.resource_data else {
        return EventKind::Other;
    };
    let info = call.result_info.as_ref();
    if facts.operation {
        let sub = info.and_then(|i| i.sub_code.as_ref().or(i.subcode.as_ref()));
        return match sub {
            Some(RoutingCode::Str(s)) if s.eq_ignore_ascii_case("transferring") => {
                EventKind::Transferring
            }
            Some(RoutingCode::Str(s)) if s.eq_ignore_ascii_case("transferAccepted") => {
                EventKind::TransferAccepted
            }
            _ => EventKind::Other,
        };
    }
    if !facts.on_call {
        return EventKind::Other;
    }
    let Facts {
        on_call: _,
        operation: _,
        state,
        deleted,
        code,
        subcode,
    } = *facts;
    if deleted || state == StateClass::Terminated {
        let graceful =
            subcode == Some(TRANSFER_COMPLETED_SUBCODE) && code.is_none_or(is_success_code);
        let app_transferred = call
            .termination_reason
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("AppTransferred"));
        if graceful || app_transferred {
            EventKind::Completed
        } else {
            EventKind::Other
        }
    } else {
        match state {
            StateClass::Transferring => EventKind::Transferring,
            StateClass::TransferAccepted => EventKind::TransferAccepted,
            StateClass::Established => match code {
                Some(code) if !is_success_code(code) => EventKind::Failed {
                    code,
                    subcode,
                    message: info.and_then(|i| i.message.as_deref()).map(str::to_owned),
                    replaces_context: call.replaces_context.as_deref().map(str::to_owned),
                },
                _ => EventKind::Other,
            },
            StateClass::Terminated | StateClass::Other => EventKind::Other,
        }
    }
}

/// The operation id when the resource path is `…/calls/{id}/operations/{opId}`.
fn operation_of<'p>(path: Option<(&str, &'p str)>) -> Option<&'p str> {
    let (_, tail) = path?;
    let rest = tail.strip_prefix("/operations/")?;
    let id = rest.split(['/', '?', '#']).next().unwrap_or_default();
    (!id.is_empty()).then_some(id)
}

/// The sub-code of `resultInfo` that marks a completed transfer (`GracefulTransferCompleted`).
pub const TRANSFER_COMPLETED_SUBCODE: i64 = 7015;

/// `true` when the notification's resource path is the call itself (`/communications/calls/{id}`
/// or `/app/calls/{id}`), not a sub-resource such as `/participants` or `/operations/{id}`, or
/// when it names no path at all.
fn names_the_call_itself(path: Option<(&str, &str)>) -> bool {
    match path {
        None => true,
        Some((_, tail)) => matches!(
            tail.trim_end_matches('/').bytes().next(),
            None | Some(b'?' | b'#')
        ),
    }
}

/// The call id and what follows it, from `resourceUrl` when it names a call, else from the
/// legacy `resource` (the same rule as [`RoutingNotification::call_id`]).
fn resource_path<'n>(n: &'n RoutingNotification<'_>) -> Option<(&'n str, &'n str)> {
    n.resource_url
        .as_deref()
        .and_then(routing::call_path)
        .or_else(|| n.resource.as_deref().and_then(routing::call_path))
}

/// What a notification means for a transfer.
///
/// Serialized (with serde) as an object tagged by `event`, whose values are the
/// [`name`](EventKind::name)s: `{"event":"transferFailed","code":500,...}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "event")]
#[non_exhaustive]
pub enum EventKind {
    /// The call is being transferred (state `transferring`).
    #[serde(rename = "transferring")]
    Transferring,
    /// The transfer target accepted (state `transferAccepted`).
    #[serde(rename = "transferAccepted")]
    TransferAccepted,
    /// The transfer completed: state `terminated` with sub-code 7015 or `terminationReason:
    /// AppTransferred`.
    #[serde(rename = "transferCompleted")]
    Completed,
    /// The transfer failed: the call is back to `established` with an error `resultInfo`.
    #[serde(rename = "transferFailed", rename_all = "camelCase")]
    Failed {
        /// `resultInfo.code` (≥ 400).
        code: i64,
        /// `resultInfo.subcode` / `subCode`, when numeric.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
        /// `replacesContext` (consultative transfers).
        replaces_context: Option<String>,
    },
    /// An operation of the call (`…/calls/{id}/operations/{opId}`) reported `status: failed`.
    /// It is the transfer's failure only when that operation is the transfer's (the tracker knows:
    /// the operation that reported `transferring` or `transferAccepted`); a failed prompt or
    /// hold-music operation is not.
    #[serde(rename = "operationFailed", rename_all = "camelCase")]
    OperationFailed {
        /// `resultInfo.code`, when numeric.
        code: Option<i64>,
        /// `resultInfo.subcode` / `subCode`, when numeric.
        subcode: Option<i64>,
        /// `resultInfo.message`.
        message: Option<String>,
    },
    /// Anything else: other states, roster updates, operations, unknown values.
    #[serde(rename = "other")]
    Other,
}

impl EventKind {
    /// The `event` name printed by `graph-comms notify parse`: `transferring`,
    /// `transferAccepted`, `transferCompleted`, `transferFailed`, `operationFailed` or `other`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Transferring => "transferring",
            EventKind::TransferAccepted => "transferAccepted",
            EventKind::Completed => "transferCompleted",
            EventKind::Failed { .. } => "transferFailed",
            EventKind::OperationFailed { .. } => "operationFailed",
            EventKind::Other => "other",
        }
    }

    /// `true` for [`Completed`](EventKind::Completed) and [`Failed`](EventKind::Failed).
    pub fn is_final(&self) -> bool {
        matches!(self, EventKind::Completed | EventKind::Failed { .. })
    }

    /// A human explanation of a failure's sub-code, when known.
    pub fn explanation(&self) -> Option<&'static str> {
        match self {
            EventKind::Failed {
                subcode: Some(s), ..
            }
            | EventKind::OperationFailed {
                subcode: Some(s), ..
            } => explain_subcode(*s),
            _ => None,
        }
    }
}

/// What a notification's `resourceData` held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ResourceShape {
    /// No `resourceData`.
    Absent,
    /// An object (a call, an operation, …).
    Object,
    /// An array (a participant roster) with this many elements.
    Array(usize),
    /// A string, number or boolean.
    Other,
}

/// One notification of a `commsNotifications` batch, decoded and classified.
///
/// All strings are owned, so an event can be kept, sent to another task or buffered; it is plain
/// data (serde, camelCase keys), so a shared store can keep it in a transfer's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NotificationEvent {
    /// The call id, from `resourceUrl` (`/communications/calls/{id}…` or `/app/calls/{id}…`), else
    /// from the legacy `resource`.
    pub call_id: Option<String>,
    /// `changeType`.
    pub change_type: Option<ChangeType>,
    /// The call `state` from `resourceData`.
    pub state: Option<CallState>,
    /// What the notification means for a transfer.
    pub kind: EventKind,
    /// `resultInfo.code`, when numeric (a number or a numeric string).
    pub result_code: Option<i64>,
    /// `resultInfo.subcode` or `subCode`, when numeric.
    pub result_subcode: Option<i64>,
    /// `resultInfo.message`.
    pub result_message: Option<String>,
    /// `terminationReason`.
    pub termination_reason: Option<String>,
    /// `replacesContext`.
    pub replaces_context: Option<String>,
    /// `resourceUrl`, else the legacy `resource`.
    pub resource_url: Option<String>,
    /// What `resourceData` held.
    pub resource_shape: ResourceShape,
    /// The notification is about the call itself (`/communications/calls/{id}`), not one of its
    /// sub-resources (participants, operations, ...). `true` when it names no path at all.
    pub on_call: bool,
    /// The operation id, when the resource is `…/calls/{id}/operations/{opId}`.
    pub operation_id: Option<String>,
    /// The operation's `status` (`running`, `completed`, `failed`), for operation resources.
    pub operation_status: Option<String>,
    /// `resourceData` held a `resultInfo` object.
    pub has_result_info: bool,
}

impl NotificationEvent {
    /// Builds the event of one routing-decoded notification (see [`classify`]).
    pub fn from_routing(n: &RoutingNotification<'_>) -> Self {
        let call = n.call();
        let info = call.and_then(|c| c.result_info.as_ref());
        let path = resource_path(n);
        let raw_state = call.and_then(|c| c.state.as_deref());
        // Parsed once: the classification matches on these, and compares ignoring case only
        // what they do not know.
        let state = raw_state.map(CallState::from);
        let change_type = n.change_type.as_deref().map(ChangeType::from);
        let operation_id = operation_of(path);
        let facts = Facts::read(
            n,
            path,
            operation_id.is_some(),
            StateClass::of(state.as_ref(), raw_state),
            match &change_type {
                Some(ChangeType::Deleted) => true,
                Some(ChangeType::Unknown(c)) => c.eq_ignore_ascii_case("deleted"),
                _ => false,
            },
        );
        NotificationEvent {
            on_call: facts.on_call,
            operation_id: operation_id.map(str::to_owned),
            operation_status: None,
            has_result_info: info.is_some(),
            call_id: path.map(|(id, _)| id.to_owned()),
            kind: classify_at(n, &facts),
            change_type,
            state,
            result_code: facts.code,
            result_subcode: facts.subcode,
            result_message: info.and_then(|i| i.message.as_deref()).map(str::to_owned),
            termination_reason: call
                .and_then(|c| c.termination_reason.as_deref())
                .map(str::to_owned),
            replaces_context: call
                .and_then(|c| c.replaces_context.as_deref())
                .map(str::to_owned),
            resource_url: n
                .resource_url
                .as_deref()
                .or(n.resource.as_deref())
                .map(str::to_owned),
            resource_shape: match &n.resource_data {
                RoutingData::Absent => ResourceShape::Absent,
                RoutingData::Call(_) => ResourceShape::Object,
                RoutingData::Array(len) => ResourceShape::Array(*len),
                _ => ResourceShape::Other,
            },
        }
    }

    /// An event for `call_id` with the given state and kind and nothing else; handy in tests and
    /// emulators.
    ///
    /// ```
    /// use graph_comms_model::CallState;
    /// use graph_comms_notify::{EventKind, NotificationEvent};
    /// let e = NotificationEvent::new("c1", CallState::Transferring, EventKind::Transferring);
    /// assert_eq!(e.call_id.as_deref(), Some("c1"));
    /// ```
    pub fn new(call_id: impl Into<String>, state: CallState, kind: EventKind) -> Self {
        NotificationEvent {
            call_id: Some(call_id.into()),
            change_type: None,
            state: Some(state),
            kind,
            result_code: None,
            result_subcode: None,
            result_message: None,
            termination_reason: None,
            replaces_context: None,
            resource_url: None,
            resource_shape: ResourceShape::Object,
            on_call: true,
            operation_id: None,
            operation_status: None,
            has_result_info: false,
        }
    }

    /// `true` when the call itself ended, whatever the reason: state `terminated`, or
    /// `changeType: deleted` on the call's own resource (Graph deletes the call; the notification
    /// may hold nothing but `@odata.type` and `@odata.id`).
    pub fn is_call_end(&self) -> bool {
        self.on_call
            && (self.state == Some(CallState::Terminated)
                || self.change_type == Some(ChangeType::Deleted))
    }

    /// `true` for a bare deletion of the call: `changeType: deleted` on the call itself with no
    /// `state`, no `resultInfo` and no `terminationReason` (as in the `call: reject` examples).
    /// It says the call is gone, not why.
    pub fn is_bare_delete(&self) -> bool {
        self.on_call
            && self.change_type == Some(ChangeType::Deleted)
            && self.state.is_none()
            && !self.has_result_info
            && self.termination_reason.is_none()
    }

    /// A human explanation of the result sub-code, when known.
    pub fn explanation(&self) -> Option<&'static str> {
        self.result_subcode.and_then(explain_subcode)
    }

    /// The JSON object `graph-comms notify parse` prints for this event, with exactly the keys
    /// `callId`, `changeType`, `state`, `event`, `resultCode`, `resultSubcode`, `resultMessage`,
    /// `terminationReason`, `replacesContext` (in that order; `null` where absent).
    ///
    /// ```
    /// use graph_comms_model::CallState;
    /// use graph_comms_notify::{EventKind, NotificationEvent};
    /// let e = NotificationEvent::new("c1", CallState::TransferAccepted, EventKind::TransferAccepted);
    /// assert_eq!(
    ///     e.to_json_line(),
    ///     r#"{"callId":"c1","changeType":null,"state":"transferAccepted","event":"transferAccepted","resultCode":null,"resultSubcode":null,"resultMessage":null,"terminationReason":null,"replacesContext":null}"#
    /// );
    /// ```
    pub fn to_json_line(&self) -> String {
        let line = JsonLine {
            call_id: self.call_id.as_deref(),
            change_type: self.change_type.as_ref().map(ChangeType::as_str),
            state: self.state.as_ref().map(CallState::as_str),
            event: self.kind.name(),
            result_code: self.result_code,
            result_subcode: self.result_subcode,
            result_message: self.result_message.as_deref(),
            termination_reason: self.termination_reason.as_deref(),
            replaces_context: self.replaces_context.as_deref(),
        };
        // Serializing a struct of strings and integers cannot fail.
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// The `notify parse` line shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonLine<'a> {
    call_id: Option<&'a str>,
    change_type: Option<&'a str>,
    state: Option<&'a str>,
    event: &'static str,
    result_code: Option<i64>,
    result_subcode: Option<i64>,
    result_message: Option<&'a str>,
    termination_reason: Option<&'a str>,
    replaces_context: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(body: &str) -> EventKind {
        let batch = routing::from_str(body).expect("decodes");
        classify(&batch.notifications()[0])
    }

    #[test]
    fn classifies_by_state_and_result() {
        let k = kind(
            r#"{"value":[{"resourceUrl":"/communications/calls/a","resourceData":{"state":"terminated","resultInfo":{"code":"200","subcode":"7015"}}}]}"#,
        );
        assert_eq!(k, EventKind::Completed);
        let k = kind(
            r#"{"value":[{"resourceUrl":"/communications/calls/a","resourceData":{"state":"terminated","resultInfo":{"code":500,"subcode":7015}}}]}"#,
        );
        assert_eq!(k, EventKind::Other);
        let k = kind(
            r#"{"value":[{"resource":"/app/calls/a","resourceData":{"state":"terminated","terminationReason":"AppTransferred"}}]}"#,
        );
        assert_eq!(k, EventKind::Completed);
        let k = kind(
            r#"{"value":[{"resourceUrl":"/communications/calls/a","resourceData":{"state":"established","resultInfo":{"code":200}}}]}"#,
        );
        assert_eq!(k, EventKind::Other);
        let k = kind(
            r#"{"value":[{"resourceUrl":"/communications/calls/a/participants/b","resourceData":{"state":"transferring"}}]}"#,
        );
        assert_eq!(k, EventKind::Other);
        let k = kind(r#"{"value":[{"resourceData":{"state":"TRANSFERRING"}}]}"#);
        assert_eq!(k, EventKind::Transferring);
    }

    /// `from_routing` matches on the parsed state and change type and `classify` compares the
    /// raw strings: both give the same kind, whatever the case of the spelling.
    #[test]
    fn events_and_classify_agree_in_any_case() {
        let mut kinds = Vec::new();
        for state in [
            "terminated",
            "Terminated",
            "transferring",
            "TRANSFERRING",
            "transferAccepted",
            "transferaccepted",
            "established",
            "ESTABLISHED",
            "incoming",
            "unknownFutureValue",
            "",
        ] {
            for change in ["updated", "deleted", "Deleted", "created"] {
                let body = format!(
                    r#"{{"value":[{{"changeType":"{change}","resourceUrl":"/communications/calls/a","resourceData":{{"state":"{state}","resultInfo":{{"code":500,"subcode":7015}},"terminationReason":"appTransferred"}}}}]}}"#
                );
                let batch = routing::from_str(&body).expect("decodes");
                let n = &batch.notifications()[0];
                let event = NotificationEvent::from_routing(n);
                assert_eq!(event.kind, classify(n), "{body}");
                kinds.push(event.kind.name());
            }
        }
        for name in [
            "transferCompleted",
            "transferring",
            "transferAccepted",
            "transferFailed",
        ] {
            assert!(kinds.contains(&name), "{name} never produced: {kinds:?}");
        }
    }

    #[test]
    fn kinds_serialize_with_their_names() {
        let failed = EventKind::Failed {
            code: 500,
            subcode: Some(7000),
            message: None,
            replaces_context: None,
        };
        assert_eq!(
            serde_json::to_string(&failed).ok().as_deref(),
            Some(
                r#"{"event":"transferFailed","code":500,"subcode":7000,"message":null,"replacesContext":null}"#
            )
        );
        for k in [
            EventKind::Transferring,
            EventKind::TransferAccepted,
            EventKind::Completed,
            EventKind::Other,
        ] {
            assert_eq!(
                serde_json::to_value(&k).ok(),
                Some(serde_json::json!({"event": k.name()}))
            );
        }
    }

    #[test]
    fn missing_value_and_bad_json_are_errors() {
        assert_eq!(decode(b"{}"), Err(Error::MissingValue));
        let Err(Error::InvalidBody { line, column, .. }) = decode(b"{\n  \"value\": [,]}") else {
            panic!("expected InvalidBody");
        };
        assert_eq!((line, column), (2, 13));
    }
}
