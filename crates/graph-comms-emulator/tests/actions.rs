//! Call control over 127.0.0.1: placing calls (answered, declined, not answered), answering,
//! rejecting and redirecting incoming calls, prompts, hold music, the roster, hang-ups, and the
//! roles each action needs.

mod common;

use common::*;
use graph_comms_emulator::{
    CallTarget, Emulator, PlaceCall, PlacedCall, Script, CALLS_ROLE, JOIN_GROUP_CALL_AS_GUEST_ROLE,
};
use serde_json::{json, Value};

const PROMPT: &str = r##"{"clientContext":"d45324c1-fcb5-430a-902c-f20af696537c","prompts":[{"@odata.type":"#microsoft.graph.mediaPrompt","mediaInfo":{"@odata.type":"#microsoft.graph.mediaInfo","uri":"https://cdn.contoso.com/beep.wav","resourceId":"1D6DE2D4-CD51-4309-8DAA-70768651088E"}}]}"##;

const HOLD: &str = r##"{"customPrompt":{"@odata.type":"#microsoft.graph.mediaPrompt","mediaInfo":{"@odata.type":"#microsoft.graph.mediaInfo","uri":"https://bot.contoso.com/onhold.wav","resourceId":"1D6DE2D4-CD51-4309-8DAA-70768651088E"}},"clientContext":"d45324c1-fcb5-430a-902c-f20af696537c"}"##;

fn create_body(callback: &str) -> String {
    json!({
        "@odata.type": "#microsoft.graph.call",
        "callbackUri": callback,
        "targets": [{
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": {"@odata.type": "#microsoft.graph.identitySet",
                         "user": {"@odata.type": "#microsoft.graph.identity", "displayName": "John", "id": "112f7296-5fa4-42ca-bae8-6a692b15d4b8"}}
        }],
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}
    })
    .to_string()
}

/// An incoming call that the bot answers itself; its `incoming` notification consumed.
async fn incoming(em: &Emulator, cb: &mut Callback) -> String {
    let placed = em
        .place_call(PlaceCall::new(&cb.url).answered_by_bot())
        .unwrap();
    let created = cb.next().await;
    assert_eq!(created.note()["changeType"], "created");
    assert_eq!(created.state(), "incoming");
    assert_eq!(created.note()["resourceData"]["direction"], "incoming");
    placed.id
}

fn path(id: &str, action: &str) -> String {
    format!("/communications/calls/{id}/{action}")
}

#[tokio::test]
async fn a_placed_call_is_answered_by_default() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let g = Graph::new(&em, "v1.0").await;
    let r = g.post("/communications/calls", &create_body(&cb.url)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let got = cb.take(2).await;
    assert_eq!(
        got.iter().map(Received::state).collect::<Vec<_>>(),
        ["establishing", "established"]
    );
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(em.call_state(id).as_deref(), Some("established"));
}

async fn placed_with_target(target: CallTarget) -> (Vec<Received>, String, Emulator) {
    let em = emulator().await;
    em.set_default_script(Script::default().with_target(target));
    let mut cb = Callback::start().await;
    let g = Graph::new(&em, "v1.0").await;
    let r = g.post("/communications/calls", &create_body(&cb.url)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let got = cb.take(2).await;
    em.wait_for_deliveries(&id, 2, WAIT).await;
    cb.assert_empty();
    (got, id, em)
}

#[tokio::test]
async fn a_declined_call_ends_with_603() {
    let (got, id, em) = placed_with_target(CallTarget::Decline).await;
    assert_eq!(got[0].state(), "establishing");
    assert_eq!(got[1].state(), "terminated");
    assert_eq!(got[1].note()["changeType"], "deleted");
    assert_eq!(got[1].note()["resourceData"]["resultInfo"]["code"], 603);
    assert!(em.call(&id).is_none(), "a declined call is gone");
}

#[tokio::test]
async fn an_unanswered_call_ends_with_408() {
    let (got, id, em) = placed_with_target(CallTarget::NoAnswer).await;
    assert_eq!(got[1].state(), "terminated");
    let ri = &got[1].note()["resourceData"]["resultInfo"];
    assert_eq!(
        (ri["code"].as_i64(), ri["subcode"].as_i64()),
        (Some(408), Some(10057))
    );
    assert!(em.call(&id).is_none());
}

#[tokio::test]
async fn a_ringing_call_rings_until_the_bot_hangs_up() {
    let em = emulator().await;
    em.set_default_script(Script::default().with_target(CallTarget::Ring));
    let mut cb = Callback::start().await;
    let g = Graph::new(&em, "v1.0").await;
    let r = g.post("/communications/calls", &create_body(&cb.url)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let got = cb.take(1).await;
    assert_eq!(got[0].state(), "establishing");
    em.wait_for_deliveries(&id, 1, WAIT).await;
    cb.assert_empty();
    assert_eq!(em.call_state(&id).as_deref(), Some("establishing"));
    // The bot gives up: DELETE ends it.
    let r = g
        .send(
            reqwest::Method::DELETE,
            &format!("/communications/calls/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let got = cb.take(2).await;
    assert_eq!(got[1].state(), "terminated");
}

#[tokio::test]
async fn the_target_is_set_through_the_control_api() {
    let em = emulator().await;
    let r = reqwest::Client::new()
        .put(format!("{}/_emulator/script", em.root_url()))
        .body(r#"{"target":"decline"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let mut cb = Callback::start().await;
    let g = Graph::new(&em, "beta").await;
    let r = g.post("/communications/calls", &create_body(&cb.url)).await;
    assert_eq!(r.status, 201);
    assert_eq!(
        cb.take(2).await[1].note()["resourceData"]["resultInfo"]["code"],
        603
    );
    let bad = reqwest::Client::new()
        .put(format!("{}/_emulator/script", em.root_url()))
        .body(r#"{"target":"maybe"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn answer_sends_establishing_then_established() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = incoming(&em, &mut cb).await;
    let g = Graph::new(&em, "v1.0").await;
    let body = r##"{"callbackUri":"CB","acceptedModalities":["audio"],"mediaConfig":{"@odata.type":"#microsoft.graph.serviceHostedMediaConfig"}}"##.replace("CB", &cb.url);
    let r = g.post(&path(&id, "answer"), &body).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let got = cb.take(2).await;
    assert_eq!(
        got.iter().map(Received::state).collect::<Vec<_>>(),
        ["establishing", "established"]
    );
    // A second answer is refused.
    assert_eq!(g.post(&path(&id, "answer"), &body).await.status, 400);
}

#[tokio::test]
async fn reject_sends_a_bare_deleted() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = incoming(&em, &mut cb).await;
    let g = Graph::new(&em, "v1.0").await;
    let r = g.post(&path(&id, "reject"), r#"{"reason":"busy"}"#).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let got = cb.next().await;
    assert_eq!(got.note()["changeType"], "deleted");
    assert_eq!(
        got.note()["resourceData"],
        json!({"@odata.type": "#microsoft.graph.call", "@odata.id": format!("/communications/calls/{id}")})
    );
    let records = em.wait_for_deliveries(&id, 2, WAIT).await;
    assert_eq!(records[1].state, None);
    assert!(em.call(&id).is_none());
    assert_eq!(g.post(&path(&id, "reject"), "{}").await.status, 404);
}

#[tokio::test]
async fn reject_checks_its_reason_and_the_state() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = incoming(&em, &mut cb).await;
    let g = Graph::new(&em, "v1.0").await;
    let r = g.post(&path(&id, "reject"), r#"{"reason":"grumpy"}"#).await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("reason:"));
    let answered = established(&em, &mut cb, Script::default()).await.id;
    let r = g
        .post(&path(&answered, "reject"), r#"{"reason":"none"}"#)
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("only an incoming call"));
}

#[tokio::test]
async fn redirect_ends_the_bots_leg() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = incoming(&em, &mut cb).await;
    let g = Graph::new(&em, "v1.0").await;
    let body = r##"{"targets":[{"@odata.type":"#microsoft.graph.invitationParticipantInfo","identity":{"@odata.type":"#microsoft.graph.identitySet","phone":{"@odata.type":"#microsoft.graph.identity","id":"+12345678901"}}}],"timeout":30}"##;
    let r = g.post(&path(&id, "redirect"), body).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let got = cb.next().await;
    assert_eq!(got.note()["changeType"], "deleted");
    assert_eq!(got.state(), "terminated");
    assert_eq!(got.note()["resourceData"]["direction"], "incoming");
    em.wait_for_deliveries(&id, 2, WAIT).await;
    assert!(em.call(&id).is_none());
}

#[tokio::test]
async fn redirect_needs_targets_and_a_sane_timeout() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = incoming(&em, &mut cb).await;
    let g = Graph::new(&em, "v1.0").await;
    for (body, field) in [
        ("{}", "targets:"),
        (r#"{"targets":[]}"#, "targets:"),
        (r#"{"targets":[{"identity":{}}]}"#, "targets[0].identity"),
        (
            r#"{"targets":[{"identity":{"user":{"id":"u"}}}],"timeout":5}"#,
            "timeout:",
        ),
    ] {
        let r = g.post(&path(&id, "redirect"), body).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{body}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn play_prompt_answers_an_operation_and_notifies_its_completion() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = established(&em, &mut cb, Script::default()).await.id;
    let g = Graph::new(&em, "v1.0").await;
    let r = g.post(&path(&id, "playPrompt"), PROMPT).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["@odata.type"],
        "#microsoft.graph.playPromptOperation"
    );
    assert_eq!(r.body["status"], "running");
    assert_eq!(
        r.body["clientContext"],
        "d45324c1-fcb5-430a-902c-f20af696537c"
    );
    let op = r.body["id"].as_str().unwrap();
    let location = r.headers["location"].to_str().unwrap();
    assert!(location.ends_with(&format!("/v1.0/communications/calls/{id}/operations/{op}")));
    let got = cb.next().await;
    let note = got.note();
    assert_eq!(note["changeType"], "deleted");
    assert_eq!(
        note["resourceUrl"],
        format!("/communications/calls/{id}/operations/{op}")
    );
    assert_eq!(note["resourceData"]["status"], "completed");
    assert_eq!(note["resourceData"]["resultInfo"]["code"], 200);
    // The call is untouched.
    assert_eq!(em.call_state(&id).as_deref(), Some("established"));
    let r = g.post(&path(&id, "playPrompt"), r#"{"prompts":[]}"#).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn hold_music_one_participant_at_a_time() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let placed = em
        .place_call(PlaceCall::new(&cb.url).with_group(2))
        .unwrap();
    cb.take(2).await;
    let id = placed.id;
    let p0 = placed.participants[0].participant_id.as_deref().unwrap();
    let p1 = placed.participants[1].participant_id.as_deref().unwrap();
    let g = Graph::new(&em, "v1.0").await;
    let start = |p: &str| format!("/communications/calls/{id}/participants/{p}/startHoldMusic");
    let stop = |p: &str| format!("/communications/calls/{id}/participants/{p}/stopHoldMusic");

    let r = g.post(&start(p0), HOLD).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        r.body["@odata.type"],
        "#microsoft.graph.startHoldMusicOperation"
    );
    assert_eq!(r.body["status"], "running");
    let got = cb.next().await;
    assert_eq!(got.note()["resourceData"]["status"], "completed");
    assert!(got.note()["resourceUrl"]
        .as_str()
        .unwrap()
        .contains("/operations/"));
    assert_eq!(on_hold(&em, &id).await, json!(p0));

    // One at a time; twice is refused too.
    assert_eq!(g.post(&start(p1), HOLD).await.status, 400);
    assert_eq!(g.post(&start(p0), "{}").await.status, 400);
    // Only who is on hold can be taken off.
    assert_eq!(g.post(&stop(p1), "{}").await.status, 400);
    let r = g.post(&stop(p0), r#"{"clientContext":"c"}"#).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        r.body["@odata.type"],
        "#microsoft.graph.stopHoldMusicOperation"
    );
    assert_eq!(
        cb.next().await.note()["resourceData"]["status"],
        "completed"
    );
    assert_eq!(on_hold(&em, &id).await, Value::Null);
    assert_eq!(g.post(&start(p1), "{}").await.status, 202);
    // An unknown participant.
    assert_eq!(g.post(&start("nobody"), "{}").await.status, 404);
}

async fn on_hold(em: &Emulator, id: &str) -> Value {
    let bytes = reqwest::get(format!("{}/_emulator/calls", em.root_url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let list: Value = serde_json::from_slice(&bytes).unwrap();
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .map(|c| c["onHold"].clone())
        .unwrap()
}

#[tokio::test]
async fn participants_are_listed_for_placed_and_created_calls() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let PlacedCall {
        id, participants, ..
    } = established(&em, &mut cb, Script::default()).await;
    let g = Graph::new(&em, "v1.0").await;
    let r = g
        .send(reqwest::Method::GET, &path(&id, "participants"), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["value"][0]["id"].as_str(),
        participants[0].participant_id.as_deref()
    );
    assert_eq!(
        r.body["value"][0]["@odata.type"],
        "#microsoft.graph.participant"
    );

    let created = g.post("/communications/calls", &create_body(&cb.url)).await;
    let cid = created.body["id"].as_str().unwrap();
    let r = g
        .send(reqwest::Method::GET, &path(cid, "participants"), None)
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        r.body["value"][0]["info"]["identity"]["user"]["displayName"],
        "John"
    );
}

#[tokio::test]
async fn delete_works_for_every_call() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let g = Graph::new(&em, "v1.0").await;
    let ringing = incoming(&em, &mut cb).await;
    let answered = established(&em, &mut cb, Script::default()).await.id;
    let created = g.post("/communications/calls", &create_body(&cb.url)).await;
    let created = created.body["id"].as_str().unwrap().to_owned();
    cb.take(2).await;
    for id in [ringing, answered, created] {
        let r = g
            .send(
                reqwest::Method::DELETE,
                &format!("/communications/calls/{id}"),
                None,
            )
            .await;
        assert_eq!(r.status, 204, "{id}");
        let got = cb.take(2).await;
        assert_eq!(
            got.iter().map(Received::state).collect::<Vec<_>>(),
            ["terminating", "terminated"]
        );
        assert_eq!(got[1].note()["changeType"], "deleted");
        let r = g
            .send(
                reqwest::Method::DELETE,
                &format!("/communications/calls/{id}"),
                None,
            )
            .await;
        assert_eq!(r.status, 404);
    }
}

#[tokio::test]
async fn each_action_needs_its_role() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let placed = em
        .place_call(PlaceCall::new(&cb.url).with_group(2))
        .unwrap();
    cb.take(2).await;
    let id = placed.id;
    let p0 = placed.participants[0].participant_id.as_deref().unwrap();
    let hold = format!("/communications/calls/{id}/participants/{p0}/startHoldMusic");
    let mut g = Graph::new(&em, "v1.0").await;

    // Calls.Initiate.All only: no hold music.
    g.token = Some(em.issue_token(TENANT, APP_ID, &[CALLS_ROLE]).unwrap());
    let r = g.post(&hold, "{}").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "Forbidden");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Calls.JoinGroupCall.All"));
    assert_eq!(g.post(&path(&id, "playPrompt"), PROMPT).await.status, 200);

    // The guest role is enough for hold music, and not for the call actions.
    g.token = Some(
        em.issue_token(TENANT, APP_ID, &[JOIN_GROUP_CALL_AS_GUEST_ROLE])
            .unwrap(),
    );
    assert_eq!(g.post(&hold, "{}").await.status, 202);
    for action in ["playPrompt", "reject", "redirect", "answer", "transfer"] {
        let r = g.post(&path(&id, action), "{}").await;
        assert_eq!(r.status, 403, "{action}: {}", r.body);
    }
    assert_eq!(
        g.post("/communications/calls", &create_body(&cb.url))
            .await
            .status,
        403
    );
    let r = g
        .send(
            reqwest::Method::DELETE,
            &format!("/communications/calls/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn the_token_endpoint_grants_the_configured_roles() {
    let em = Emulator::start(config().with_default_roles([CALLS_ROLE]))
        .await
        .unwrap();
    let mut cb = Callback::start().await;
    let placed = em
        .place_call(PlaceCall::new(&cb.url).with_group(2))
        .unwrap();
    cb.take(2).await;
    let p0 = placed.participants[0].participant_id.as_deref().unwrap();
    let g = Graph::new(&em, "v1.0").await;
    let r = g
        .post(
            &format!(
                "/communications/calls/{}/participants/{p0}/startHoldMusic",
                placed.id
            ),
            "{}",
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn a_consultative_transfer_ends_the_consultation_and_shows_who_is_held() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let PlacedCall {
        id: original,
        participants: people,
        ..
    } = established(&em, &mut cb, Script::default()).await;
    let caller = people[0].participant_id.as_deref().unwrap();
    let g = Graph::new(&em, "v1.0").await;
    // The bot holds the caller, then places the consultation call to the target.
    let r = g
        .post(
            &format!("/communications/calls/{original}/participants/{caller}/startHoldMusic"),
            HOLD,
        )
        .await;
    assert_eq!(r.status, 202);
    cb.next().await;
    assert_eq!(on_hold(&em, &original).await, json!(caller));
    let consultation = g.post("/communications/calls", &create_body(&cb.url)).await;
    let consultation = consultation.body["id"].as_str().unwrap().to_owned();
    cb.take(2).await;
    let body = CONSULTATIVE_BODY.replace("e5d39592-99bd-4db8-bca8-30fb894ec51d", &consultation);
    assert_eq!(g.transfer(&original, &body).await.status, 202);
    let got = cb.take(4).await;
    let ended: Vec<&Received> = got
        .iter()
        .filter(|r| r.note()["resourceUrl"] == format!("/communications/calls/{consultation}"))
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].state(), "terminated");
    assert_eq!(
        ended[0].note()["resourceData"]["terminationReason"],
        "AppTransferred"
    );
    em.wait_for_deliveries(&consultation, 3, WAIT).await;
    assert!(em.call(&consultation).is_none());
}

#[tokio::test]
async fn an_incoming_call_names_a_pstn_caller_and_the_resource_account_called() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let instance = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
    let placed = em
        .place_call(
            PlaceCall::new(&cb.url)
                .answered_by_bot()
                .from_phone("+14255550123")
                .to_instance(instance)
                .to_phone("+14255550100"),
        )
        .unwrap();
    let created = cb.next().await;
    let data = &created.note()["resourceData"];
    assert_eq!(data["source"]["identity"]["phone"]["id"], "+14255550123");
    assert!(data["source"]["identity"].get("user").is_none(), "{data}");
    let callee = &data["targets"][0]["identity"];
    assert_eq!(callee["applicationInstance"]["id"], instance);
    assert_eq!(callee["phone"]["id"], "+14255550100");
    assert_eq!(callee["application"]["id"], APP_ID);
    // The caller's participant is the phone number too.
    let caller = serde_json::to_value(&placed.participants[0]).unwrap();
    assert_eq!(caller["identity"]["phone"]["id"], "+14255550123");
}
