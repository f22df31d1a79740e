//! The wire format, pinned: every flow's notifications and the create-call answer, as insta JSON
//! snapshots (call ids and generated values redacted).

mod common;

use common::*;
use graph_comms_emulator::{PlaceCall, Script, TransferFlow};
use serde_json::{json, Value};

async fn flow_bodies(flow: TransferFlow, body: &str) -> Vec<Value> {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let placed = em
        .place_call(PlaceCall::new(&cb.url).with_script(Script::new(flow)))
        .unwrap();
    cb.take(2).await;
    assert_eq!(transfer_status(&em, &placed.id, body).await, 202);
    let n = match flow {
        TransferFlow::Failed
        | TransferFlow::ConsultativeFailed
        | TransferFlow::CallerHangUp
        | TransferFlow::NoOutcome => 2,
        _ => 3,
    };
    cb.take(n).await.into_iter().map(|r| r.body).collect()
}

#[tokio::test]
async fn every_flow_on_the_wire() {
    for flow in TransferFlow::ALL {
        let body = if flow == TransferFlow::ConsultativeFailed {
            CONSULTATIVE_BODY
        } else {
            PEER_BODY
        };
        let bodies = flow_bodies(flow, body).await;
        insta::assert_json_snapshot!(format!("flow_{flow}"), bodies, {
            "[].value[].resourceUrl" => "[resourceUrl]",
            "[].value[].resourceData.replacesContext" => "[replacesContext]",
        });
    }
}

#[tokio::test]
async fn create_call_answer_on_the_wire() {
    let em = emulator().await;
    let cb = Callback::start().await;
    let g = Graph::new(&em, "beta").await;
    let body = json!({
        "@odata.type": "#microsoft.graph.call",
        "callbackUri": cb.url,
        "targets": [{
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": {"@odata.type": "#microsoft.graph.identitySet",
                         "user": {"@odata.type": "#microsoft.graph.identity", "displayName": "John", "id": "112f7296-5fa4-42ca-bae8-6a692b15d4b8"}}
        }],
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}
    });
    let r = g.post("/communications/calls", &body.to_string()).await;
    assert_eq!(r.status, 201);
    let mut answer = r.body;
    let context = answer["@odata.context"]
        .as_str()
        .unwrap()
        .replace(em.root_url(), "[root]");
    answer["@odata.context"] = Value::String(context);
    insta::assert_json_snapshot!("create_call_201", answer, {
        ".id" => "[id]",
        ".callChainId" => "[uuid]",
        ".myParticipantId" => "[uuid]",
        ".callbackUri" => "[callbackUri]",
    });
}
