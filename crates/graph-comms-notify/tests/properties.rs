//! Property tests: any permutation or duplication of a flow's notifications that Graph can produce,
//! with unrelated notifications mixed in and `track` called at any point, gives the ordered flow's
//! outcome. Orders Graph cannot produce are excluded per flow: a bare `deleted` (which is inferred
//! from what came before it) stays after `transferAccepted`, and an operation's failure after the
//! operation's `transferring`; duplicates may come anywhere after their original.

mod common;

use common::*;
use graph_comms_notify::{
    decode, NotificationEvent, TrackOptions, TrackerConfig, TransferOutcome, TransferTracker,
};
use proptest::prelude::*;

const CALL: &str = "c0ffee00-0000-4000-8000-000000000001";
const CONSULT: &str = "c0ffee00-0000-4000-8000-000000000002";

/// A flow: its notifications in Graph's order, whether it is consultative, its outcome, and the
/// pairs `(a, b)` where every delivery of notification `b` comes after the first of `a`.
type Flow = (
    Vec<NotificationEvent>,
    bool,
    TransferOutcome,
    Vec<(usize, usize)>,
);

/// The call as the older payloads spell it: upper case, no dashes.
const CALL_OLD_SPELLING: &str = "C0FFEE00000040008000000000000001";

fn op_note(call: &str, op: &str, change: &str, data: &str) -> NotificationEvent {
    let body = format!(
        r#"{{"value":[{{"changeType":"{change}","resource":"/app/calls/{call}/operations/{op}","resourceData":{data}}}]}}"#
    );
    decode(body.as_bytes()).expect("decodes").remove(0)
}

fn op_step(call: &str, step: &str) -> NotificationEvent {
    op_note(
        call,
        "0FE0623FD62842EDB4BD8AC290072CC5",
        "updated",
        &format!(
            r##"{{"@odata.type":"#microsoft.graph.commsOperation","resultInfo":{{"code":"200","subCode":"{step}"}},"status":"running"}}"##
        ),
    )
}

fn op_failed(call: &str, op: &str, odata_type: &str) -> NotificationEvent {
    op_note(
        call,
        op,
        "deleted",
        &format!(
            r##"{{"@odata.type":"#microsoft.graph.{odata_type}","resultInfo":{{"code":"500","subCode":"7000","message":"<message>"}},"status":"failed"}}"##
        ),
    )
}

fn flows() -> Vec<Flow> {
    let old = CALL_OLD_SPELLING;
    let failed_direct = TransferOutcome::Failed {
        code: Some(500),
        subcode: Some(7000),
        message: Some("<message>".into()),
        replaces_context: None,
        termination_reason: None,
        inferred: false,
        late: false,
    };
    let mut consult_failure = failed(CALL, 7700);
    consult_failure.replaces_context = Some("<replacesContext>".into());
    if let graph_comms_notify::EventKind::Failed {
        replaces_context, ..
    } = &mut consult_failure.kind
    {
        *replaces_context = Some("<replacesContext>".into());
    }
    let failed_consultative = TransferOutcome::Failed {
        code: Some(500),
        subcode: Some(7700),
        message: Some("<message>".into()),
        replaces_context: Some("<replacesContext>".into()),
        termination_reason: None,
        inferred: false,
        late: false,
    };
    let bare_delete = note(
        CALL,
        "deleted",
        r##"{"@odata.type":"#microsoft.graph.call","@odata.id":"/communications/calls/c0ffee00-0000-4000-8000-000000000001"}"##,
    );
    let deleted_hung_up = note(
        CALL,
        "deleted",
        r#"{"resultInfo":{"code":200,"subcode":5001,"message":"The conversation has ended."}}"#,
    );
    let established_400 = note(
        CALL,
        "updated",
        r#"{"state":"established","resultInfo":{"code":400,"subcode":7505}}"#,
    );
    let call_ended = |code, subcode, message: &str| TransferOutcome::CallEnded {
        code,
        subcode,
        message: Some(message.into()),
        termination_reason: None,
        inferred: false,
        late: false,
    };
    let mut all: Vec<Flow> = vec![
        (
            vec![transferring(CALL), accepted(CALL), bare_delete],
            false,
            TransferOutcome::completed(true),
            vec![(1, 2)],
        ),
        (
            vec![
                op_step(old, "transferring"),
                op_step(old, "transferAccepted"),
                app_transferred(CALL),
            ],
            false,
            done_app(),
            vec![],
        ),
        (
            vec![
                op_step(old, "transferring"),
                op_failed(old, "0FE0623FD62842EDB4BD8AC290072CC5", "commsOperation"),
            ],
            false,
            TransferOutcome::Failed {
                code: Some(500),
                subcode: Some(7000),
                message: Some("<message>".into()),
                replaces_context: None,
                termination_reason: None,
                inferred: false,
                late: false,
            },
            vec![(0, 1)],
        ),
        (
            vec![transferring(CALL), deleted_hung_up],
            false,
            call_ended(Some(200), Some(5001), "The conversation has ended."),
            vec![],
        ),
        (
            vec![transferring(CALL), established_400],
            false,
            TransferOutcome::Failed {
                code: Some(400),
                subcode: Some(7505),
                message: None,
                replaces_context: None,
                termination_reason: None,
                inferred: false,
                late: false,
            },
            vec![],
        ),
    ];
    let classic: Vec<(Vec<NotificationEvent>, bool, TransferOutcome)> = vec![
        (
            vec![transferring(CALL), accepted(CALL), completed(CALL)],
            false,
            done_7015(),
        ),
        (
            vec![transferring(CALL), accepted(CALL), failed(CALL, 7000)],
            false,
            failed_direct,
        ),
        (
            vec![transferring(CALL), completed(CALL)],
            false,
            done_7015(),
        ),
        (
            vec![
                transferring(CALL),
                accepted(CALL),
                app_transferred(CALL),
                app_transferred(CONSULT),
            ],
            true,
            done_app(),
        ),
        (
            vec![transferring(CALL), accepted(CALL), consult_failure],
            true,
            failed_consultative,
        ),
        (
            vec![transferring(CALL), hung_up(CALL)],
            false,
            TransferOutcome::CallEnded {
                code: Some(200),
                subcode: Some(5001),
                message: Some("The conversation has ended.".into()),
                termination_reason: None,
                inferred: false,
                late: false,
            },
        ),
    ];
    all.extend(classic.into_iter().map(|(e, c, o)| (e, c, o, vec![])));
    all
}

/// Moves every delivery of `b` that precedes the first delivery of `a` to just after it.
fn respect(order: &mut Vec<usize>, after: &[(usize, usize)]) {
    for &(a, b) in after {
        let Some(first_a) = order.iter().position(|&i| i == a) else {
            continue;
        };
        let early: Vec<usize> = order[..first_a]
            .iter()
            .copied()
            .filter(|&i| i == b)
            .collect();
        if early.is_empty() {
            continue;
        }
        order.retain({
            let mut seen = 0;
            let n = early.len();
            move |&i| {
                if i == b && seen < n {
                    seen += 1;
                    false
                } else {
                    true
                }
            }
        });
        let first_a = order.iter().position(|&i| i == a).unwrap_or(order.len());
        for (k, i) in early.into_iter().enumerate() {
            order.insert(first_a + 1 + k, i);
        }
    }
}

/// Notifications about other things on the same callback.
fn noise() -> Vec<NotificationEvent> {
    let mut out = vec![
        roster(CALL),
        roster("someone-else"),
        transferring("someone-else"),
        // A failed prompt on the same call is not the transfer's failure.
        op_failed(
            CALL,
            "11112222333344445555666677778888",
            "playPromptOperation",
        ),
        note(
            "someone-else",
            "deleted",
            r##"{"@odata.type":"#microsoft.graph.call"}"##,
        ),
    ];
    let body = br##"{"value":[{"changeType":"updated",
      "resourceUrl":"/communications/calls/c0ffee00-0000-4000-8000-000000000001/operations/op1",
      "resourceData":{"@odata.type":"#microsoft.graph.commsOperation","status":"completed",
        "resultInfo":{"code":500,"subcode":7000}}}]}"##;
    out.extend(decode(body).expect("decodes"));
    out
}

/// (flow index, delivery order as indices into flow + noise, where `track` happens).
fn deliveries() -> impl Strategy<Value = (usize, Vec<usize>, usize)> {
    let n_flows = flows().len();
    let n_noise = noise().len();
    (0..n_flows).prop_flat_map(move |flow| {
        let len = flows()[flow].0.len();
        let total = len + n_noise;
        (
            Just(flow),
            prop::collection::vec(0..total, 0..6),
            0..=len + 6 + n_noise,
        )
            .prop_flat_map(move |(flow, extra, track_at)| {
                // Every notification of the flow at least once, plus duplicates and noise.
                let mut order: Vec<usize> = (0..len).collect();
                order.extend(extra);
                (Just(flow), Just(order).prop_shuffle(), Just(track_at))
            })
    })
}

/// Delivers `flow` in `order` (with noise), calling `track` after `track_at` deliveries, to a
/// tracker made by `new_tracker`, and checks the ordered flow's outcome.
fn ordered_outcome(
    new_tracker: fn(TrackerConfig) -> TransferTracker,
    flow: usize,
    order: Vec<usize>,
    track_at: usize,
) -> Result<(), TestCaseError> {
    let (events, consultative, expected, after) = flows().swap_remove(flow);
    let mut order = order;
    respect(&mut order, &after);
    let noise = noise();
    let pick = |i: usize| {
        if i < events.len() {
            &events[i]
        } else {
            &noise[i - events.len()]
        }
    };
    let mut config = TrackerConfig::default();
    config.max_buffered_per_call = 64;
    let tracker = new_tracker(config);
    let options = if consultative {
        TrackOptions::consultative(CONSULT)
    } else {
        TrackOptions::default()
    };
    let track_at = track_at.min(order.len());
    for &i in &order[..track_at] {
        tracker.apply(pick(i));
    }
    let handle = tracker.track_with(CALL, options).expect("tracks");
    for &i in &order[track_at..] {
        tracker.apply(pick(i));
    }
    prop_assert_eq!(handle.outcome(), Some(expected));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_order_and_duplication_gives_the_ordered_outcome((flow, order, track_at) in deliveries()) {
        ordered_outcome(memory_tracker, flow, order, track_at)?;
    }

    /// The same over a store that serializes every record through JSON: the state machine needs
    /// nothing but a record's plain data.
    #[test]
    fn the_outcome_is_the_same_over_a_serializing_store((flow, order, track_at) in deliveries()) {
        ordered_outcome(json_tracker, flow, order, track_at)?;
    }
}

/// Any JSON value.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[a-zA-Z0-9 \"\\\\/é]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("transferring"),
            Just("transferAccepted"),
            Just("terminated"),
            Just("established"),
            Just("7015"),
            Just("AppTransferred"),
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let key = prop_oneof![
            Just("state".to_owned()),
            Just("resultInfo".to_owned()),
            Just("code".to_owned()),
            Just("subcode".to_owned()),
            Just("subCode".to_owned()),
            Just("message".to_owned()),
            Just("terminationReason".to_owned()),
            Just("replacesContext".to_owned()),
            "[a-z@.]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key, inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever `resourceData` holds, a notification decodes (never an error) and its call id is
    /// read.
    #[test]
    fn any_resource_data_decodes(data in json_value(), change in "[a-z]{0,8}") {
        let body = serde_json::json!({
            "value": [{
                "changeType": change,
                "resourceUrl": "/communications/calls/abc",
                "resourceData": data,
            }]
        });
        let bytes = serde_json::to_vec(&body).expect("serializes");
        let events = decode(&bytes).expect("any resourceData decodes");
        prop_assert_eq!(events.len(), 1);
        prop_assert_eq!(events[0].call_id.as_deref(), Some("abc"));
        prop_assert_eq!(events[0].to_json_line().lines().count(), 1);
    }

    /// Arbitrary bytes never panic: they decode or fail with a position.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        match decode(&bytes) {
            Ok(_) | Err(graph_comms_notify::Error::MissingValue) => {}
            Err(graph_comms_notify::Error::InvalidBody { line, column, .. }) => {
                prop_assert!(line >= 1 && column >= 1);
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}
