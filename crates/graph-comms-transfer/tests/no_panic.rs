//! No input, however malformed, panics the parser and validator: arbitrary bytes, arbitrary JSON,
//! and JSON shaped like a transfer body with arbitrary values in every known field.

use graph_comms_transfer::{
    call_path_segment, validate, validate_json, CallContext, CallId, Guid, E164,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys a transfer body uses, so generated objects reach every rule; plus a few unknown ones.
const KEYS: &[&str] = &[
    "transferTarget",
    "transferee",
    "identity",
    "user",
    "phone",
    "application",
    "applicationInstance",
    "guest",
    "device",
    "id",
    "tenantId",
    "displayName",
    "participantId",
    "replacesCallId",
    "endpointType",
    "hidden",
    "languageId",
    "region",
    "@odata.type",
    "x-unknown",
];

/// Strings near the edges of the rules.
fn edgy_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("+".to_owned()),
        Just("+12345678901".to_owned()),
        Just("341a0500-d4bf-4224-8b19-1581168d328b".to_owned()),
        Just("341a0500d4bf42248b191581168d328b".to_owned()),
        Just("72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned()),
        Just("default".to_owned()),
        "\\PC{0,40}",
        "[+0-9a-fA-F -]{0,40}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        edgy_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                let map: Map<String, Value> =
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                Value::Object(map)
            }),
        ]
    })
}

fn contexts() -> Vec<CallContext> {
    let tenant = Guid::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").ok();
    let mut group = CallContext::group().with_application_instance(true);
    group.tenant_id = tenant;
    vec![
        CallContext::peer(),
        CallContext::peer().with_call_id("341a0500-d4bf-4224-8b19-1581168d328b"),
        CallContext::peer().with_call_id("not a call id"),
        group,
    ]
}

fn exercise(bytes: &[u8]) {
    for ctx in contexts() {
        if let Ok((body, report)) = validate_json(bytes, &ctx) {
            // Every violation renders as one line, `path: message`.
            let text = report.to_string();
            assert_eq!(text.lines().count(), report.violations().len(), "{text}");
            for (line, v) in text.lines().zip(report.violations()) {
                assert!(line.starts_with(v.path()), "{line:?} names {:?}", v.path());
            }
            // The report is an error exactly when it holds one.
            assert_eq!(
                report.clone().into_result().is_err(),
                report.has_errors(),
                "{text}"
            );
            // The typed body validates again, with no error the JSON check did not find, and
            // serializes to JSON that reads back.
            let again = validate(&body, &ctx);
            if !report.has_errors() {
                assert!(!again.has_errors(), "{text} then {again}");
            }
            let json = serde_json::to_vec(&body).expect("a typed body serializes");
            assert!(
                validate_json(&json, &ctx).is_ok(),
                "{}",
                String::from_utf8_lossy(&json)
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        exercise(v.to_string().as_bytes());
    }

    #[test]
    fn body_shaped_json_never_panics(
        target in json_value(),
        identity in json_value(),
        kind in prop::sample::select(KEYS),
        inner in json_value(),
        transferee in json_value(),
    ) {
        let body = serde_json::json!({
            "transferTarget": {"identity": identity, kind: inner, "replacesCallId": target},
            "transferee": transferee,
        });
        exercise(body.to_string().as_bytes());
        let body = serde_json::json!({
            "transferTarget": {"identity": {kind: {"id": inner, "tenantId": target}}},
            "transferee": {"identity": {kind: transferee}, "participantId": identity},
        });
        exercise(body.to_string().as_bytes());
    }

    #[test]
    fn newtype_parsers_never_panic(s in "\\PC{0,64}") {
        // What parses prints as what parses again, to the same value.
        if let Ok(e) = E164::parse(&s) {
            prop_assert_eq!(E164::parse(e.as_ref()).ok(), Some(e));
        }
        if let Ok(g) = Guid::parse(&s) {
            prop_assert_eq!(Guid::parse(&g.to_string()).ok(), Some(g));
        }
        if let Ok(id) = CallId::parse(&s) {
            prop_assert_eq!(id.to_path_segment(), s.clone());
        }
        if let Ok(seg) = call_path_segment(&s) {
            // The segment is never raw: it holds no character that could change the URL's shape.
            prop_assert!(seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        }
    }
}

#[test]
fn deeply_nested_json_is_refused_not_a_crash() {
    let deep = format!(
        "{{\"transferTarget\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let err = validate_json(deep.as_bytes(), &CallContext::peer()).unwrap_err();
    assert!(err.to_string().contains("recursion limit"), "{err}");
}
