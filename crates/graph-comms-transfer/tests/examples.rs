//! The five request bodies of the `call: transfer` page, built through the typed API: each is
//! snapshot-tested and equal, field for field, to the page's body (example 5 corrected).

use graph_comms_model::{EndpointType, TransferRequestBody};
use graph_comms_transfer::{
    to_json, validate, validate_json, CallContext, CallId, Guid, Transfer, Transferee, E164,
};
use serde_json::Value;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const HEIDI: &str = "550fae72-d251-43ec-868c-373732c2704f";
const CONSULTATION_CALL: &str = "e5d39592-99bd-4db8-bca8-30fb894ec51d";
const TRANSFERRED_CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";

fn guid(s: &str) -> Guid {
    Guid::parse(s).expect("a GUID of the spec page")
}

fn example1() -> TransferRequestBody {
    Transfer::to_teams_user(guid(HEIDI), guid(TENANT))
        .display_name("Heidi Steen")
        .endpoint_type(EndpointType::Default)
        .language_id("languageId-value")
        .region("region-value")
        .build()
}

fn example2() -> TransferRequestBody {
    Transfer::to_teams_user(guid(HEIDI), guid(TENANT))
        .display_name("Heidi Steen")
        .endpoint_type(EndpointType::Default)
        .language_id("en-us")
        .region("amer")
        .consultative(CallId::parse(CONSULTATION_CALL).expect("a call id"))
        .with_odata_types()
        .build()
}

fn example3() -> TransferRequestBody {
    Transfer::to_phone(E164::parse("+12345678901").expect("E.164"))
        .endpoint_type(EndpointType::Default)
        .language_id("languageId-value")
        .region("region-value")
        .build()
}

fn example4() -> TransferRequestBody {
    Transfer::to_phone(E164::parse("+12345678901").expect("E.164"))
        .endpoint_type(EndpointType::Default)
        .language_id("en-us")
        .region("amer")
        .consultative(CallId::parse(CONSULTATION_CALL).expect("a call id"))
        .with_odata_types()
        .build()
}

fn example5() -> TransferRequestBody {
    Transfer::to_teams_user(guid(HEIDI), guid(TENANT))
        .display_name("Heidi Steen")
        .endpoint_type(EndpointType::Default)
        .language_id("languageId-value")
        .region("region-value")
        .transferee(Transferee::teams_user(
            guid("751f6800-3180-414d-bd94-333364659951"),
            guid(TENANT),
            "909c6581-5130-43e9-88f3-fcb3582cde37",
        ))
        .build()
}

/// The call each example applies to, as the page describes it.
fn context(n: usize) -> CallContext {
    let ctx = match n {
        5 => CallContext::group(),
        _ => CallContext::peer(),
    };
    ctx.with_tenant(guid(TENANT))
        .with_application_instance(matches!(n, 3 | 4))
        .with_call_id(TRANSFERRED_CALL)
}

fn fixture(n: usize) -> &'static str {
    match n {
        1 => include_str!("fixtures/example1.json"),
        2 => include_str!("fixtures/example2.json"),
        3 => include_str!("fixtures/example3.json"),
        4 => include_str!("fixtures/example4.json"),
        _ => include_str!("fixtures/example5.json"),
    }
}

fn built(n: usize) -> TransferRequestBody {
    match n {
        1 => example1(),
        2 => example2(),
        3 => example3(),
        4 => example4(),
        _ => example5(),
    }
}

#[test]
fn built_bodies_equal_the_page_field_for_field() {
    for n in 1..=5 {
        let page: Value = serde_json::from_str(fixture(n)).expect("fixture is JSON");
        let ours = serde_json::to_value(built(n)).expect("serializes");
        assert_eq!(ours, page, "example {n}");
        let bytes = to_json(&built(n)).expect("serializes");
        assert_eq!(bytes, serde_json::to_vec(&built(n)).expect("serializes"));
    }
}

#[test]
fn built_bodies_snapshot() {
    insta::assert_json_snapshot!("example1", built(1));
    insta::assert_json_snapshot!("example2", built(2));
    insta::assert_json_snapshot!("example3", built(3));
    insta::assert_json_snapshot!("example4", built(4));
    insta::assert_json_snapshot!("example5", built(5));
}

#[test]
fn built_bodies_pass_validation_for_their_call() {
    for n in 1..=5 {
        let report = validate(&built(n), &context(n));
        assert!(report.is_empty(), "example {n}: {report}");
    }
}

#[test]
fn page_bodies_parse_and_pass_validation_and_round_trip() {
    for n in 1..=5 {
        let (body, report) =
            validate_json(fixture(n).as_bytes(), &context(n)).expect("a JSON object");
        assert!(report.is_empty(), "example {n}: {report}");
        assert_eq!(body, built(n), "example {n}");
        let page: Value = serde_json::from_str(fixture(n)).expect("fixture is JSON");
        assert_eq!(serde_json::to_value(&body).expect("serializes"), page);
    }
}

#[test]
fn example5_as_printed_is_broken_json_with_its_position() {
    let printed = include_str!("fixtures/example5.as-printed.txt");
    let err = validate_json(printed.as_bytes(), &context(5)).unwrap_err();
    insta::assert_snapshot!(err.to_string(), @"not valid JSON at line 11, column 3: trailing comma");
}

#[test]
fn the_builder_refuses_what_the_call_cannot_carry() {
    // PSTN from a bot that is not an application instance, in a group call without transferee.
    let err = Transfer::to_phone(E164::parse("+12345678901").expect("E.164"))
        .consultative(CallId::parse(TRANSFERRED_CALL).expect("a call id"))
        .build_for(
            &CallContext::group()
                .with_tenant(guid(TENANT))
                .with_call_id(TRANSFERRED_CALL.replace('-', "")),
        )
        .unwrap_err();
    insta::assert_snapshot!(err.to_string(), @r#"the transfer request breaks 3 rules: transferTarget.identity.phone: transferring to a PSTN number needs a bot that is an application instance with a phone number; transferTarget.replacesCallId: "341a0500-d4bf-4224-8b19-1581168d328b" is the call being transferred; a consultative transfer replaces the other call (the one with the transfer target); transferee: required when transferring from a group call (with an identity and a participantId)"#);
}

#[test]
fn application_and_application_instance_targets() {
    let app = Transfer::to_application(guid("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"))
        .display_name("Contoso bot")
        .build();
    let queue = Transfer::to_application_instance(guid("1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809"))
        .display_name("Contoso call queue")
        .tenant_id(guid(TENANT))
        .with_odata_types()
        .build();
    insta::assert_json_snapshot!("application", app);
    insta::assert_json_snapshot!("application_instance", queue);
    let ctx = CallContext::peer().with_tenant(guid(TENANT));
    assert!(validate(&app, &ctx).is_empty());
    assert!(validate(&queue, &ctx).is_empty());
}

#[test]
fn transferees_typed_or_as_graph_lists_them() {
    let listed: graph_comms_model::ParticipantInfo = serde_json::from_value(serde_json::json!({
        "identity": {"user": {"id": "751f6800-3180-414d-bd94-333364659951", "displayName": "Alex"}},
        "participantId": "909c6581-5130-43e9-88f3-fcb3582cde37",
        "x-kept": true
    }))
    .expect("a participant");
    let body = Transfer::to_teams_user(guid(HEIDI), None)
        .transferee(listed.clone())
        .build();
    assert_eq!(body.transferee.as_ref(), Some(&listed));

    let pstn = Transferee::phone(
        E164::parse("+441632960961").expect("E.164"),
        "2a9f2b1e-4a4b-4c3b-9c1d-1e2f3a4b5c6d",
    );
    let body = Transfer::to_teams_user(guid(HEIDI), None)
        .transferee(pstn)
        .build();
    insta::assert_json_snapshot!("pstn_transferee", body);
    assert!(validate(&body, &CallContext::group()).is_empty());
}
