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

/// `to_json_vec`, what the client sends every body with, writes what `serde_json::to_vec` writes
/// for every JSON file of Microsoft's payloads (requests and notifications, read as values).
#[test]
fn to_json_vec_matches_serde_json_on_every_shared_payload() {
    let Some(shared) = shared_dir() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the shared payloads are missing under CI"
        );
        return;
    };
    let files = files_with_suffix(&shared.join("graph-payloads"), ".json");
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let ours = graph_comms_transfer::to_json_vec(&value).expect("serializes");
        assert_eq!(
            ours,
            serde_json::to_vec(&value).expect("serializes"),
            "{}",
            file.display()
        );
        checked += 1;
    }
    assert!(checked > 100, "only {checked} JSON payloads found");
}

/// The call-control bodies the client sends, built by their builders.
#[test]
fn to_json_vec_matches_serde_json_on_call_control_bodies() {
    use graph_comms_transfer::control::{Answer, OutgoingCall, Redirect, Reject, Target};
    use graph_comms_transfer::{to_json_vec, CallContext, E164};
    fn same<T: serde::Serialize>(body: &T) {
        let ours = to_json_vec(body).expect("serializes");
        let theirs = serde_json::to_vec(body).expect("serializes");
        assert_eq!(String::from_utf8(ours), String::from_utf8(theirs));
    }
    let tenant = guid("aa67bd4c-8475-432d-bd41-39f255720e0a");
    let user = guid("98da8a1a-1b87-452c-a713-65d3f10b1253");
    let instance = guid("3d913abb-aec0-4964-8fa6-3c6850c4f278");
    let ctx = CallContext::peer().with_tenant(tenant);
    let callback = "https://bot.contoso.com/api/calls?state=%22quoted%22";
    same(&Answer::new(callback).build_for(&ctx).expect("valid").0);
    same(
        &Reject::busy()
            .callback_uri(callback)
            .build_for(&ctx)
            .expect("valid")
            .0,
    );
    same(
        &Redirect::to(Target::teams_user(user, tenant))
            .timeout(30)
            .callback_uri(callback)
            .build_for(&ctx)
            .expect("valid")
            .0,
    );
    let phone = E164::parse("+12345678901").expect("E.164");
    same(
        &OutgoingCall::to_phone(callback, phone, instance, tenant)
            .build_for(&ctx)
            .expect("valid")
            .0,
    );
}
