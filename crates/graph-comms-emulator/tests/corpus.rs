//! Interop with what Microsoft's documentation (and so its SDKs) send: every request body of the
//! shared payload corpus for create call, answer and transfer is accepted as Graph would accept
//! it, and bodies that are not valid JSON are refused with a clear `400`. What the emulator sends
//! back decodes with our model.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use graph_comms_emulator::{EmulatedParticipant, PlaceCall, Script};
use serde_json::Value;

/// The corpus's request bodies from folders whose name contains `dir_part`; `None` only when the
/// shared corpus is absent outside CI (`shared_dir` fails under `CI=true`). A filter that matches
/// no file is a failure, not a skip: the test would otherwise pass without checking anything.
fn corpus(dir_part: &str) -> Option<Vec<PathBuf>> {
    let shared = graph_comms_testkit::shared_dir()?;
    let files: Vec<PathBuf> =
        graph_comms_testkit::files_with_suffix(&shared.join("graph-payloads"), "request.json")
            .into_iter()
            .filter(|p| {
                p.parent()
                    .and_then(Path::file_name)
                    .is_some_and(|d| d.to_string_lossy().contains(dir_part))
            })
            .collect();
    assert!(
        !files.is_empty(),
        "no request body in a corpus folder matching {dir_part:?}"
    );
    Some(files)
}

fn version_of(path: &Path) -> &'static str {
    let dir = path
        .parent()
        .and_then(Path::file_name)
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    if dir.starts_with("beta") {
        "beta"
    } else {
        "v1.0"
    }
}

fn read(path: &Path) -> (String, Option<Value>) {
    let text = std::fs::read_to_string(path).expect("corpus file");
    let parsed = serde_json::from_str(&text).ok();
    (text, parsed)
}

#[tokio::test]
async fn every_documented_transfer_body_is_accepted_or_refused_as_invalid_json() {
    let Some(files) = corpus("call-transfer") else {
        return;
    };
    let em = emulator().await;
    let cb = Callback::start().await;
    let (mut accepted, mut refused) = (0, 0);
    let mut calls = Vec::new();
    for path in &files {
        let (text, parsed) = read(path);
        let g = Graph::new(&em, version_of(path)).await;
        let Some(json) = parsed else {
            // Example 5 as printed (a trailing comma): Graph cannot read it either.
            let placed = em
                .place_call(PlaceCall::new(&cb.url).with_group(2))
                .unwrap();
            let r = g.transfer(&placed.id, &text).await;
            assert_eq!(r.status, 400, "{}: {}", path.display(), r.body);
            assert!(r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Unable to read JSON"));
            refused += 1;
            continue;
        };
        let call = placed_peer(&em, &cb).await;
        let r = g.transfer(&call, &text).await;
        assert_eq!(r.status, 202, "{}: {}", path.display(), r.body);
        accepted += 1;
        calls.push((call, path));
        let _ = json;
    }
    assert!(
        accepted >= 20 && refused >= 1,
        "accepted {accepted}, refused {refused}"
    );
    // Every accepted transfer ran its flow to the end (`establishing`, `established`, then the
    // default script's `transferring`, `transferAccepted`, `terminated`), every notification
    // delivered and readable by our model.
    for (call, path) in &calls {
        let records = em.wait_for_deliveries(call, 5, WAIT).await;
        let states: Vec<_> = records.iter().filter_map(|r| r.state.as_deref()).collect();
        assert_eq!(
            states,
            [
                "establishing",
                "established",
                "transferring",
                "transferAccepted",
                "terminated"
            ],
            "{}",
            path.display()
        );
        for r in &records {
            assert!(r.delivered, "{}: {:?}", path.display(), r.error);
            let _: graph_comms_model::CommsNotifications =
                serde_json::from_value(r.body.clone()).expect("the model reads the notification");
        }
    }
}

async fn placed_peer(em: &graph_comms_emulator::Emulator, cb: &Callback) -> String {
    em.place_call(PlaceCall::new(&cb.url).with_script(Script::default()))
        .unwrap()
        .id
}

#[tokio::test]
async fn example_5_repaired_transfers_from_a_group_call() {
    let Some(files) = corpus("call-transfer--zhcn") else {
        return;
    };
    let ex5 = files
        .iter()
        .find(|p| p.to_string_lossy().contains("ex5"))
        .expect("example 5 of the zh-CN transfer page");
    let text = std::fs::read_to_string(ex5).unwrap();
    // The one defect of the printed body: `}\n  },\n  "transferee"` has a trailing comma inside
    // transferTarget. Remove it, and the body is what a bot sends.
    let repaired = text.replacen("}\n    },\n  },", "}\n    }\n  },", 1);
    let json: Value = serde_json::from_str(&repaired).expect("repaired example 5 parses");
    let pid = json["transferee"]["participantId"]
        .as_str()
        .unwrap()
        .to_owned();
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let placed = em
        .place_call(
            PlaceCall::new(&cb.url)
                .with_participant(
                    EmulatedParticipant::named("Transferee").with_participant_id(&pid),
                )
                .with_participant(EmulatedParticipant::named("Other")),
        )
        .unwrap();
    cb.take(2).await;
    let g = Graph::new(&em, "beta").await;
    let r = g.transfer(&placed.id, &repaired).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let states: Vec<String> = cb
        .take(3)
        .await
        .iter()
        .map(|r| r.state().to_owned())
        .collect();
    assert_eq!(states, ["transferring", "transferAccepted", "terminated"]);
}

#[tokio::test]
async fn every_documented_create_call_body_is_accepted() {
    let Some(files) = corpus("application-post-calls") else {
        return;
    };
    let em = emulator().await;
    let cb = Callback::start().await;
    let mut created = 0;
    for path in &files {
        let (text, parsed) = read(path);
        let g = Graph::new(&em, version_of(path)).await;
        let Some(mut json) = parsed else {
            let r = g.post("/communications/calls", &text).await;
            assert_eq!(r.status, 400, "{}", path.display());
            continue;
        };
        // Notifications go to this test's loopback callback, never to bot.contoso.com.
        json["callbackUri"] = Value::String(cb.url.clone());
        let r = g.post("/communications/calls", &json.to_string()).await;
        assert_eq!(r.status, 201, "{}: {}", path.display(), r.body);
        // What the emulator answers decodes with our model, as Graph's answer does.
        let call: graph_comms_model::Call =
            serde_json::from_value(r.body.clone()).expect("model decodes the call");
        assert_eq!(call.id.as_deref(), r.body["id"].as_str());
        created += 1;
    }
    assert!(created >= 10, "created {created}");
}

#[tokio::test]
async fn every_documented_answer_body_is_accepted() {
    let Some(files) = corpus("call-answer") else {
        return;
    };
    let em = emulator().await;
    let mut cb = Callback::start().await;
    for path in &files {
        let (_, parsed) = read(path);
        let mut json = parsed.expect("answer bodies are valid JSON");
        let placed = em
            .place_call(PlaceCall::new(&cb.url).answered_by_bot())
            .unwrap();
        assert_eq!(cb.next().await.state(), "incoming");
        json["callbackUri"] = Value::String(cb.url.clone());
        let g = Graph::new(&em, version_of(path)).await;
        let r = g
            .post(
                &format!("/communications/calls/{}/answer", placed.id),
                &json.to_string(),
            )
            .await;
        assert_eq!(r.status, 202, "{}: {}", path.display(), r.body);
        let states: Vec<String> = cb
            .take(2)
            .await
            .iter()
            .map(|r| r.state().to_owned())
            .collect();
        assert_eq!(states, ["establishing", "established"]);
    }
}

#[tokio::test]
async fn every_notification_the_emulator_sends_decodes_with_the_model() {
    let em = emulator().await;
    let mut cb = Callback::start().await;
    let g = Graph::new(&em, "v1.0").await;
    let mut bodies = Vec::new();
    for flow in graph_comms_emulator::TransferFlow::ALL {
        for script in [Script::new(flow), Script::new(flow).with_string_codes()] {
            let placed = em
                .place_call(
                    PlaceCall::new(&cb.url)
                        .answered_by_bot()
                        .with_script(script),
                )
                .unwrap();
            bodies.push(cb.next().await.body);
            let answer = r##"{"callbackUri":null,"acceptedModalities":["audio"],"mediaConfig":{"@odata.type":"#microsoft.graph.serviceHostedMediaConfig"}}"##;
            assert_eq!(
                g.post(
                    &format!("/communications/calls/{}/answer", placed.id),
                    answer
                )
                .await
                .status,
                202
            );
            assert_eq!(g.transfer(&placed.id, CONSULTATIVE_BODY).await.status, 202);
            let n = 2 + match flow {
                graph_comms_emulator::TransferFlow::Failed
                | graph_comms_emulator::TransferFlow::ConsultativeFailed
                | graph_comms_emulator::TransferFlow::CallerHangUp
                | graph_comms_emulator::TransferFlow::NoOutcome => 2,
                _ => 3,
            };
            bodies.extend(cb.take(n).await.into_iter().map(|r| r.body));
        }
    }
    for body in bodies {
        let batch: graph_comms_model::CommsNotifications =
            serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{e}: {body}"));
        let n = &batch.value.as_ref().expect("value")[0];
        assert!(n
            .resource_url
            .as_deref()
            .is_some_and(|u| u.starts_with("/communications/calls/")));
        assert!(
            matches!(
                n.resource_data,
                Some(graph_comms_model::ResourceData::Call(_))
            ),
            "{body}"
        );
        // And through our notify decoder, as the receiver does.
        let events =
            graph_comms_notify::decode(body.to_string().as_bytes()).expect("notify decodes");
        assert_eq!(events.len(), 1);
    }
}

/// Bodies serialized by Microsoft's Python SDK (msgraph-sdk), made by
/// `tests/fixtures/msgraph-sdk/generate.py bodies`: no `@odata.type` on participants or
/// identity sets, `phone` and v1.0-undeclared fields as additional data.
mod msgraph_sdk {
    use super::*;

    const TRANSFERS: [(&str, &str); 5] = [
        (
            "ex1-peer",
            include_str!("fixtures/msgraph-sdk/transfer-ex1-peer.json"),
        ),
        (
            "ex2-consultative",
            include_str!("fixtures/msgraph-sdk/transfer-ex2-consultative.json"),
        ),
        (
            "ex3-phone",
            include_str!("fixtures/msgraph-sdk/transfer-ex3-phone.json"),
        ),
        (
            "ex4-consultative-phone",
            include_str!("fixtures/msgraph-sdk/transfer-ex4-consultative-phone.json"),
        ),
        (
            "ex5-group",
            include_str!("fixtures/msgraph-sdk/transfer-ex5-group.json"),
        ),
    ];

    #[tokio::test]
    async fn sdk_transfer_bodies_are_accepted_and_play_their_flow() {
        let em = emulator().await;
        let mut cb = Callback::start().await;
        let g = Graph::new(&em, "v1.0").await;
        for (name, body) in TRANSFERS {
            let json: Value = serde_json::from_str(body).unwrap();
            let mut place = PlaceCall::new(&cb.url);
            if let Some(pid) = json["transferee"]["participantId"].as_str() {
                place = place
                    .with_participant(
                        EmulatedParticipant::named("Transferee").with_participant_id(pid),
                    )
                    .with_participant(EmulatedParticipant::named("Other"));
            }
            let placed = em.place_call(place).unwrap();
            cb.take(2).await;
            let r = g.transfer(&placed.id, body).await;
            assert_eq!(r.status, 202, "{name}: {}", r.body);
            let got = cb.take(3).await;
            let last = &got[2].note()["resourceData"];
            if name.contains("consultative") {
                assert_eq!(last["terminationReason"], "AppTransferred", "{name}");
            } else {
                assert_eq!(last["resultInfo"]["subcode"], 7015, "{name}");
            }
        }
    }

    #[tokio::test]
    async fn sdk_create_call_and_answer_bodies_are_accepted() {
        let em = emulator().await;
        let mut cb = Callback::start().await;
        let g = Graph::new(&em, "v1.0").await;
        let mut create: Value =
            serde_json::from_str(include_str!("fixtures/msgraph-sdk/create-call.json")).unwrap();
        create["callbackUri"] = Value::String(cb.url.clone());
        let r = g.post("/communications/calls", &create.to_string()).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(cb.take(2).await[1].state(), "established");

        let placed = em
            .place_call(PlaceCall::new(&cb.url).answered_by_bot())
            .unwrap();
        assert_eq!(cb.next().await.state(), "incoming");
        let mut answer: Value =
            serde_json::from_str(include_str!("fixtures/msgraph-sdk/answer.json")).unwrap();
        answer["callbackUri"] = Value::String(cb.url.clone());
        let r = g
            .post(
                &format!("/communications/calls/{}/answer", placed.id),
                &answer.to_string(),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(cb.take(2).await[1].state(), "established");
    }

    fn fixture(text: &str, callback: &str) -> String {
        let mut v: Value = serde_json::from_str(text).unwrap();
        if v.get("callbackUri").is_some() {
            v["callbackUri"] = Value::String(callback.to_owned());
        }
        v.to_string()
    }

    #[tokio::test]
    async fn sdk_reject_and_redirect_bodies_are_accepted() {
        let em = emulator().await;
        let mut cb = Callback::start().await;
        let g = Graph::new(&em, "v1.0").await;
        for (name, action, text) in [
            (
                "reject",
                "reject",
                include_str!("fixtures/msgraph-sdk/reject.json"),
            ),
            (
                "redirect",
                "redirect",
                include_str!("fixtures/msgraph-sdk/redirect.json"),
            ),
            (
                "redirect-phone",
                "redirect",
                include_str!("fixtures/msgraph-sdk/redirect-phone.json"),
            ),
        ] {
            let placed = em
                .place_call(PlaceCall::new(&cb.url).answered_by_bot())
                .unwrap();
            assert_eq!(cb.next().await.state(), "incoming");
            let r = g
                .post(
                    &format!("/communications/calls/{}/{action}", placed.id),
                    &fixture(text, &cb.url),
                )
                .await;
            assert_eq!(r.status, 202, "{name}: {}", r.body);
            let ended = cb.next().await;
            assert_eq!(ended.note()["changeType"], "deleted", "{name}");
            em.wait_for_deliveries(&placed.id, 2, WAIT).await;
            assert!(em.call(&placed.id).is_none(), "{name}");
        }
    }

    #[tokio::test]
    async fn sdk_prompt_hold_music_and_delete_are_accepted() {
        let em = emulator().await;
        let mut cb = Callback::start().await;
        let g = Graph::new(&em, "v1.0").await;
        let placed = em.place_call(PlaceCall::new(&cb.url)).unwrap();
        cb.take(2).await;
        let id = &placed.id;
        let pid = placed.participants[0].participant_id.as_deref().unwrap();
        for (name, path, text, status) in [
            (
                "play-prompt",
                format!("/communications/calls/{id}/playPrompt"),
                include_str!("fixtures/msgraph-sdk/play-prompt.json"),
                200,
            ),
            (
                "start-hold-music",
                format!("/communications/calls/{id}/participants/{pid}/startHoldMusic"),
                include_str!("fixtures/msgraph-sdk/start-hold-music.json"),
                202,
            ),
            (
                "stop-hold-music",
                format!("/communications/calls/{id}/participants/{pid}/stopHoldMusic"),
                include_str!("fixtures/msgraph-sdk/stop-hold-music.json"),
                202,
            ),
        ] {
            let r = g.post(&path, &fixture(text, &cb.url)).await;
            assert_eq!(r.status, status, "{name}: {}", r.body);
            assert_eq!(
                r.body["clientContext"], "d45324c1-fcb5-430a-902c-f20af696537c",
                "{name}"
            );
            let done = cb.next().await;
            assert_eq!(done.note()["resourceData"]["status"], "completed", "{name}");
        }
        // The SDK's delete sends no body.
        let r = g
            .send(
                reqwest::Method::DELETE,
                &format!("/communications/calls/{id}"),
                None,
            )
            .await;
        assert_eq!(r.status, 204);
        assert_eq!(cb.take(2).await[1].state(), "terminated");
    }
}
