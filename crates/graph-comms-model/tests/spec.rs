//! The specification's payloads: every request and notification of the `call: transfer` page
//! parses, its parsed value and re-serialization are snapshotted, and round trips lose nothing.

use graph_comms_model::{CommsNotifications, TransferRequestBody};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

/// Removes `null` members: the model treats an explicit `null` as absent (as Graph does), so a
/// round trip omits them and keeps everything else.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Parses `text` as `T`, snapshots the parsed value and its JSON, and checks that the JSON it
/// writes is the input (minus nulls) and parses back to the same value.
fn check<T>(text: &str)
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let parsed: T = serde_json::from_str(text).expect("spec payload parses");
    insta::assert_debug_snapshot!("parsed", parsed);
    insta::assert_json_snapshot!("reserialized", parsed);
    let written = serde_json::to_value(&parsed).expect("serializes");
    let original: Value = serde_json::from_str(text).expect("spec payload is JSON");
    assert_eq!(
        written,
        without_nulls(original),
        "re-serialization differs from the input"
    );
    let again: T = serde_json::from_value(written).expect("re-serialization parses");
    assert_eq!(
        again, parsed,
        "parse -> serialize -> parse is not the identity"
    );
}

#[test]
fn spec_requests() {
    insta::glob!(
        "../../../tests/fixtures/spec",
        "requests/ex?-request.json",
        |path| {
            check::<TransferRequestBody>(&std::fs::read_to_string(path).unwrap());
        }
    );
}

#[test]
fn spec_notifications() {
    insta::glob!(
        "../../../tests/fixtures/spec",
        "notifications/*.json",
        |path| {
            check::<CommsNotifications>(&std::fs::read_to_string(path).unwrap());
        }
    );
}

#[test]
fn spec_example_5_as_printed_is_not_json_and_says_where() {
    let text = include_str!("../../../tests/fixtures/spec/requests/ex5-request.original.json");
    let err = serde_json::from_str::<TransferRequestBody>(text).unwrap_err();
    assert!(err.is_syntax(), "{err}");
    assert_eq!((err.line(), err.column()), (11, 3), "{err}");
    insta::assert_snapshot!(err.to_string(), @"trailing comma at line 11 column 3");
}

#[test]
fn unknown_fields_and_values_are_kept_and_written_back() {
    let text = r#"{
        "transferTarget": {
            "endpointType": "holographic",
            "identity": {"user": {"id": "u1", "futureClaim": {"a": [1, 2]}}, "hologram": {"id": "h"}},
            "languageId": "en-us",
            "priority": 7
        },
        "clientContext": "ctx-1"
    }"#;
    let body: TransferRequestBody = serde_json::from_str(text).unwrap();
    let target = &body.transfer_target;
    assert_eq!(
        target.endpoint_type.as_ref().map(|e| e.as_str()),
        Some("holographic")
    );
    assert!(!target.endpoint_type.as_ref().unwrap().is_known());
    assert_eq!(target.additional_data["priority"], 7);
    assert_eq!(body.additional_data["clientContext"], "ctx-1");
    let identity = target.identity.as_ref().unwrap();
    assert_eq!(identity.additional_data["hologram"]["id"], "h");
    assert_eq!(
        identity.user.as_ref().unwrap().additional_data["futureClaim"]["a"][1],
        2
    );
    let written = serde_json::to_value(&body).unwrap();
    assert_eq!(written, serde_json::from_str::<Value>(text).unwrap());
}

#[test]
fn result_codes_as_numbers_or_strings_and_both_subcode_spellings() {
    let cases = [
        (r#"{"code":0,"subcode":7015}"#, Some(0), Some(7015)),
        (r#"{"code":"200","subcode":"7015"}"#, Some(200), Some(7015)),
        (r#"{"code":500,"subCode":7000}"#, Some(500), Some(7000)),
        (r#"{"code":"500","subCode":"7700"}"#, Some(500), Some(7700)),
        (r#"{"code":"5OO","subCode":" 7"}"#, None, None),
        (r#"{"message":"only"}"#, None, None),
    ];
    for (text, code, subcode) in cases {
        let r: graph_comms_model::ResultInfo = serde_json::from_str(text).unwrap();
        assert_eq!(
            (r.code_value(), r.subcode_value()),
            (code, subcode),
            "{text}"
        );
        let back = serde_json::to_string(&r).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&back).unwrap(),
            serde_json::from_str::<Value>(text).unwrap(),
            "{text}"
        );
    }
}

#[test]
fn errors_name_the_json_path() {
    let text = r#"{"transferTarget":{"identity":{"phone":{"id":12345}}}}"#;
    let err = serde_json::from_str::<TransferRequestBody>(text).unwrap_err();
    insta::assert_snapshot!(err.to_string(), @"transferTarget.identity.phone.id: invalid type: integer `12345`, expected a string at line 1 column 50");
    let missing = serde_json::from_str::<TransferRequestBody>(r#"{"transferee":{}}"#).unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("missing field `transferTarget`"),
        "{missing}"
    );
}

#[test]
fn odata_type_is_optional_and_kept_when_present() {
    let with = r##"{"@odata.type":"#microsoft.graph.identity","id":"x"}"##;
    let identity: graph_comms_model::Identity = serde_json::from_str(with).unwrap();
    assert_eq!(
        identity.odata_type.as_deref(),
        Some("#microsoft.graph.identity")
    );
    assert_eq!(serde_json::to_string(&identity).unwrap(), with);
    let without: graph_comms_model::Identity = serde_json::from_str(r#"{"id":"x"}"#).unwrap();
    assert_eq!(without.odata_type, None);
    assert_eq!(serde_json::to_string(&without).unwrap(), r#"{"id":"x"}"#);
}

/// Found by fuzzing (`transfer_validate`): a float in an unknown member must come back as the same
/// number after a round trip (serde_json's `float_roundtrip` parsing).
#[test]
fn large_floats_in_unknown_members_round_trip_exactly() {
    let text =
        r#"{"transferTarget":{"x":7.777777777777777e+89,"y":-1.0000000000000002,"z":5e-324}}"#;
    let body: TransferRequestBody = serde_json::from_str(text).unwrap();
    let again: TransferRequestBody =
        serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
    assert_eq!(again, body);
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::from_str::<Value>(text).unwrap()
    );
}

/// Found by fuzzing the receiver: invalid UTF-8 inside a member the routing decode skips was
/// accepted. JSON is UTF-8: the whole body is refused, with where.
#[test]
fn routing_decode_refuses_invalid_utf8_anywhere() {
    let bodies: [&[u8]; 3] = [
        b"{\"value\":[{\"resourceUrl\":\"/communications/calls/c1\",\"resourceData\":{\"state\":\"transferring\"},\"x\":\"\xff\xfe\"}]}",
        b"{\"value\":[],\"\xc3\x28\":\"\xed\xa0\x80\"}",
        b"{\"value\":[\n{\"\xff\":1}]}",
    ];
    let positions = [(1, 98), (1, 14), (2, 3)];
    for (body, (line, column)) in bodies.iter().zip(positions) {
        let err = graph_comms_model::routing::from_slice(body).unwrap_err();
        assert_eq!((err.line(), err.column()), (line, column), "{err}");
        assert!(err.to_string().starts_with("invalid UTF-8"), "{err}");
        assert!(serde_json::from_slice::<CommsNotifications>(body).is_err());
    }
}
