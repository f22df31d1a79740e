//! Every valid notification body of the shared payload corpus (`../shared/graph-payloads/`) decodes
//! and classifies: old formats too (string codes, `subCode`, `/app/calls`, `resource` beside or
//! instead of `resourceUrl`), roster arrays, operations. The routing-only decode agrees with the
//! lossless model on every field both read.

use std::path::{Path, PathBuf};

use graph_comms_model::{CommsNotifications, ResourceData};
use graph_comms_notify::{decode, NotificationEvent};

/// Every `*.json` of the corpus that is a JSON object with a `value` array (a notification body),
/// with its bytes.
fn notification_bodies() -> Option<Vec<(PathBuf, Vec<u8>)>> {
    let shared = graph_comms_testkit::shared_dir()?;
    let root = shared.join("graph-payloads");
    let mut out = Vec::new();
    for path in graph_comms_testkit::files_with_suffix(&root, ".json") {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue; // invalid JSON is kept in the corpus on purpose
        };
        if value.get("value").is_some_and(serde_json::Value::is_array) {
            let rel = path.strip_prefix(&root).unwrap_or(&path).to_path_buf();
            out.push((rel, bytes));
        }
    }
    Some(out)
}

/// The event a transfer notification of the corpus must have, from its directory and file name;
/// `None` for files that are not transfer notifications.
fn expected_event(path: &Path) -> Option<&'static str> {
    let text = path.to_string_lossy();
    if !text.contains("call-transfer--") || !text.contains("notification") {
        return None;
    }
    // 2019: transferring / accepted arrive as commsOperation updates whose `resultInfo.subCode`
    // names the step; they are the same steps.
    let table: [(&str, &str); 5] = [
        ("-transferring.json", "transferring"),
        ("-transfer-accepted.json", "transferAccepted"),
        ("-transfer-completed.json", "transferCompleted"),
        ("-terminated.json", "transferCompleted"),
        ("-transfer-failed.json", "transferFailed"),
    ];
    table
        .iter()
        .find(|(suffix, _)| text.ends_with(suffix))
        .map(|(_, event)| *event)
}

#[test]
fn every_notification_body_decodes_and_classifies() {
    let Some(bodies) = notification_bodies() else {
        return;
    };
    assert!(bodies.len() >= 200, "found only {} bodies", bodies.len());
    let mut transfer_files = 0;
    let mut summary = String::new();
    for (path, bytes) in &bodies {
        let name = path.display();
        let events = decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let model: CommsNotifications =
            serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: model: {e}"));
        let model_value = model.value.unwrap_or_default();
        assert_eq!(events.len(), model_value.len(), "{name}");
        for (i, (event, n)) in events.iter().zip(&model_value).enumerate() {
            assert_eq!(event.change_type, n.change_type, "{name}[{i}] changeType");
            if let Some(call) = n.resource_data.as_ref().and_then(ResourceData::as_call) {
                assert_eq!(event.state, call.state, "{name}[{i}] state");
                let info = call.result_info.as_ref();
                assert_eq!(
                    event.result_code,
                    info.and_then(|r| r.code_value()),
                    "{name}[{i}]"
                );
                assert_eq!(
                    event.result_subcode,
                    info.and_then(|r| r.subcode_value()),
                    "{name}[{i}]"
                );
                assert_eq!(
                    event.termination_reason, call.termination_reason,
                    "{name}[{i}]"
                );
                assert_eq!(event.replaces_context, call.replaces_context, "{name}[{i}]");
            }
            if n.resource_url.is_some() || n.resource.is_some() {
                assert!(
                    event.call_id.is_some(),
                    "{name}[{i}]: every path names a call"
                );
            }
            summary.push_str(&summary_line(&name.to_string(), i, event));
        }
        if let Some(expected) = expected_event(path) {
            transfer_files += 1;
            assert_eq!(events[0].kind.name(), expected, "{name}");
        } else if !path.to_string_lossy().contains("call-transfer--") {
            // Outside the transfer pages nothing is a transfer step (a failed operation is
            // named, but only the transfer's own operation fails a transfer).
            for event in &events {
                assert!(
                    matches!(event.kind.name(), "other" | "operationFailed"),
                    "{name}: {}",
                    event.kind.name()
                );
            }
        }
    }
    assert_eq!(transfer_files, 110, "transfer notifications of the corpus");
    insta::assert_snapshot!(summary);
}

fn summary_line(name: &str, i: usize, e: &NotificationEvent) -> String {
    let show = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    format!(
        "{name}[{i}] {} call={} state={} code={} subcode={}\n",
        e.kind.name(),
        e.call_id.as_deref().unwrap_or("-"),
        e.state.as_ref().map_or("-", |s| s.as_str()),
        show(e.result_code),
        show(e.result_subcode),
    )
}
