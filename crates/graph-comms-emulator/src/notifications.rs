//! The commsNotifications bodies the emulator posts, shaped as on Graph's documentation pages.

use serde_json::{json, Value};

use crate::script::{Script, TransferFlow};

/// One notification body queued for a call's delivery task.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// Delay before posting.
    pub(crate) delay: std::time::Duration,
    /// The commsNotifications batch (one notification, or several when the script batches).
    pub(crate) body: Value,
    /// The last notification of its flow: ends a transfer (the call may transfer again), and, if
    /// it holds a `deleted` notification about the call, the call (earlier duplicates do not).
    pub(crate) ends_transfer: bool,
    /// Posting it moves the call to its state (`false` for notifications about a state the call
    /// already has, such as `establishing` for a call placed already established).
    pub(crate) apply_state: bool,
}

impl Outgoing {
    /// One notification about the call itself, posted at once.
    pub(crate) fn now(call_id: &str, change_type: &str, resource_data: Value) -> Self {
        Outgoing {
            delay: std::time::Duration::ZERO,
            body: batch(call_id, change_type, resource_data),
            ends_transfer: false,
            apply_state: true,
        }
    }

    /// Marks it as the last of its flow.
    pub(crate) fn ending(mut self) -> Self {
        self.ends_transfer = true;
        self
    }
}

/// The resource URL of a call, as notifications spell it.
pub(crate) fn call_url(call_id: &str) -> String {
    format!("/communications/calls/{call_id}")
}

/// One commsNotification about the resource at `resource_url`.
pub(crate) fn note(resource_url: &str, change_type: &str, resource_data: Value) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.commsNotification",
        "changeType": change_type,
        "resourceUrl": resource_url,
        "resourceData": resource_data,
    })
}

/// A commsNotifications batch of these notifications.
pub(crate) fn batch_of(notes: Vec<Value>) -> Value {
    json!({ "@odata.type": "#microsoft.graph.commsNotifications", "value": notes })
}

/// A commsNotifications batch holding one notification about call `call_id`.
pub(crate) fn batch(call_id: &str, change_type: &str, resource_data: Value) -> Value {
    batch_of(vec![note(&call_url(call_id), change_type, resource_data)])
}

/// `resourceData` of a call with just a state.
pub(crate) fn call_state(state: &str) -> Value {
    json!({ "@odata.type": "#microsoft.graph.call", "state": state })
}

/// A bare `deleted` resource: only `@odata.type` and `@odata.id`, as `call: reject` shows.
pub(crate) fn bare_call(resource_url: &str) -> Value {
    json!({ "@odata.type": "#microsoft.graph.call", "@odata.id": resource_url })
}

/// The end of a call: `terminated` as one `deleted` notification with `data`, or, when the
/// script asks for `deletedAfterTerminated`, as `updated` followed by a bare `deleted`.
pub(crate) fn call_ended(call_id: &str, data: Value, script: &Script) -> Vec<Outgoing> {
    if script.deleted_after_terminated {
        vec![
            Outgoing::now(call_id, "updated", data),
            Outgoing::now(call_id, "deleted", bare_call(&call_url(call_id))).ending(),
        ]
    } else {
        vec![Outgoing::now(call_id, "deleted", data).ending()]
    }
}

/// An operation resource (`playPromptOperation`, `startHoldMusicOperation`, `commsOperation`, ...).
pub(crate) fn operation(
    odata_type: &str,
    id: &str,
    status: &str,
    client_context: Option<&str>,
) -> Value {
    let mut v = json!({ "@odata.type": odata_type, "id": id, "status": status });
    if let Some(c) = client_context {
        v["clientContext"] = json!(c);
    }
    v
}

/// An action's operation completed: `deleted` with status `completed` and resultInfo 200/0, as the
/// `call: playPrompt` page shows.
pub(crate) fn operation_completed(call_id: &str, op: &Value) -> Outgoing {
    let url = format!(
        "{}/operations/{}",
        call_url(call_id),
        op["id"].as_str().unwrap_or_default()
    );
    let mut data = op.clone();
    data["@odata.id"] = json!(url);
    data["status"] = json!("completed");
    data["resultInfo"] = result_info(200, "subcode", 0, "Action completed successfully.", false);
    Outgoing {
        delay: std::time::Duration::ZERO,
        body: batch_of(vec![note(&url, "deleted", data)]),
        ends_transfer: false,
        apply_state: false,
    }
}

pub(crate) fn result_info(
    code: i64,
    subcode_key: &str,
    subcode: i64,
    message: &str,
    strings: bool,
) -> Value {
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

/// The `resultInfo` of a placed call its target declined: 603 (SIP's "Decline").
pub(crate) fn declined(strings: bool) -> Value {
    result_info(603, "subcode", 0, "Call declined by the callee.", strings)
}

/// The `resultInfo` of a placed call nobody answered: 408/10057, "Call timed out due to no
/// signaling from callee endpoints." in the end-reason table of the `call: delete` page.
pub(crate) fn not_answered(strings: bool) -> Value {
    result_info(
        408,
        "subcode",
        10057,
        "Call timed out due to no signaling from callee endpoints.",
        strings,
    )
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
    // A failed transfer: the call is back to `established` with a 500 and the failure's sub-code.
    let back_to_established = |subcode: i64, message: &str| {
        let mut d = call_state("established");
        d["resultInfo"] = result_info(500, "subCode", subcode, message, strings);
        d
    };
    let failed = || {
        let d = back_to_established(7000, "Transfer failed: the transfer target did not answer.");
        ("updated", d)
    };
    match flow {
        TransferFlow::Success if consultative => vec![transferring, accepted, app_transferred()],
        TransferFlow::Success | TransferFlow::Completed => {
            vec![transferring, accepted, completed()]
        }
        TransferFlow::AppTransferred => vec![transferring, accepted, app_transferred()],
        TransferFlow::Failed => vec![transferring, failed()],
        TransferFlow::FailedAfterAccepted => vec![transferring, accepted, failed()],
        TransferFlow::ConsultativeFailed => {
            let mut d = back_to_established(
                7700,
                "Consultative transfer failed: the replaced call could not be joined.",
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

/// One notification of a plan: where, what change, what data.
type Step = (String, &'static str, Value);

fn state_of(step: &Step) -> Option<&str> {
    step.2["state"]
        .as_str()
        .or_else(|| step.2["resultInfo"]["subCode"].as_str())
}

/// The legacy operations flow (the 2019 `call: transfer` page): `transferring` and
/// `transferAccepted` are a `commsOperation` (`…/operations/{id}`, `resultInfo.subCode`, status
/// `running` then `completed`); a failure first fails the operation (`status: failed`).
fn as_operations(call_id: &str, steps: Vec<Step>, strings: bool) -> Vec<Step> {
    let op_url = format!("{}/operations/{}", call_url(call_id), uuid::Uuid::new_v4());
    let code = |n: i64| {
        if strings {
            json!(n.to_string())
        } else {
            json!(n)
        }
    };
    let op = |status: &str, result: Value| {
        json!({
            "@odata.type": "#microsoft.graph.commsOperation",
            "@odata.id": op_url,
            "status": status,
            "resultInfo": result,
        })
    };
    let mut out = Vec::with_capacity(steps.len() + 1);
    for step in steps {
        match step.2["state"].as_str() {
            Some("transferring") => out.push((
                op_url.clone(),
                "updated",
                op(
                    "running",
                    json!({ "code": code(200), "subCode": "transferring" }),
                ),
            )),
            Some("transferAccepted") => out.push((
                op_url.clone(),
                "deleted",
                op(
                    "completed",
                    json!({ "code": code(200), "subCode": "transferAccepted" }),
                ),
            )),
            Some("established") => {
                let mut ri = step.2["resultInfo"].clone();
                if let Some(m) = ri.as_object_mut() {
                    m.remove("@odata.type");
                }
                out.push((op_url.clone(), "deleted", op("failed", ri)));
                out.push(step);
            }
            _ => out.push(step),
        }
    }
    out
}

/// The full delivery plan of a transfer on `call_id` under `script`; `roster` are the call's
/// participant resources, for a roster update when the script asks for one.
pub(crate) fn transfer_plan(
    call_id: &str,
    script: &Script,
    consultative: bool,
    roster: &[Value],
) -> Vec<Outgoing> {
    let url = call_url(call_id);
    let mut steps: Vec<Step> = transfer_steps(script.flow, consultative, script.string_codes)
        .into_iter()
        .map(|(change, data)| (url.clone(), change, data))
        .collect();
    if script.operations {
        steps = as_operations(call_id, steps, script.string_codes);
    }
    if script.deleted_after_terminated {
        steps = steps
            .into_iter()
            .flat_map(|(u, change, data)| {
                if change == "deleted" && data["state"] == "terminated" {
                    let bare = bare_call(&u);
                    vec![(u.clone(), "updated", data), (u, "deleted", bare)]
                } else {
                    vec![(u, change, data)]
                }
            })
            .collect();
    }
    if script.out_of_order {
        let pos = steps
            .iter()
            .position(|s| state_of(s) == Some("transferAccepted"));
        if let Some(p) = pos {
            let step = steps.remove(p);
            steps.insert(0, step);
        } else if steps.len() >= 2 {
            // No transferAccepted in this flow: deliver the outcome before `transferring`.
            steps.swap(0, 1);
        }
    }
    if script.roster && !steps.is_empty() {
        // The roster changes while the transfer goes on: after the first notification.
        steps.insert(
            1,
            (
                format!("{url}/participants"),
                "updated",
                Value::Array(roster.to_vec()),
            ),
        );
    }
    let copies = if script.duplicates { 2 } else { 1 };
    let mut out = Vec::with_capacity(steps.len() * copies);
    for (u, change, data) in steps {
        for _ in 0..copies {
            out.push(Outgoing {
                delay: script.delay_before(out.len()),
                body: batch_of(vec![note(&u, change, data.clone())]),
                ends_transfer: false,
                apply_state: true,
            });
        }
    }
    let ends = !matches!(script.flow, TransferFlow::NoOutcome);
    if let Some(last) = out.last_mut() {
        last.ends_transfer = ends;
        if let Some(ms) = script.final_delay_ms {
            last.delay = std::time::Duration::from_millis(ms);
        }
    }
    if script.batching && out.len() > 1 {
        let delay = out[0].delay;
        let notes: Vec<Value> = out
            .iter()
            .filter_map(|o| o.body["value"].as_array())
            .flatten()
            .cloned()
            .collect();
        return vec![Outgoing {
            delay,
            body: batch_of(notes),
            ends_transfer: ends,
            apply_state: true,
        }];
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
        let plan = transfer_plan("c1", &Script::default(), false, &[]);
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
        let plan = transfer_plan("c1", &Script::default(), true, &[]);
        assert_eq!(
            plan[2].body["value"][0]["resourceData"]["terminationReason"],
            "AppTransferred"
        );
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let script = Script::default().with_out_of_order().with_duplicates();
        let plan = transfer_plan("c1", &script, false, &[]);
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
            &[],
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
            &[],
        );
        let ms: Vec<u128> = plan.iter().map(|o| o.delay.as_millis()).collect();
        assert_eq!(ms, [1, 2, 5]);
    }

    #[test]
    fn no_outcome_never_ends_the_transfer() {
        let plan = transfer_plan("c1", &Script::new(TransferFlow::NoOutcome), false, &[]);
        assert!(plan.iter().all(|o| !o.ends_transfer));
    }

    fn urls(plan: &[Outgoing]) -> Vec<String> {
        plan.iter()
            .flat_map(|o| o.body["value"].as_array().cloned().unwrap_or_default())
            .map(|n| {
                format!(
                    "{} {}",
                    n["changeType"].as_str().unwrap_or("?"),
                    n["resourceUrl"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }

    #[test]
    fn failed_after_accepted() {
        let plan = transfer_plan(
            "c1",
            &Script::new(TransferFlow::FailedAfterAccepted),
            false,
            &[],
        );
        assert_eq!(
            states(&plan),
            ["transferring", "transferAccepted", "established"]
        );
        assert_eq!(
            plan[2].body["value"][0]["resourceData"]["resultInfo"]["subCode"],
            7000
        );
        assert!(plan[2].ends_transfer);
    }

    #[test]
    fn batching_puts_every_notification_in_one_body() {
        let plan = transfer_plan("c1", &Script::default().with_batching(), false, &[]);
        assert_eq!(plan.len(), 1);
        assert!(plan[0].ends_transfer);
        let notes = plan[0].body["value"].as_array().unwrap();
        let states: Vec<&str> = notes
            .iter()
            .map(|n| n["resourceData"]["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["transferring", "transferAccepted", "terminated"]);
    }

    #[test]
    fn deleted_after_terminated_is_bare() {
        let plan = transfer_plan(
            "c1",
            &Script::default().with_deleted_after_terminated(),
            false,
            &[],
        );
        assert_eq!(
            urls(&plan),
            [
                "updated /communications/calls/c1",
                "updated /communications/calls/c1",
                "updated /communications/calls/c1",
                "deleted /communications/calls/c1"
            ]
        );
        assert_eq!(states(&plan)[2], "terminated");
        assert_eq!(
            plan[3].body["value"][0]["resourceData"],
            json!({"@odata.type": "#microsoft.graph.call", "@odata.id": "/communications/calls/c1"})
        );
        assert!(plan[3].ends_transfer && !plan[2].ends_transfer);
    }

    #[test]
    fn roster_update_comes_second() {
        let roster = [json!({"@odata.type": "#microsoft.graph.participant", "id": "p1"})];
        let plan = transfer_plan("c1", &Script::default().with_roster(), false, &roster);
        assert_eq!(
            urls(&plan)[1],
            "updated /communications/calls/c1/participants"
        );
        assert_eq!(plan[1].body["value"][0]["resourceData"][0]["id"], "p1");
        assert_eq!(plan.len(), 4);
    }

    #[test]
    fn operations_flow_uses_comms_operations() {
        let plan = transfer_plan("c1", &Script::default().with_operations(), false, &[]);
        let n = |i: usize| &plan[i].body["value"][0];
        assert!(n(0)["resourceUrl"]
            .as_str()
            .unwrap()
            .starts_with("/communications/calls/c1/operations/"));
        assert_eq!(
            n(0)["resourceData"]["@odata.type"],
            "#microsoft.graph.commsOperation"
        );
        assert_eq!(n(0)["resourceData"]["status"], "running");
        assert_eq!(
            n(0)["resourceData"]["resultInfo"]["subCode"],
            "transferring"
        );
        assert_eq!(n(1)["changeType"], "deleted");
        assert_eq!(n(1)["resourceData"]["status"], "completed");
        assert_eq!(
            n(1)["resourceData"]["resultInfo"]["subCode"],
            "transferAccepted"
        );
        assert_eq!(n(2)["resourceData"]["state"], "terminated");

        let failed = transfer_plan(
            "c1",
            &Script::new(TransferFlow::Failed).with_operations(),
            false,
            &[],
        );
        let f = |i: usize| &failed[i].body["value"][0]["resourceData"];
        assert_eq!(f(1)["status"], "failed");
        assert_eq!(f(1)["resultInfo"]["subCode"], 7000);
        assert_eq!(f(2)["state"], "established");
        assert!(failed[2].ends_transfer);
    }

    #[test]
    fn out_of_order_finds_accepted_in_the_operations_flow() {
        let plan = transfer_plan(
            "c1",
            &Script::default().with_operations().with_out_of_order(),
            false,
            &[],
        );
        assert_eq!(
            plan[0].body["value"][0]["resourceData"]["resultInfo"]["subCode"],
            "transferAccepted"
        );
    }

    #[test]
    fn the_final_notification_can_be_late() {
        let plan = transfer_plan(
            "c1",
            &Script::default()
                .with_delay_ms(1)
                .with_final_delay_ms(60_000),
            false,
            &[],
        );
        let ms: Vec<u128> = plan.iter().map(|o| o.delay.as_millis()).collect();
        assert_eq!(ms, [1, 1, 60_000]);
    }
}
