//! Scripted realism over 127.0.0.1, on the wire: batching, `deleted` after `terminated`, roster
//! updates, the legacy operations flow, late outcomes and synchronous refusals.

mod common;

use common::*;
use graph_comms_emulator::{Emulator, PlaceCall, Script, TransferFlow};
use serde_json::{json, Value};

async fn transfer(em: &Emulator, cb: &mut Callback, script: Script, body: &str) -> (String, Resp) {
    let placed = em
        .place_call(PlaceCall::new(&cb.url).with_script(script))
        .unwrap();
    cb.take(2).await;
    let g = Graph::new(em, "v1.0").await;
    let r = g.transfer(&placed.id, body).await;
    (placed.id, r)
}

fn notes(r: &Received) -> Vec<Value> {
    r.body["value"].as_array().unwrap().clone()
}

#[tokio::test]
async fn batching_sends_the_whole_flow_in_one_body() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let (id, r) = transfer(&em, &mut cb, Script::default().with_batching(), PEER_BODY).await;
    assert_eq!(r.status, 202);
    let got = cb.next().await;
    let states: Vec<Value> = notes(&got)
        .iter()
        .map(|n| n["resourceData"]["state"].clone())
        .collect();
    assert_eq!(
        states,
        [
            json!("transferring"),
            json!("transferAccepted"),
            json!("terminated")
        ]
    );
    em.wait_for_deliveries(&id, 3, WAIT).await;
    cb.assert_empty();
    assert!(em.call(&id).is_none(), "the batch ended the call");
}

#[tokio::test]
async fn deleted_after_terminated_is_bare() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let script = Script::default().with_deleted_after_terminated();
    let (id, r) = transfer(&em, &mut cb, script, PEER_BODY).await;
    assert_eq!(r.status, 202);
    let got = cb.take(4).await;
    assert_eq!(got[2].state(), "terminated");
    assert_eq!(got[2].note()["changeType"], "updated");
    assert_eq!(got[3].note()["changeType"], "deleted");
    assert_eq!(
        got[3].note()["resourceData"],
        json!({"@odata.type": "#microsoft.graph.call", "@odata.id": format!("/communications/calls/{id}")})
    );
    em.wait_for_deliveries(&id, 6, WAIT).await;
    assert!(em.call(&id).is_none());
}

#[tokio::test]
async fn roster_updates_interleave_with_the_transfer() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let (id, r) = transfer(&em, &mut cb, Script::default().with_roster(), PEER_BODY).await;
    assert_eq!(r.status, 202);
    let got = cb.take(4).await;
    assert_eq!(got[0].state(), "transferring");
    let roster = got[1].note();
    assert_eq!(
        roster["resourceUrl"],
        format!("/communications/calls/{id}/participants")
    );
    assert_eq!(
        roster["resourceData"][0]["@odata.type"],
        "#microsoft.graph.participant"
    );
    assert_eq!(got[3].state(), "terminated");
}

#[tokio::test]
async fn the_operations_flow_uses_comms_operations() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let script = Script::new(TransferFlow::Failed).with_operations();
    let (id, r) = transfer(&em, &mut cb, script, PEER_BODY).await;
    assert_eq!(r.status, 202);
    let got = cb.take(3).await;
    let op_url = got[0].note()["resourceUrl"].as_str().unwrap().to_owned();
    assert!(op_url.starts_with(&format!("/communications/calls/{id}/operations/")));
    assert_eq!(
        got[0].note()["resourceData"]["resultInfo"]["subCode"],
        "transferring"
    );
    assert_eq!(got[0].note()["resourceData"]["status"], "running");
    assert_eq!(got[1].note()["resourceUrl"], op_url.as_str());
    assert_eq!(got[1].note()["resourceData"]["status"], "failed");
    assert_eq!(got[2].state(), "established");
    em.wait_for_deliveries(&id, 5, WAIT).await;
    assert_eq!(em.call_state(&id).as_deref(), Some("established"));
}

#[tokio::test]
async fn scripted_refusals_are_403_with_graphs_code() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    for code in [7505, 8523] {
        let (id, r) = transfer(
            &em,
            &mut cb,
            Script::default().with_refusal(code),
            PEER_BODY,
        )
        .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.body["error"]["code"], code.to_string());
        assert_eq!(
            r.headers["request-id"].to_str().unwrap(),
            r.body["error"]["innerError"]["request-id"]
        );
        // Nothing was started: the call is still established, and can be transferred once
        // rescripted.
        assert_eq!(em.call_state(&id).as_deref(), Some("established"));
        em.script_call(&id, Script::default()).unwrap();
        let g = Graph::new(&em, "v1.0").await;
        assert_eq!(g.transfer(&id, PEER_BODY).await.status, 202);
        cb.take(3).await;
    }
}

#[tokio::test]
async fn every_option_is_a_script_field() {
    let em = emulator().await;
    let body = r#"{"flow":"failedAfterAccepted","target":"noAnswer","batching":true,"deletedAfterTerminated":true,"roster":true,"operations":true,"finalDelayMs":60000,"refuse":8523}"#;
    let r = reqwest::Client::new()
        .put(format!("{}/_emulator/script", em.root_url()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let bytes = reqwest::get(format!("{}/_emulator", em.root_url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let index: Value = serde_json::from_slice(&bytes).unwrap();
    let expected: Value = serde_json::from_str(body).unwrap();
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&index["defaultScript"][k], v, "{k}");
    }
}

#[tokio::test]
async fn a_hang_up_and_a_delete_can_end_with_a_bare_deleted_too() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let script = Script::default().with_deleted_after_terminated();
    let g = Graph::new(&em, "v1.0").await;
    for by_bot in [false, true] {
        let placed = em
            .place_call(PlaceCall::new(&cb.url).with_script(script.clone()))
            .unwrap();
        cb.take(2).await;
        if by_bot {
            let r = g
                .send(
                    reqwest::Method::DELETE,
                    &format!("/communications/calls/{}", placed.id),
                    None,
                )
                .await;
            assert_eq!(r.status, 204);
            assert_eq!(cb.next().await.state(), "terminating");
        } else {
            em.hang_up(&placed.id).unwrap();
        }
        let got = cb.take(2).await;
        assert_eq!(got[0].state(), "terminated");
        assert_eq!(got[0].note()["changeType"], "updated");
        assert_eq!(got[1].note()["changeType"], "deleted");
        assert!(got[1].note()["resourceData"].get("state").is_none());
        let n = if by_bot { 5 } else { 4 };
        em.wait_for_deliveries(&placed.id, n, WAIT).await;
        assert!(em.call(&placed.id).is_none());
    }
}
