//! Properties of the typed builder: whatever validated inputs it is given, the body it builds
//! passes the rules for a call it fits, reads back from its own JSON unchanged, and is refused
//! for a call it does not fit.

use graph_comms_model::EndpointType;
use graph_comms_transfer::{
    validate, validate_json, CallContext, CallId, Guid, Transfer, Transferee, Violation, E164,
};
use proptest::prelude::*;

fn e164() -> impl Strategy<Value = E164> {
    "\\+[1-9][0-9]{0,14}".prop_map(|s| E164::parse(&s).expect("the strategy makes E.164"))
}

fn call_id(v: u128, dashed: bool, upper: bool) -> CallId {
    let mut s = Guid::from_u128(v).to_string();
    if !dashed {
        s.retain(|c| c != '-');
    }
    if upper {
        s = s.to_uppercase();
    }
    CallId::parse(&s).expect("a GUID is a call id")
}

fn round_trip(body: &graph_comms_model::TransferRequestBody, ctx: &CallContext) {
    let json = serde_json::to_vec(body).expect("serializes");
    let (read, report) = validate_json(&json, ctx).expect("reads back");
    assert_eq!(&read, body);
    assert!(report.is_empty(), "{report}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn teams_user_transfers_pass_for_their_call(
        user in any::<u128>(),
        tenant in any::<u128>(),
        state_tenant in any::<bool>(),
        name in "\\PC{0,20}",
        language in "\\PC{0,10}",
        region in "\\PC{0,10}",
        annotate in any::<bool>(),
        group in any::<bool>(),
        transferee in any::<u128>(),
        participant in "[0-9a-f-]{1,36}",
    ) {
        let tenant = Guid::from_u128(tenant);
        let stated = state_tenant.then_some(tenant);
        let mut t = Transfer::to_teams_user(Guid::from_u128(user), stated)
            .display_name(name)
            .language_id(language)
            .region(region)
            .endpoint_type(EndpointType::Default);
        if annotate {
            t = t.with_odata_types();
        }
        if group {
            t = t.transferee(Transferee::teams_user(Guid::from_u128(transferee), stated, participant));
        }
        let body = t.build();
        let ctx = if group { CallContext::group() } else { CallContext::peer() }.with_tenant(tenant);
        let report = validate(&body, &ctx);
        prop_assert!(report.is_empty(), "{}", report);
        round_trip(&body, &ctx);

        // The same body in another tenant's call is refused when it states its tenant.
        let other = Guid::from_u128(tenant.as_u128() ^ 1);
        let elsewhere = validate(&body, &CallContext::peer().with_tenant(other));
        prop_assert_eq!(
            elsewhere.violations().iter().any(|v| matches!(v, Violation::TenantMismatch { .. })),
            state_tenant
        );
    }

    #[test]
    fn pstn_transfers_need_an_application_instance(number in e164(), app_instance in any::<bool>()) {
        let body = Transfer::to_phone(number).build();
        let ctx = CallContext::peer().with_application_instance(app_instance);
        let report = validate(&body, &ctx);
        let rules: Vec<_> = report.violations().iter().map(Violation::rule).collect();
        if app_instance {
            prop_assert!(rules.is_empty(), "{:?}", rules);
            round_trip(&body, &ctx);
        } else {
            prop_assert_eq!(rules, vec!["pstn-needs-application-instance"]);
        }
    }

    #[test]
    fn consultative_transfers_replace_another_call(
        own in any::<u128>(),
        other in any::<u128>(),
        dashed in any::<bool>(),
        upper in any::<bool>(),
        same in any::<bool>(),
    ) {
        let replaced = if same { own } else { other };
        let body = Transfer::to_application_instance(Guid::from_u128(7))
            .consultative(call_id(replaced, dashed, upper))
            .build();
        let ctx = CallContext::peer().with_call_id(Guid::from_u128(own).to_string());
        let rules: Vec<_> = validate(&body, &ctx).violations().iter().map(Violation::rule).collect();
        if replaced == own {
            prop_assert_eq!(rules, vec!["replaces-own-call"]);
        } else {
            prop_assert!(rules.is_empty(), "{:?}", rules);
            round_trip(&body, &ctx);
        }
    }
}
