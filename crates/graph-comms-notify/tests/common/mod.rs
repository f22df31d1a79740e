//! Notification builders shared by the tracker tests.

#![allow(dead_code, unreachable_pub)]

use graph_comms_notify::{decode, NotificationEvent};

/// The one event of a batch with a single call notification.
pub fn note(call: &str, change_type: &str, resource_data: &str) -> NotificationEvent {
    let body = format!(
        r#"{{"value":[{{"changeType":"{change_type}","resourceUrl":"/communications/calls/{call}","resourceData":{resource_data}}}]}}"#
    );
    decode(body.as_bytes())
        .expect("test bodies decode")
        .remove(0)
}

pub fn transferring(call: &str) -> NotificationEvent {
    note(call, "updated", r#"{"state":"transferring"}"#)
}

pub fn accepted(call: &str) -> NotificationEvent {
    note(call, "updated", r#"{"state":"transferAccepted"}"#)
}

pub fn completed(call: &str) -> NotificationEvent {
    note(
        call,
        "deleted",
        r#"{"state":"terminated","resultInfo":{"code":0,"subcode":7015,"message":"GracefulTransferCompleted"}}"#,
    )
}

pub fn app_transferred(call: &str) -> NotificationEvent {
    note(
        call,
        "deleted",
        r#"{"state":"terminated","terminationReason":"AppTransferred"}"#,
    )
}

pub fn failed(call: &str, subcode: i64) -> NotificationEvent {
    note(
        call,
        "updated",
        &format!(
            r#"{{"state":"established","resultInfo":{{"code":500,"subCode":{subcode},"message":"<message>"}}}}"#
        ),
    )
}

pub fn hung_up(call: &str) -> NotificationEvent {
    note(
        call,
        "deleted",
        r#"{"state":"terminated","resultInfo":{"code":200,"subcode":"5001","message":"The conversation has ended."}}"#,
    )
}

pub fn roster(call: &str) -> NotificationEvent {
    let body = format!(
        r#"{{"value":[{{"changeType":"updated","resourceUrl":"/communications/calls/{call}/participants","resourceData":[{{"id":"p1"}}]}}]}}"#
    );
    decode(body.as_bytes())
        .expect("test bodies decode")
        .remove(0)
}

/// The outcome of [`completed`]: 0/7015 with its message.
pub fn done_7015() -> graph_comms_notify::TransferOutcome {
    graph_comms_notify::TransferOutcome::Completed {
        code: Some(0),
        subcode: Some(7015),
        message: Some("GracefulTransferCompleted".into()),
        termination_reason: None,
        inferred: false,
        late: false,
    }
}

/// The outcome of [`app_transferred`].
pub fn done_app() -> graph_comms_notify::TransferOutcome {
    graph_comms_notify::TransferOutcome::Completed {
        code: None,
        subcode: None,
        message: None,
        termination_reason: Some("AppTransferred".into()),
        inferred: false,
        late: false,
    }
}
