//! Every scripted branch end to end over 127.0.0.1, with a minimal callback server and reqwest.

mod common;

use common::*;
use graph_comms_emulator::{DeliveryPolicy, Emulator, PlaceCall, Script, TransferFlow};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

fn states(rs: &[Received]) -> Vec<&str> {
    rs.iter().map(Received::state).collect()
}

async fn run(flow: TransferFlow, body: &str) -> (Vec<Received>, String, Emulator) {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = established(&em, &mut cb, Script::new(flow)).await.id;
    let g = Graph::new(&em, "beta").await;
    let r = g.transfer(&id, body).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let n = match flow {
        TransferFlow::Failed
        | TransferFlow::ConsultativeFailed
        | TransferFlow::CallerHangUp
        | TransferFlow::NoOutcome => 2,
        _ => 3,
    };
    let got = cb.take(n).await;
    em.wait_for_deliveries(&id, 2 + n, WAIT).await;
    cb.assert_empty();
    (got, id, em)
}

#[tokio::test]
async fn success_flow_ends_with_7015_and_deletes_the_call() {
    let (got, id, em) = run(TransferFlow::Success, PEER_BODY).await;
    assert_eq!(
        states(&got),
        ["transferring", "transferAccepted", "terminated"]
    );
    let last = got[2].note();
    assert_eq!(last["changeType"], "deleted");
    assert_eq!(last["resourceUrl"], format!("/communications/calls/{id}"));
    assert_eq!(
        last["resourceData"]["resultInfo"],
        json!({"@odata.type": "#microsoft.graph.resultInfo", "code": 0, "subcode": 7015, "message": "GracefulTransferCompleted"})
    );
    assert!(em.call(&id).is_none(), "a transferred call is gone");
    let g = Graph::new(&em, "beta").await;
    assert_eq!(
        g.send(
            reqwest::Method::GET,
            &format!("/communications/calls/{id}"),
            None
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn consultative_success_is_app_transferred() {
    let (got, _, _em) = run(TransferFlow::Success, CONSULTATIVE_BODY).await;
    assert_eq!(
        states(&got),
        ["transferring", "transferAccepted", "terminated"]
    );
    assert_eq!(
        got[2].note()["resourceData"]["terminationReason"],
        "AppTransferred"
    );
    assert!(got[2].note()["resourceData"].get("resultInfo").is_none());
}

#[tokio::test]
async fn forced_completed_and_app_transferred() {
    let (got, _, _em) = run(TransferFlow::Completed, CONSULTATIVE_BODY).await;
    assert_eq!(got[2].note()["resourceData"]["resultInfo"]["subcode"], 7015);
    let (got, _, _em) = run(TransferFlow::AppTransferred, PEER_BODY).await;
    assert_eq!(
        got[2].note()["resourceData"]["terminationReason"],
        "AppTransferred"
    );
}

#[tokio::test]
async fn failed_flow_returns_to_established_with_7000_and_can_retry() {
    let (got, id, em) = run(TransferFlow::Failed, PEER_BODY).await;
    assert_eq!(states(&got), ["transferring", "established"]);
    let ri = &got[1].note()["resourceData"]["resultInfo"];
    assert_eq!(
        (ri["code"].as_i64(), ri["subCode"].as_i64()),
        (Some(500), Some(7000))
    );
    assert_eq!(got[1].note()["changeType"], "updated");
    assert_eq!(em.call_state(&id).as_deref(), Some("established"));
    // The call may be transferred again.
    em.script_call(&id, Script::new(TransferFlow::Success))
        .unwrap();
    let g = Graph::new(&em, "v1.0").await;
    assert_eq!(g.transfer(&id, PEER_BODY).await.status, 202);
}

#[tokio::test]
async fn consultative_failure_has_7700_and_replaces_context() {
    let (got, _, _em) = run(TransferFlow::ConsultativeFailed, CONSULTATIVE_BODY).await;
    assert_eq!(states(&got), ["transferring", "established"]);
    let data = &got[1].note()["resourceData"];
    assert_eq!(data["resultInfo"]["subCode"], 7700);
    assert!(data["replacesContext"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
}

#[tokio::test]
async fn caller_hang_up_mid_transfer_ends_the_call_without_a_transfer_code() {
    let (got, id, em) = run(TransferFlow::CallerHangUp, PEER_BODY).await;
    assert_eq!(states(&got), ["transferring", "terminated"]);
    let data = &got[1].note()["resourceData"];
    assert_eq!(got[1].note()["changeType"], "deleted");
    assert_ne!(data["resultInfo"]["subcode"], 7015);
    assert!(data.get("terminationReason").is_none());
    assert!(em.call(&id).is_none());
}

#[tokio::test]
async fn no_outcome_stops_after_transfer_accepted() {
    let (got, id, em) = run(TransferFlow::NoOutcome, PEER_BODY).await;
    assert_eq!(states(&got), ["transferring", "transferAccepted"]);
    assert_eq!(em.call_state(&id).as_deref(), Some("transferAccepted"));
}

#[tokio::test]
async fn out_of_order_delivers_transfer_accepted_first() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = established(&em, &mut cb, Script::default().with_out_of_order())
        .await
        .id;
    assert_eq!(transfer_status(&em, &id, PEER_BODY).await, 202);
    assert_eq!(
        states(&cb.take(3).await),
        ["transferAccepted", "transferring", "terminated"]
    );
}

#[tokio::test]
async fn out_of_order_failure_delivers_the_outcome_first() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = established(
        &em,
        &mut cb,
        Script::new(TransferFlow::Failed).with_out_of_order(),
    )
    .await
    .id;
    assert_eq!(transfer_status(&em, &id, PEER_BODY).await, 202);
    assert_eq!(states(&cb.take(2).await), ["established", "transferring"]);
}

#[tokio::test]
async fn duplicates_deliver_every_notification_twice() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = established(
        &em,
        &mut cb,
        Script::default().with_duplicates().with_string_codes(),
    )
    .await
    .id;
    assert_eq!(transfer_status(&em, &id, PEER_BODY).await, 202);
    let got = cb.take(6).await;
    assert_eq!(
        states(&got),
        [
            "transferring",
            "transferring",
            "transferAccepted",
            "transferAccepted",
            "terminated",
            "terminated"
        ]
    );
    assert_eq!(got[5].body, got[4].body);
    assert_eq!(
        got[5].note()["resourceData"]["resultInfo"]["subcode"],
        "7015"
    );
}

#[tokio::test]
async fn delays_keep_order() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = established(&em, &mut cb, Script::default().with_delays_ms([30, 0, 10]))
        .await
        .id;
    assert_eq!(transfer_status(&em, &id, PEER_BODY).await, 202);
    assert_eq!(
        states(&cb.take(3).await),
        ["transferring", "transferAccepted", "terminated"]
    );
}

#[tokio::test]
async fn remote_hang_up_of_an_established_call() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = established(&em, &mut cb, Script::default()).await.id;
    em.hang_up(&id).unwrap();
    let got = cb.next().await;
    assert_eq!(
        (got.state(), got.note()["changeType"].as_str()),
        ("terminated", Some("deleted"))
    );
    assert!(em.hang_up(&id).is_err());
}

#[tokio::test]
async fn callbacks_are_signed_for_the_bot() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let placed = em
        .place_call(
            PlaceCall::new(&cb.url)
                .with_app_id("bot-42")
                .with_tenant_id("tenant-7"),
        )
        .unwrap();
    let got = cb.next().await;
    let jwt = got
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .expect("bearer token");
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(em.signing_key().kid()));
    // Verify with the published JWKS, as a receiver does.
    let jwks: Value = serde_json::from_slice(
        &reqwest::get(em.jwks_url())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let k = &jwks["keys"][0];
    let key = DecodingKey::from_rsa_components(k["n"].as_str().unwrap(), k["e"].as_str().unwrap())
        .unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&["bot-42"]);
    v.set_issuer(&["https://api.botframework.com"]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v).unwrap().claims;
    assert_eq!(claims["tid"], "tenant-7");
    assert!(claims["nbf"].is_u64() && claims["iat"].is_u64() && claims["exp"].is_u64());
    assert_eq!(
        got.note()["resourceUrl"],
        format!("/communications/calls/{}", placed.id)
    );
}

#[tokio::test]
async fn failed_callbacks_are_retried_then_delivered_in_order() {
    let config =
        common::config().with_delivery(DeliveryPolicy::new(3, std::time::Duration::from_millis(1)));
    let em = Emulator::start(config).await.unwrap();
    let mut cb = Callback::start().await;
    cb.fail_next(2);
    let placed = em.place_call(PlaceCall::new(&cb.url)).unwrap();
    assert_eq!(states(&cb.take(2).await), ["establishing", "established"]);
    let recs = em.wait_for_deliveries(&placed.id, 2, WAIT).await;
    assert_eq!(recs[0].attempts, 3);
    assert!(recs[0].delivered && recs[1].delivered);
    assert_eq!(recs[1].attempts, 1);
}

#[tokio::test]
async fn undeliverable_notifications_are_given_up_and_the_next_goes() {
    let config =
        common::config().with_delivery(DeliveryPolicy::new(2, std::time::Duration::from_millis(1)));
    let em = Emulator::start(config).await.unwrap();
    let mut cb = Callback::start().await;
    cb.fail_next(2);
    let placed = em.place_call(PlaceCall::new(&cb.url)).unwrap();
    let got = cb.next().await;
    assert_eq!(got.state(), "established");
    let recs = em.wait_for_deliveries(&placed.id, 2, WAIT).await;
    assert!(!recs[0].delivered);
    assert_eq!((recs[0].attempts, recs[0].status), (2, Some(500)));
    assert!(recs[0].error.as_deref().is_some_and(|e| e.contains("500")));
}

#[tokio::test]
async fn create_call_peer_and_group() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let g = Graph::new(&em, "v1.0").await;
    let target = |id: &str| json!({"@odata.type": "#microsoft.graph.invitationParticipantInfo", "identity": {"@odata.type": "#microsoft.graph.identitySet", "user": {"@odata.type": "#microsoft.graph.identity", "displayName": "John", "id": id}}});
    let cb_url = cb.url.clone();
    let body = |targets: Vec<Value>| {
        json!({"@odata.type": "#microsoft.graph.call", "callbackUri": cb_url, "targets": targets,
               "requestedModalities": ["audio"], "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
               "tenantId": TENANT})
        .to_string()
    };
    let peer = g
        .post("/communications/calls", &body(vec![target("u1")]))
        .await;
    assert_eq!(peer.status, 201, "{}", peer.body);
    let id = peer.body["id"].as_str().unwrap().to_owned();
    assert_eq!(peer.body["state"], "establishing");
    assert_eq!(peer.body["direction"], "outgoing");
    assert_eq!(peer.body["tenantId"], TENANT);
    assert!(peer.body["targets"][0]["replacesCallId"].is_null());
    assert!(peer.body["targets"][0].get("participantId").is_none());
    assert_eq!(
        peer.headers["location"].to_str().unwrap(),
        format!("{}/communications/calls/{id}", g.base)
    );
    let got = cb.take(2).await;
    assert_eq!(states(&got), ["establishing", "established"]);
    assert_eq!(got[1].note()["resourceData"]["id"], id.as_str());
    em.wait_for_deliveries(&id, 2, WAIT).await;
    let read = g
        .send(
            reqwest::Method::GET,
            &format!("/communications/calls/{id}"),
            None,
        )
        .await;
    assert_eq!(read.body["state"], "established");
    // Transfer right away works once established.
    assert_eq!(g.transfer(&id, PEER_BODY).await.status, 202);

    let group = g
        .post(
            "/communications/calls",
            &body(vec![target("u1"), target("u2"), target("u3")]),
        )
        .await;
    assert_eq!(group.status, 201);
    let gid = group.body["id"].as_str().unwrap().to_owned();
    let pids: Vec<&str> = group.body["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["participantId"].as_str().unwrap())
        .collect();
    assert_eq!(pids.len(), 3);
    let parts = g
        .send(
            reqwest::Method::GET,
            &format!("/communications/calls/{gid}/participants"),
            None,
        )
        .await;
    assert_eq!(parts.body["value"].as_array().unwrap().len(), 3);
    assert_eq!(parts.body["value"][2]["id"], pids[2]);
}

#[tokio::test]
async fn incoming_call_is_answered_by_the_bot() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let placed = em
        .place_call(PlaceCall::new(&cb.url).answered_by_bot())
        .unwrap();
    let incoming = cb.next().await;
    assert_eq!(incoming.note()["changeType"], "created");
    assert_eq!(incoming.state(), "incoming");
    assert_eq!(incoming.note()["resourceData"]["direction"], "incoming");
    assert_eq!(
        incoming.note()["resourceData"]["targets"][0]["identity"]["application"]["id"],
        APP_ID
    );
    let g = Graph::new(&em, "beta").await;
    let answer = json!({"callbackUri": cb.url, "acceptedModalities": ["audio"],
                        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}});
    let r = g
        .post(
            &format!("/communications/calls/{}/answer", placed.id),
            &answer.to_string(),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        g.post(
            &format!("/communications/calls/{}/answer", placed.id),
            &answer.to_string()
        )
        .await
        .status,
        400
    );
    assert_eq!(states(&cb.take(2).await), ["establishing", "established"]);
    assert_eq!(g.transfer(&placed.id, PEER_BODY).await.status, 202);
    assert_eq!(
        states(&cb.take(3).await),
        ["transferring", "transferAccepted", "terminated"]
    );
}

#[tokio::test]
async fn delete_posts_terminating_then_terminated() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = established(&em, &mut cb, Script::default()).await.id;
    let g = Graph::new(&em, "v1.0").await;
    assert_eq!(
        g.send(
            reqwest::Method::DELETE,
            &format!("/communications/calls/{id}"),
            None
        )
        .await
        .status,
        204
    );
    let got = cb.take(2).await;
    assert_eq!(states(&got), ["terminating", "terminated"]);
    assert_eq!(got[1].note()["changeType"], "deleted");
    assert_eq!(g.transfer(&id, PEER_BODY).await.status, 404);
}

#[tokio::test]
async fn deprecated_app_path_transfers_too() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let id = established(&em, &mut cb, Script::default()).await.id;
    let g = Graph::new(&em, "beta").await;
    assert_eq!(
        g.post(&format!("/app/calls/{id}/transfer"), PEER_BODY)
            .await
            .status,
        202
    );
    assert_eq!(
        states(&cb.take(3).await),
        ["transferring", "transferAccepted", "terminated"]
    );
}

#[tokio::test]
async fn control_api_scripts_and_places_calls_over_http() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let http = reqwest::Client::new();
    let root = em.root_url().to_owned();
    let placed: Value = serde_json::from_slice(
        &http
            .post(format!("{root}/_emulator/calls"))
            .body(json!({"callbackUri": cb.url, "participants": [{"participantId": "p-1"}, {"displayName": "B"}]}).to_string())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let id = placed["id"].as_str().unwrap().to_owned();
    assert_eq!(placed["group"], true);
    assert_eq!(placed["participants"][0]["participantId"], "p-1");
    cb.take(2).await;
    let r = http
        .put(format!("{root}/_emulator/calls/{id}/script"))
        .body(r#"{"flow":"consultativeFailed","delayMs":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let bad = http
        .put(format!("{root}/_emulator/calls/{id}/script"))
        .body(r#"{"flow":"sideways"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let mut body: Value = serde_json::from_str(CONSULTATIVE_BODY).unwrap();
    body["transferee"] = json!({"participantId": "p-1"});
    assert_eq!(
        Graph::new(&em, "v1.0")
            .await
            .transfer(&id, &body.to_string())
            .await
            .status,
        202
    );
    assert_eq!(states(&cb.take(2).await), ["transferring", "established"]);
    em.wait_for_deliveries(&id, 4, WAIT).await;
    let log: Value = serde_json::from_slice(
        &http
            .get(format!("{root}/_emulator/calls/{id}/deliveries"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let seen: Vec<&str> = log["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        seen,
        ["establishing", "established", "transferring", "established"]
    );
    let hang = http
        .post(format!("{root}/_emulator/calls/{id}/hangup"))
        .send()
        .await
        .unwrap();
    assert_eq!(hang.status(), 202);
    assert_eq!(cb.next().await.state(), "terminated");
    let missing = http
        .post(format!("{root}/_emulator/calls/nope/hangup"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn shutdown_is_graceful() {
    let em = emulator().await;
    let url = em.jwks_url();
    em.shutdown().await;
    assert!(reqwest::get(url).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_can_be_placed_from_a_plain_thread() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let url = cb.url.clone();
    let id = std::thread::scope(|s| {
        s.spawn(|| em.place_call(PlaceCall::new(url)).expect("placed").id)
            .join()
            .expect("thread")
    });
    assert_eq!(states(&cb.take(2).await), ["establishing", "established"]);
    assert_eq!(em.call_state(&id).as_deref(), Some("established"));
}

#[tokio::test]
async fn consultative_success_also_ends_the_consultation_call() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let mut consult_cb = Callback::start().await;
    let id = established(&em, &mut cb, Script::default()).await.id;
    let consultation = established(&em, &mut consult_cb, Script::default())
        .await
        .id;
    let mut body: Value = serde_json::from_str(CONSULTATIVE_BODY).unwrap();
    body["transferTarget"]["replacesCallId"] = json!(consultation);
    let g = Graph::new(&em, "v1.0").await;
    assert_eq!(g.transfer(&id, &body.to_string()).await.status, 202);
    let got = cb.take(3).await;
    assert_eq!(
        got[2].note()["resourceData"]["terminationReason"],
        "AppTransferred"
    );
    let ended = consult_cb.next().await;
    assert_eq!(
        ended.note()["resourceUrl"],
        format!("/communications/calls/{consultation}")
    );
    assert_eq!(
        (ended.state(), ended.note()["changeType"].as_str()),
        ("terminated", Some("deleted"))
    );
    assert_eq!(
        ended.note()["resourceData"]["terminationReason"],
        "AppTransferred"
    );
    em.wait_for_deliveries(&consultation, 3, WAIT).await;
    assert!(em.call(&consultation).is_none());
}

#[tokio::test]
async fn failed_consultative_transfer_keeps_the_consultation_call() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let mut consult_cb = Callback::start().await;
    let id = established(&em, &mut cb, Script::new(TransferFlow::ConsultativeFailed))
        .await
        .id;
    let consultation = established(&em, &mut consult_cb, Script::default())
        .await
        .id;
    let mut body: Value = serde_json::from_str(CONSULTATIVE_BODY).unwrap();
    body["transferTarget"]["replacesCallId"] = json!(consultation);
    let g = Graph::new(&em, "v1.0").await;
    assert_eq!(g.transfer(&id, &body.to_string()).await.status, 202);
    assert_eq!(states(&cb.take(2).await), ["transferring", "established"]);
    em.wait_for_deliveries(&id, 4, WAIT).await;
    consult_cb.assert_empty();
    assert_eq!(em.call_state(&consultation).as_deref(), Some("established"));
}
