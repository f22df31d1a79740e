//! Fuzz target: any bytes as a transfer request body, validated against every kind of call.
//!
//! Checks, besides "no panic": a body the model reads re-serializes to JSON that reads back as the
//! same body, and validation gives the same report for both.
#![no_main]

use graph_comms_model::TransferRequestBody;
use graph_comms_transfer::{validate, validate_json, CallContext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let contexts = [
        CallContext::peer(),
        CallContext::group(),
        CallContext::peer().with_application_instance(true),
        CallContext::group()
            .with_application_instance(true)
            .with_call_id("341a0500-d4bf-4224-8b19-1581168d328b"),
    ];
    for ctx in &contexts {
        if let Ok((_, report)) = validate_json(data, ctx) {
            let _ = report.to_string();
        }
    }
    if let Ok(body) = serde_json::from_slice::<TransferRequestBody>(data) {
        let written = serde_json::to_vec(&body).expect("a parsed body serializes");
        let again: TransferRequestBody =
            serde_json::from_slice(&written).expect("what the model writes, it reads");
        assert_eq!(again, body, "round trip changed the body");
        for ctx in &contexts {
            assert_eq!(validate(&again, ctx), validate(&body, ctx));
        }
    }
});
