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

/// A store that keeps every record as a JSON string and indexes consultation calls by id, as a
/// store shared by several processes would: every read deserializes a record and every change
/// serializes it back, so the tracker works only if records are plain data.
#[derive(Debug, Default)]
pub struct JsonStore {
    records: std::collections::HashMap<String, String>,
    consultations: std::collections::HashMap<String, String>,
    /// Records serialized so far (every insert and update writes one).
    pub writes: u64,
    /// A copy of what the store holds, for a test to look at.
    view: Option<std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>>,
}

/// What a [`JsonStore`] holds: call id → its record as JSON.
pub type JsonView = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>;

impl JsonStore {
    /// A store whose records a test can read through the returned view.
    pub fn with_view() -> (Self, JsonView) {
        let view = JsonView::default();
        let store = JsonStore {
            view: Some(view.clone()),
            ..JsonStore::default()
        };
        (store, view)
    }

    fn mirror(&self, call_id: &str) {
        if let Some(view) = &self.view {
            let mut view = view.lock().expect("view lock");
            match self.records.get(call_id) {
                Some(json) => view.insert(call_id.to_owned(), json.clone()),
                None => view.remove(call_id),
            };
        }
    }

    fn load(&self, call_id: &str) -> Option<graph_comms_notify::TransferRecord> {
        let json = self.records.get(call_id)?;
        Some(serde_json::from_str(json).expect("stored records deserialize"))
    }

    fn save(&mut self, record: &graph_comms_notify::TransferRecord) {
        let json = serde_json::to_string(record).expect("records serialize");
        self.writes += 1;
        self.records.insert(record.call_id.clone(), json);
        self.mirror(&record.call_id);
    }
}

impl graph_comms_notify::TransferStore for JsonStore {
    fn insert(
        &mut self,
        record: graph_comms_notify::TransferRecord,
    ) -> graph_comms_notify::Result<()> {
        let taken =
            |s: &Self, id: &str| s.records.contains_key(id) || s.consultations.contains_key(id);
        if taken(self, &record.call_id) {
            return Err(graph_comms_notify::Error::AlreadyTracking {
                call_id: record.call_id,
            });
        }
        if let Some(consultation) = &record.replaces_call_id {
            if taken(self, consultation) || *consultation == record.call_id {
                return Err(graph_comms_notify::Error::AlreadyTracking {
                    call_id: consultation.clone(),
                });
            }
            self.consultations
                .insert(consultation.clone(), record.call_id.clone());
        }
        self.save(&record);
        Ok(())
    }

    fn update(
        &mut self,
        call_id: &str,
        change: &mut dyn FnMut(
            graph_comms_notify::CallRole,
            &mut graph_comms_notify::TransferRecord,
        ),
    ) -> bool {
        let (role, primary) = if self.records.contains_key(call_id) {
            (
                graph_comms_notify::CallRole::Transferred,
                call_id.to_owned(),
            )
        } else if let Some(primary) = self.consultations.get(call_id) {
            (graph_comms_notify::CallRole::Consultation, primary.clone())
        } else {
            return false;
        };
        let Some(mut record) = self.load(&primary) else {
            return false;
        };
        change(role, &mut record);
        assert_eq!(record.call_id, primary, "a change keeps the record's key");
        self.save(&record);
        true
    }

    fn read(
        &self,
        call_id: &str,
        read: &mut dyn FnMut(&graph_comms_notify::TransferRecord),
    ) -> bool {
        match self.load(call_id) {
            Some(record) => {
                read(&record);
                true
            }
            None => false,
        }
    }

    fn remove(
        &mut self,
        call_id: &str,
        attempt: u64,
    ) -> Option<graph_comms_notify::TransferRecord> {
        let record = self.load(call_id)?;
        if record.attempt != attempt {
            return None;
        }
        self.records.remove(call_id);
        self.mirror(call_id);
        if let Some(consultation) = &record.replaces_call_id {
            self.consultations.remove(consultation);
        }
        Some(record)
    }

    fn len(&self) -> usize {
        self.records.len()
    }
}

/// A tracker over the in-memory store.
pub fn memory_tracker(
    config: graph_comms_notify::TrackerConfig,
) -> graph_comms_notify::TransferTracker {
    graph_comms_notify::TransferTracker::new(config)
}

/// A tracker over [`JsonStore`].
pub fn json_tracker(
    config: graph_comms_notify::TrackerConfig,
) -> graph_comms_notify::TransferTracker {
    graph_comms_notify::TransferTracker::with_store(config, JsonStore::default())
}
