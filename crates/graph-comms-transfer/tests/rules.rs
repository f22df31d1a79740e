//! The validation rules, data-driven: a table of bodies (valid and invalid, every rule and the edge
//! cases) with the rules each must break; the wording of every line is snapshot-tested.

use graph_comms_transfer::{validate_json, CallContext, Guid, Severity};
use serde_json::{json, Value};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "0d5a2f0c-1111-4b2e-9c3a-8f8f8f8f8f8f";
const USER: &str = "550fae72-d251-43ec-868c-373732c2704f";
const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const OTHER_CALL: &str = "e5d39592-99bd-4db8-bca8-30fb894ec51d";

/// The call a case applies to.
#[derive(Clone, Copy)]
enum Ctx {
    /// Peer call, nothing else known.
    Peer,
    /// Peer call, bot is an application instance.
    PeerApp,
    /// Peer call in TENANT, id CALL.
    PeerKnown,
    /// Group call, nothing else known.
    Group,
    /// Group call in TENANT.
    GroupTenant,
}

impl Ctx {
    fn get(self) -> CallContext {
        let tenant = Guid::parse(TENANT).expect("a GUID");
        match self {
            Ctx::Peer => CallContext::peer(),
            Ctx::PeerApp => CallContext::peer().with_application_instance(true),
            Ctx::PeerKnown => CallContext::peer().with_tenant(tenant).with_call_id(CALL),
            Ctx::Group => CallContext::group(),
            Ctx::GroupTenant => CallContext::group().with_tenant(tenant),
        }
    }
}

fn user_target(id: Value) -> Value {
    json!({"transferTarget": {"identity": {"user": {"id": id}}}})
}

fn phone_target(id: Value) -> Value {
    json!({"transferTarget": {"identity": {"phone": {"id": id}}}})
}

fn group_body(transferee: Value) -> Value {
    json!({"transferTarget": {"identity": {"user": {"id": USER}}}, "transferee": transferee})
}

fn transferee_user(id: &str, tenant: &str, participant: &str) -> Value {
    json!({"identity": {"user": {"id": id, "tenantId": tenant}}, "participantId": participant})
}

/// One case: name, call, body, and the rules it must break (errors and warnings, in order).
struct Case {
    name: &'static str,
    ctx: Ctx,
    body: String,
    expect: &'static [&'static str],
}

fn case(name: &'static str, ctx: Ctx, body: Value, expect: &'static [&'static str]) -> Case {
    Case {
        name,
        ctx,
        body: body.to_string(),
        expect,
    }
}

fn raw(name: &'static str, ctx: Ctx, body: &str, expect: &'static [&'static str]) -> Case {
    Case {
        name,
        ctx,
        body: body.to_owned(),
        expect,
    }
}

fn cases() -> Vec<Case> {
    vec![
        // --- valid bodies
        case("teams user", Ctx::Peer, user_target(json!(USER)), &[]),
        case(
            "teams user, uppercase GUID",
            Ctx::Peer,
            user_target(json!(USER.to_uppercase())),
            &[],
        ),
        case(
            "teams user in the call's tenant, other case",
            Ctx::PeerKnown,
            json!({"transferTarget": {"identity": {"user": {"id": USER, "tenantId": TENANT.to_uppercase()}}}}),
            &[],
        ),
        case(
            "pstn, 15 digits",
            Ctx::PeerApp,
            phone_target(json!("+123456789012345")),
            &[],
        ),
        case(
            "pstn, shortest",
            Ctx::PeerApp,
            phone_target(json!("+1")),
            &[],
        ),
        case(
            "application instance",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"applicationInstance": {"id": USER}}}}),
            &[],
        ),
        case(
            "consultative, other call without dashes",
            Ctx::PeerKnown,
            json!({"transferTarget": {"identity": {"user": {"id": USER}}, "replacesCallId": OTHER_CALL.replace('-', "")}}),
            &[],
        ),
        case(
            "group call with transferee",
            Ctx::GroupTenant,
            group_body(transferee_user(
                USER,
                TENANT,
                "909c6581-5130-43e9-88f3-fcb3582cde37",
            )),
            &[],
        ),
        case(
            "unknown fields kept, never a violation",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"user": {"id": USER, "x-user": [1]}, "x-set": "a"},
                   "futureField": {"a": 1}}, "x-top": null}),
            &[],
        ),
        case(
            "null optional fields mean absent",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"user": {"id": USER, "tenantId": null}, "phone": null},
                   "endpointType": null, "replacesCallId": null}, "transferee": null}),
            &[],
        ),
        // --- E.164
        case(
            "pstn, bare +",
            Ctx::PeerApp,
            phone_target(json!("+")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, +0",
            Ctx::PeerApp,
            phone_target(json!("+0123456789")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, 16 digits",
            Ctx::PeerApp,
            phone_target(json!("+1234567890123456")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, fullwidth digits",
            Ctx::PeerApp,
            phone_target(json!("+１２３４５６７８９０１")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, arabic-indic digits",
            Ctx::PeerApp,
            phone_target(json!("+١٢٣٤٥٦٧")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, leading space",
            Ctx::PeerApp,
            phone_target(json!(" +12345678901")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, trailing space",
            Ctx::PeerApp,
            phone_target(json!("+12345678901 ")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, inner spaces",
            Ctx::PeerApp,
            phone_target(json!("+1 234 567 8901")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, dashes",
            Ctx::PeerApp,
            phone_target(json!("+1-234-567-8901")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, tel: URI",
            Ctx::PeerApp,
            phone_target(json!("tel:+12345678901")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, no plus",
            Ctx::PeerApp,
            phone_target(json!("12345")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, empty",
            Ctx::PeerApp,
            phone_target(json!("")),
            &["phone-not-e164"],
        ),
        case(
            "pstn, no id",
            Ctx::PeerApp,
            json!({"transferTarget": {"identity": {"phone": {}}}}),
            &["missing-identity-id"],
        ),
        case(
            "pstn, id null",
            Ctx::PeerApp,
            phone_target(Value::Null),
            &["missing-identity-id"],
        ),
        case(
            "pstn from a bot that is not an application instance",
            Ctx::Peer,
            phone_target(json!("+12345678901")),
            &["pstn-needs-application-instance"],
        ),
        // --- Teams user
        case(
            "user id not a GUID",
            Ctx::Peer,
            user_target(json!("heidi@contoso.com")),
            &["user-id-not-guid"],
        ),
        case(
            "user id empty",
            Ctx::Peer,
            user_target(json!("")),
            &["user-id-not-guid"],
        ),
        case(
            "user id without dashes",
            Ctx::Peer,
            user_target(json!(USER.replace('-', ""))),
            &["user-id-not-guid"],
        ),
        case(
            "user id in braces",
            Ctx::Peer,
            user_target(json!(format!("{{{USER}}}"))),
            &["user-id-not-guid"],
        ),
        case(
            "user id with a trailing space",
            Ctx::Peer,
            user_target(json!(format!("{USER} "))),
            &["user-id-not-guid"],
        ),
        case(
            "user without id",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"user": {"displayName": "Heidi"}}}}),
            &["missing-identity-id"],
        ),
        case(
            "tenant id empty",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"user": {"id": USER, "tenantId": ""}}}}),
            &["tenant-id-not-guid"],
        ),
        // --- one tenant
        case(
            "target tenant differs from the call's",
            Ctx::PeerKnown,
            json!({"transferTarget": {"identity": {"user": {"id": USER, "tenantId": OTHER_TENANT}}}}),
            &["tenant-mismatch"],
        ),
        case(
            "transferee tenant differs from the target's",
            Ctx::Group,
            json!({"transferTarget": {"identity": {"user": {"id": USER, "tenantId": TENANT}}},
                   "transferee": transferee_user(USER, OTHER_TENANT, "p1")}),
            &["tenant-mismatch"],
        ),
        case(
            "transferee tenant differs from the call's",
            Ctx::GroupTenant,
            group_body(transferee_user(USER, OTHER_TENANT, "p1")),
            &["tenant-mismatch"],
        ),
        // --- exactly one kind of identity
        case(
            "identity empty",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {}}}),
            &["no-identity"],
        ),
        case(
            "identity null",
            Ctx::Peer,
            json!({"transferTarget": {"identity": null}}),
            &["no-identity"],
        ),
        case(
            "identity missing",
            Ctx::Peer,
            json!({"transferTarget": {"endpointType": "default"}}),
            &["no-identity"],
        ),
        case(
            "identity kinds all null",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"user": null}}}),
            &["no-identity"],
        ),
        case(
            "two identities",
            Ctx::PeerApp,
            json!({"transferTarget": {"identity": {"user": {"id": USER}, "phone": {"id": "+12345678901"}}}}),
            &["several-identities"],
        ),
        case(
            "only an unknown kind of identity",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"teamsPhone": {"id": "x"}}}}),
            &["unknown-identity-kind"],
        ),
        case(
            "guest target",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"guest": {"id": "g1"}}}}),
            &["unsupported-target-kind"],
        ),
        case(
            "application id not a GUID",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"application": {"id": "my-bot"}}}}),
            &["application-id-not-guid"],
        ),
        case(
            "application instance without id",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"applicationInstance": {}}}}),
            &["missing-identity-id"],
        ),
        // --- consultative
        case(
            "replacesCallId is the call transferred",
            Ctx::PeerKnown,
            json!({"transferTarget": {"identity": {"user": {"id": USER}}, "replacesCallId": CALL}}),
            &["replaces-own-call"],
        ),
        case(
            "replacesCallId is the call transferred, other form",
            Ctx::PeerKnown,
            json!({"transferTarget": {"identity": {"user": {"id": USER}}, "replacesCallId": CALL.replace('-', "").to_uppercase()}}),
            &["replaces-own-call"],
        ),
        case(
            "replacesCallId not a call id",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"user": {"id": USER}}, "replacesCallId": "call-42"}}),
            &["replaces-call-id-invalid"],
        ),
        case(
            "replacesCallId empty",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"user": {"id": USER}}, "replacesCallId": ""}}),
            &["replaces-call-id-invalid"],
        ),
        // --- transferee
        case(
            "group call without transferee",
            Ctx::Group,
            user_target(json!(USER)),
            &["transferee-required"],
        ),
        case(
            "group call, transferee null",
            Ctx::Group,
            group_body(Value::Null),
            &["transferee-required"],
        ),
        case(
            "group call, transferee without participantId",
            Ctx::Group,
            group_body(json!({"identity": {"user": {"id": USER}}})),
            &["transferee-incomplete"],
        ),
        case(
            "group call, transferee with empty participantId",
            Ctx::Group,
            group_body(json!({"identity": {"user": {"id": USER}}, "participantId": ""})),
            &["transferee-incomplete"],
        ),
        case(
            "group call, transferee without identity",
            Ctx::Group,
            group_body(json!({"participantId": "p1"})),
            &["transferee-incomplete"],
        ),
        case(
            "group call, transferee with empty identity",
            Ctx::Group,
            group_body(json!({"identity": {}, "participantId": "p1"})),
            &["no-identity"],
        ),
        case(
            "group call, transferee user id not a GUID",
            Ctx::Group,
            group_body(json!({"identity": {"user": {"id": "x"}}, "participantId": "p1"})),
            &["user-id-not-guid"],
        ),
        case(
            "peer call with transferee",
            Ctx::Peer,
            group_body(transferee_user(USER, TENANT, "p1")),
            &["transferee-on-peer-call"],
        ),
        // --- enums
        case(
            "unknown endpointType",
            Ctx::Peer,
            json!({"transferTarget": {"endpointType": "hologram", "identity": {"user": {"id": USER}}}}),
            &["unknown-enum-value"],
        ),
        case(
            "unknown endpointType in identity set and transferee",
            Ctx::Group,
            group_body(
                json!({"endpointType": "x", "identity": {"endpointType": "y", "user": {"id": USER}}, "participantId": "p1"}),
            ),
            &["unknown-enum-value", "unknown-enum-value"],
        ),
        // --- fields of the target at the body's root (example 5 as printed puts them there)
        case(
            "languageId and region at the root",
            Ctx::Peer,
            json!({"transferTarget": {"identity": {"user": {"id": USER}}},
                   "languageId": "en-us", "region": "amer", "clientContext": "kept"}),
            &["misplaced-field", "misplaced-field"],
        ),
        // --- JSON types
        raw(
            "transferTarget missing",
            Ctx::Peer,
            r#"{"transferee": null}"#,
            &["missing-transfer-target"],
        ),
        raw(
            "transferTarget null",
            Ctx::Peer,
            r#"{"transferTarget": null}"#,
            &["wrong-type"],
        ),
        raw(
            "transferTarget a string",
            Ctx::Peer,
            r#"{"transferTarget": "+12345678901"}"#,
            &["wrong-type"],
        ),
        raw(
            "identity a string",
            Ctx::Peer,
            r#"{"transferTarget": {"identity": "user"}}"#,
            &["wrong-type"],
        ),
        raw(
            "user an array",
            Ctx::Peer,
            r#"{"transferTarget": {"identity": {"user": []}}}"#,
            &["wrong-type"],
        ),
        raw(
            "user id a number, hidden a string",
            Ctx::Peer,
            r#"{"transferTarget": {"hidden": "yes", "identity": {"user": {"id": 5}}}}"#,
            &["wrong-type", "wrong-type"],
        ),
        raw(
            "transferee an array",
            Ctx::Group,
            r#"{"transferTarget": {"identity": {"user": {"id": "550fae72-d251-43ec-868c-373732c2704f"}}}, "transferee": []}"#,
            &["wrong-type"],
        ),
        raw(
            "endpointType a number",
            Ctx::Peer,
            r#"{"transferTarget": {"endpointType": 1, "identity": {"user": {"id": "550fae72-d251-43ec-868c-373732c2704f"}}}}"#,
            &["wrong-type"],
        ),
        // --- everything at once: every violation is collected
        case(
            "many violations at once",
            Ctx::PeerKnown,
            json!({"transferTarget": {"endpointType": "nope",
                   "identity": {"user": {"id": "u", "tenantId": OTHER_TENANT}, "phone": {"id": "555-1234"}},
                   "replacesCallId": CALL},
                   "transferee": {"identity": {}}}),
            &[
                "unknown-enum-value",
                "several-identities",
                "user-id-not-guid",
                "tenant-mismatch",
                "phone-not-e164",
                "pstn-needs-application-instance",
                "replaces-own-call",
                "transferee-on-peer-call",
                "no-identity",
                "transferee-incomplete",
            ],
        ),
    ]
}

/// Runs one case: the rules broken, and the printed lines (`severity path: message`).
fn check(case: &Case) -> (Vec<&'static str>, String) {
    match validate_json(case.body.as_bytes(), &case.ctx.get()) {
        Ok((_, report)) => {
            let rules = report.violations().iter().map(|v| v.rule()).collect();
            let mut lines = String::new();
            for v in report.violations() {
                let sev = match v.severity() {
                    Severity::Error => "E",
                    Severity::Warning => "W",
                };
                lines.push_str(&format!("  {sev} {v}\n"));
            }
            (rules, lines)
        }
        Err(e) => (vec!["<not a body>"], format!("  ! {e}\n")),
    }
}

#[test]
fn every_case_breaks_exactly_its_rules() {
    let mut failures = Vec::new();
    for c in cases() {
        let (rules, lines) = check(&c);
        if rules != c.expect {
            failures.push(format!(
                "{}: expected {:?}, got {:?}\n{lines}",
                c.name, c.expect, rules
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn wording_of_every_violation() {
    let mut out = String::new();
    for c in cases() {
        let (_, lines) = check(&c);
        out.push_str(&format!("{}\n{lines}", c.name));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn severities() {
    // Warnings alone leave a body acceptable; one error does not.
    let (_, warnings) = validate_json(
        json!({"transferTarget": {"endpointType": "x", "identity": {"user": {"id": USER}}}})
            .to_string()
            .as_bytes(),
        &CallContext::peer(),
    )
    .expect("a body");
    assert!(!warnings.has_errors());
    assert_eq!(warnings.warnings().count(), 1);
    assert!(warnings.into_result().is_ok());

    let (_, errors) = validate_json(
        user_target(json!("x")).to_string().as_bytes(),
        &CallContext::peer(),
    )
    .expect("a body");
    assert_eq!(errors.errors().count(), 1);
    assert!(errors.into_result().is_err());
}

#[test]
fn unknown_fields_are_kept_and_written_back() {
    let input = json!({
        "transferTarget": {"identity": {"user": {"id": USER, "x-user": [1, 2]}, "x-set": {"k": "v"}},
                           "futureField": {"a": 1}},
        "x-top": "kept"
    });
    let (body, report) =
        validate_json(input.to_string().as_bytes(), &CallContext::peer()).expect("a body");
    assert!(report.is_empty(), "{report}");
    assert_eq!(body.additional_data["x-top"], "kept");
    assert_eq!(serde_json::to_value(&body).expect("serializes"), input);
}

#[test]
fn input_that_is_not_a_body() {
    let cases: &[(&str, &str)] = &[
        ("[]", "the body is an array, not a JSON object (a transfer request body is an object with transferTarget)"),
        ("\"x\"", "the body is a string, not a JSON object (a transfer request body is an object with transferTarget)"),
        ("null", "the body is null, not a JSON object (a transfer request body is an object with transferTarget)"),
        ("", "not valid JSON at line 1, column 0: EOF while parsing a value"),
        ("{\n  \"transferTarget\": {\n    \"identity\": }\n}", "not valid JSON at line 3, column 17: expected value"),
        ("{\"a\":1} x", "not valid JSON at line 1, column 9: trailing characters"),
    ];
    for (input, expect) in cases {
        let err = validate_json(input.as_bytes(), &CallContext::peer()).unwrap_err();
        assert_eq!(err.to_string(), *expect, "input {input:?}");
    }
}
