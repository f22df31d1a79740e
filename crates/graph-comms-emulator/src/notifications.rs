//! The commsNotifications bodies the emulator posts, shaped as on Graph's documentation pages.

use serde_json::{json, Value};

use crate::script::{Script, TransferFlow};

/// One notification queued for a call's delivery task.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// Delay before posting.
    pub(crate) delay: std::time::Duration,
    /// The commsNotifications batch.
    pub(crate) body: Value,
    /// The last notification of its flow: ends a transfer (the call may transfer again), and, if
    /// its change type is `deleted`, the call (earlier duplicates of it do not).
    pub(crate) ends_transfer: bool,
    /// Posting it moves the call to its state (`false` for notifications about a state the call
    /// already has, such as `establishing` for a call placed already established).
    pub(crate) apply_state: bool,
}

/// A commsNotifications batch holding one notification about call `call_id`.
pub(crate) fn batch(call_id: &str, change_type: &str, resource_data: Value) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.commsNotifications",
        "value": [{
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": change_type,
            "resourceUrl": format!("/communications/calls/{call_id}"),
            "resourceData": resource_data,
        }]
    })
}

/// `resourceData` of a call with just a state.
pub(crate) fn call_state(state: &str) -> Value {
    json!({ "@odata.type": "#microsoft.graph.call", "state": state })
}

fn result_info(code: i64, subcode_key: &str, subcode: i64, message: &str, strings: bool) -> Value {
    let num = |n: i64| {
        if strings {
            json!(n.to_string())
        } else {
            json!(n)
        }
    };
    let mut v = json!({ "@odata.type": "#microsoft.graph.resultInfo", "code": num(code) });
    v[subcode_key] = num(subcode);
    v["message"] = json!(message);
    v
}

/// The `resultInfo` of a call that ended without a transfer (a hang-up or a `DELETE`), as on the
/// `call: delete` page: 200/5001 "The conversation has ended." (the page writes numeric strings;
/// numbers unless `strings`).
pub(crate) fn conversation_ended(strings: bool) -> Value {
    result_info(200, "subcode", 5001, "The conversation has ended.", strings)
}

/// The notifications (change type, resourceData) of a transfer flow, before reordering.
pub(crate) fn transfer_steps(
    flow: TransferFlow,
    consultative: bool,
    strings: bool,
) -> Vec<(&'static str, Value)> {
    let transferring = ("updated", call_state("transferring"));
    let accepted = ("updated", call_state("transferAccepted"));
    let completed = || {
        let mut d = call_state("terminated");
        d["resultInfo"] = result_info(0, "subcode", 7015, "GracefulTransferCompleted", strings);
        ("deleted", d)
    };
    let app_transferred = || {
        let mut d = call_state("terminated");
        d["terminationReason"] = json!("AppTransferred");
        ("deleted", d)
    };
    match flow {
        TransferFlow::Success if consultative => vec![transferring, accepted, app_transferred()],
        TransferFlow::Success | TransferFlow::Completed => {
            vec![transferring, accepted, completed()]
        }
        TransferFlow::AppTransferred => vec![transferring, accepted, app_transferred()],
        TransferFlow::Failed => {
            let mut d = call_state("established");
            d["resultInfo"] = result_info(
                500,
                "subCode",
                7000,
                "Transfer failed: the transfer target did not answer.",
                strings,
            );
            vec![transferring, ("updated", d)]
        }
        TransferFlow::ConsultativeFailed => {
            let mut d = call_state("established");
            d["resultInfo"] = result_info(
                500,
                "subCode",
                7700,
                "Consultative transfer failed: the replaced call could not be joined.",
                strings,
            );
            d["replacesContext"] = json!(uuid::Uuid::new_v4().to_string());
            vec![transferring, ("updated", d)]
        }
        TransferFlow::CallerHangUp => {
            let mut d = call_state("terminated");
            d["resultInfo"] = conversation_ended(strings);
            vec![transferring, ("deleted", d)]
        }
        TransferFlow::NoOutcome => vec![transferring, accepted],
    }
}

/// The full delivery plan of a transfer on `call_id` under `script`.
pub(crate) fn transfer_plan(call_id: &str, script: &Script, consultative: bool) -> Vec<Outgoing> {
    let mut steps = transfer_steps(script.flow, consultative, script.string_codes);
    if script.out_of_order {
        let pos = steps
            .iter()
            .position(|(_, d)| d["state"] == "transferAccepted");
        if let Some(p) = pos {
            let step = steps.remove(p);
            steps.insert(0, step);
        } else if steps.len() >= 2 {
            // No transferAccepted in this flow: deliver the outcome before `transferring`.
            steps.swap(0, 1);
        }
    }
    let copies = if script.duplicates { 2 } else { 1 };
    let mut out = Vec::with_capacity(steps.len() * copies);
    for (change, data) in steps {
        for _ in 0..copies {
            out.push(Outgoing {
                delay: script.delay_before(out.len()),
                body: batch(call_id, change, data.clone()),
                ends_transfer: false,
                apply_state: true,
            });
        }
    }
    if let Some(last) = out.last_mut() {
        last.ends_transfer = !matches!(script.flow, TransferFlow::NoOutcome);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(plan: &[Outgoing]) -> Vec<String> {
        plan.iter()
            .map(|o| {
                o.body["value"][0]["resourceData"]["state"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn success_is_transferring_accepted_terminated() {
        let plan = transfer_plan("c1", &Script::default(), false);
        assert_eq!(
            states(&plan),
            ["transferring", "transferAccepted", "terminated"]
        );
        let last = &plan[2].body["value"][0];
        assert_eq!(last["changeType"], "deleted");
        assert_eq!(last["resourceData"]["resultInfo"]["subcode"], 7015);
        assert!(plan[2].ends_transfer);
    }

    #[test]
    fn consultative_success_is_app_transferred() {
        let plan = transfer_plan("c1", &Script::default(), true);
        assert_eq!(
            plan[2].body["value"][0]["resourceData"]["terminationReason"],
            "AppTransferred"
        );
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let script = Script::default().with_out_of_order().with_duplicates();
        let plan = transfer_plan("c1", &script, false);
        assert_eq!(
            states(&plan),
            [
                "transferAccepted",
                "transferAccepted",
                "transferring",
                "transferring",
                "terminated",
                "terminated"
            ]
        );
        assert!(plan[5].ends_transfer && !plan[4].ends_transfer);
    }

    #[test]
    fn string_codes_and_subcode_spelling() {
        let plan = transfer_plan(
            "c1",
            &Script::new(TransferFlow::Failed).with_string_codes(),
            false,
        );
        let ri = &plan[1].body["value"][0]["resourceData"]["resultInfo"];
        assert_eq!(ri["code"], "500");
        assert_eq!(ri["subCode"], "7000");
    }

    #[test]
    fn delays_apply_per_position() {
        let plan = transfer_plan(
            "c1",
            &Script::default().with_delay_ms(5).with_delays_ms([1, 2]),
            false,
        );
        let ms: Vec<u128> = plan.iter().map(|o| o.delay.as_millis()).collect();
        assert_eq!(ms, [1, 2, 5]);
    }

    #[test]
    fn no_outcome_never_ends_the_transfer() {
        let plan = transfer_plan("c1", &Script::new(TransferFlow::NoOutcome), false);
        assert!(plan.iter().all(|o| !o.ends_transfer));
    }
}
