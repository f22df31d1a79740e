//! `to_json` writes exactly what `serde_json` writes: for every documented transfer body, for
//! every ASCII byte at every offset of strings around the eight-byte scan's boundaries, and for
//! arbitrary strings and extra JSON values.

use graph_comms_model::{EndpointType, TransferRequestBody};
use graph_comms_testkit::{files_with_suffix, shared_dir};
use graph_comms_transfer::{to_json, Guid, Transfer, Transferee};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn assert_same_as_serde_json(body: &TransferRequestBody) {
    let ours = to_json(body).expect("serializes");
    let theirs = serde_json::to_vec(body).expect("serializes");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
    assert_eq!(ours, theirs);
}

fn guid(s: &str) -> Guid {
    Guid::parse(s).expect("a GUID")
}

/// Example 5 of the page with the given strings.
fn body(display_name: &str, language_id: &str, participant_id: &str) -> TransferRequestBody {
    let tenant = guid("72f988bf-86f1-41af-91ab-2d7cd011db47");
    Transfer::to_teams_user(guid("550fae72-d251-43ec-868c-373732c2704f"), tenant)
        .display_name(display_name)
        .endpoint_type(EndpointType::Default)
        .language_id(language_id)
        .region("region-value")
        .transferee(Transferee::teams_user(
            guid("751f6800-3180-414d-bd94-333364659951"),
            tenant,
            participant_id,
        ))
        .build()
}

#[test]
fn documented_bodies_are_written_as_serde_json_writes_them() {
    let Some(shared) = shared_dir() else { return };
    let root = shared.join("graph-payloads");
    let mut bodies = 0;
    for path in files_with_suffix(&root, "-request.json") {
        if !path.to_string_lossy().contains("call-transfer") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("a corpus file is readable");
        // Some documented bodies are broken JSON; those have nothing to write.
        if let Ok(body) = serde_json::from_slice::<TransferRequestBody>(&bytes) {
            assert_same_as_serde_json(&body);
            bodies += 1;
        }
    }
    assert!(bodies >= 10, "{bodies} documented bodies read");
}

#[test]
fn every_ascii_byte_at_every_offset_is_escaped_as_serde_json_does() {
    for len in 0..20 {
        for at in 0..len {
            for byte in 0..0x80u8 {
                let mut s = vec![b'x'; len];
                s[at] = byte;
                let s = String::from_utf8(s).expect("ASCII");
                assert_same_as_serde_json(&body(&s, "a\u{e9}\u{1f600}", &s));
            }
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".*", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn any_strings_and_extra_values_are_written_as_serde_json_writes_them(
        display_name in ".*",
        language_id in "[\\x00-\\x7f]{0,40}",
        participant_id in any::<String>(),
        extra in prop::collection::btree_map(".*", json_value(), 0..4),
    ) {
        let mut b = body(&display_name, &language_id, &participant_id);
        b.additional_data = extra.clone().into_iter().collect();
        b.transfer_target.additional_data = extra.into_iter().collect();
        assert_same_as_serde_json(&b);
    }
}
