//! Incoming calls and the lifecycle of the other actions, from the notifications of Microsoft's
//! documentation (`shared/graph-payloads/`): an incoming call decodes to a typed offer, and the
//! calls placed, answered, rejected, redirected or hung up end up established, declined or ended
//! the way a transfer ends up completed or failed.

use std::path::PathBuf;

use graph_comms_notify::{
    decode, incoming_calls, is_incoming, CallEnd, CallLifecycle, CallPhase, OperationPhase,
};
use graph_comms_testkit::corpus_files;

fn doc(dir: &str, file: &str) -> Option<Vec<u8>> {
    let shared = graph_comms_testkit::shared_dir()?;
    let path: PathBuf = shared.join("graph-payloads").join(dir).join(file);
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Feeds the documented notifications of one page to a fresh lifecycle.
fn feed(lifecycle: &CallLifecycle, dir: &str, files: &[&str]) -> bool {
    for f in files {
        let Some(body) = doc(dir, f) else {
            return false;
        };
        for e in decode(&body).unwrap() {
            lifecycle.apply(&e);
        }
    }
    true
}

#[test]
fn every_documented_incoming_call_decodes_to_an_offer() {
    let Some(shared) = graph_comms_testkit::shared_dir() else {
        return;
    };
    let mut offers = Vec::new();
    for r in corpus_files(&shared)
        .iter()
        .filter(|r| r.is_valid_notification())
    {
        let body = std::fs::read(&r.path).unwrap();
        let calls = incoming_calls(&body).unwrap();
        let flagged = decode(&body)
            .unwrap()
            .iter()
            .filter(|e| is_incoming(e))
            .count();
        assert_eq!(calls.len(), flagged, "{}", r.path.display());
        for c in calls {
            assert!(!c.call_id.is_empty());
            assert!(c.caller.is_some(), "{}: no caller", r.path.display());
            offers.push((r.dir.clone(), c.call_id.clone()));
        }
    }
    assert!(offers.len() >= 8, "{offers:?}");
    let Some(body) = doc(
        "v1.0-call-answer--zhcn-6534af0",
        "04-ex1-notification-incoming.json",
    ) else {
        return;
    };
    let call = &incoming_calls(&body).unwrap()[0];
    assert_eq!(call.call_id, "57DAB8B1894C409AB240BD8BEAE78896");
    assert_eq!(call.caller_display_name(), Some("Test User"));
    let bot = call.callee.as_ref().and_then(|c| c.application.as_ref());
    assert_eq!(
        bot.and_then(|a| a.display_name.as_deref()),
        Some("Test BOT")
    );
    assert_eq!(call.transferor(), None);
}

#[test]
fn a_transferred_call_names_its_transferor() {
    let body = br#"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/c-1",
      "resourceData":{"state":"incoming","source":{"identity":{"phone":{"id":"+12345678901"}}},
      "incomingContext":{"sourceParticipantId":"p-1","transferor":{"user":{"id":"u-1","displayName":"Heidi"}},
        "onBehalfOf":{"user":{"id":"u-2"}},"futureField":true}}}]}"#;
    let calls = incoming_calls(body).unwrap();
    let call = &calls[0];
    assert_eq!(call.caller_phone(), Some("+12345678901"));
    let transferor = call.transferor().and_then(|t| t.user.as_ref()).unwrap();
    assert_eq!(transferor.display_name.as_deref(), Some("Heidi"));
    let context = call.incoming_context.as_ref().unwrap();
    assert_eq!(context.source_participant_id.as_deref(), Some("p-1"));
    assert_eq!(context.additional_data["futureField"], true);
    // An incoming state under another change type, or on a sub-resource, is not an offer.
    let not = br#"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/c-1",
      "resourceData":{"state":"incoming"}},{"resourceUrl":"/communications/calls/c-1/participants",
      "resourceData":{"state":"incoming"}}]}"#;
    assert!(incoming_calls(not).unwrap().is_empty());
    assert!(incoming_calls(b"[]").is_err());
}

#[tokio::test]
async fn answer_then_established() {
    let lifecycle = CallLifecycle::default();
    let dir = "v1.0-call-answer--zhcn-6534af0";
    // Graph's notifications may beat its 202: feed first, follow after.
    if !feed(
        &lifecycle,
        dir,
        &[
            "04-ex1-notification-incoming.json",
            "07-ex1-notification-establishing.json",
            "08-ex1-notification-established.json",
        ],
    ) {
        return;
    }
    let mut call = lifecycle.follow("57dab8b1-894c-409a-b240-bd8beae78896");
    assert_eq!(call.phase(), CallPhase::Established);
    call.established().await.unwrap();
}

#[tokio::test]
async fn reject_ends_with_the_bare_deleted() {
    let lifecycle = CallLifecycle::default();
    let mut call = lifecycle.follow("57dab8b1-894c-409a-b240-bd8beae78896");
    if !feed(
        &lifecycle,
        "v1.0-call-reject--zhcn-6534af0",
        &[
            "04-ex2-notification-incoming.json",
            "07-ex2-notification-deleted.json",
        ],
    ) {
        return;
    }
    assert_eq!(call.established().await, Err(CallEnd::Removed));
    assert_eq!(call.ended().await, CallEnd::Removed);
}

#[tokio::test]
async fn redirect_ends_terminated_without_connecting() {
    let lifecycle = CallLifecycle::default();
    if !feed(
        &lifecycle,
        "v1.0-call-redirect--zhcn-6534af0",
        &[
            "06-ex2-notification-incoming.json",
            "09-ex2-notification-terminated.json",
        ],
    ) {
        return;
    }
    let end = lifecycle
        .follow("491f0b00-ffff-4bc9-a43e-b226498ec22a")
        .ended()
        .await;
    assert!(
        matches!(
            end,
            CallEnd::Terminated {
                was_established: false,
                code: None,
                ..
            }
        ),
        "{end:?}"
    );
}

#[tokio::test]
async fn hang_up_after_a_placed_call_connected() {
    let lifecycle = CallLifecycle::default();
    let placed = "2e1a0b00-b3c5-4b0f-99b3-c133bc1e6116";
    let mut call = lifecycle.follow(placed);
    if !feed(
        &lifecycle,
        "v1.0-application-post-calls--zhcn-6534af0",
        &[
            "04-ex1-notification-establishing.json",
            "05-ex1-notification-established.json",
        ],
    ) {
        return;
    }
    call.established().await.unwrap();
    // The delete page's notifications, for that call.
    let hung_up = "57dab8b1-894c-409a-b240-bd8beae78896";
    let mut other = lifecycle.follow(hung_up);
    let established = format!(
        r#"{{"value":[{{"changeType":"updated","resourceUrl":"/communications/calls/{hung_up}","resourceData":{{"state":"established"}}}}]}}"#
    );
    for e in decode(established.as_bytes()).unwrap() {
        lifecycle.apply(&e);
    }
    feed(
        &lifecycle,
        "v1.0-call-delete--zhcn-6534af0",
        &[
            "04-example-notification-terminating.json",
            "05-example-notification-terminated.json",
        ],
    );
    assert_eq!(
        other.ended().await,
        CallEnd::Terminated {
            code: Some(0),
            subcode: None,
            message: None,
            termination_reason: None,
            was_established: true
        }
    );
}

#[tokio::test]
async fn a_placed_call_that_is_declined() {
    let lifecycle = CallLifecycle::default();
    let mut call = lifecycle.follow("c-9");
    for body in [
        r#"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/c-9","resourceData":{"state":"establishing"}}]}"#,
        r#"{"value":[{"changeType":"deleted","resourceUrl":"/communications/calls/c-9","resourceData":{"state":"terminated","resultInfo":{"code":603,"subcode":10065,"message":"Call declined"}}}]}"#,
        // Reordered and repeated: the call stays ended as it ended.
        r#"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/c-9","resourceData":{"state":"established"}}]}"#,
    ] {
        for e in decode(body.as_bytes()).unwrap() {
            lifecycle.apply(&e);
        }
    }
    let declined = CallEnd::Declined {
        code: 603,
        subcode: Some(10065),
        message: Some("Call declined".into()),
    };
    assert_eq!(call.established().await, Err(declined.clone()));
    assert_eq!(
        declined.to_string(),
        "the call was declined before it connected: 603/10065 \"Call declined\""
    );
    assert_eq!(lifecycle.phase("C-9"), CallPhase::Ended(declined));
}

#[tokio::test]
async fn a_prompts_completion_is_awaited_from_its_operation_notification() {
    let lifecycle = CallLifecycle::default();
    // The id as Graph's 200 gives it; the notification writes it without dashes, in capitals.
    let mut op = lifecycle.follow_operation("0fe0623f-d628-42ed-b4bd-8ac290072cc5");
    assert_eq!(op.phase(), OperationPhase::Running);
    if !feed(
        &lifecycle,
        "v1.0-call-playprompt--zhcn-6534af0",
        &["04-example-notification-operation-completed.json"],
    ) {
        return;
    }
    assert_eq!(op.finished().await, OperationPhase::Completed);
    // The operation's notification does not touch the call's phase.
    assert_eq!(
        lifecycle.phase("57DAB8B1894C409AB240BD8BEAE78896"),
        CallPhase::Unknown
    );
    let failed = br##"{"value":[{"changeType":"deleted","resourceUrl":"/communications/calls/c/operations/op-2",
      "resourceData":{"@odata.type":"#microsoft.graph.playPromptOperation","status":"failed",
        "resultInfo":{"code":400,"subcode":8508,"message":"media download failed"}}}]}"##;
    for e in decode(failed).unwrap() {
        lifecycle.apply(&e);
    }
    assert!(matches!(
        lifecycle.follow_operation("OP-2").finished().await,
        OperationPhase::Failed {
            code: 400,
            subcode: Some(8508),
            ..
        }
    ));
}

#[tokio::test]
async fn memory_is_bounded_and_forgotten_followers_are_told() {
    let lifecycle = CallLifecycle::with_capacity(2);
    let mut first = lifecycle.follow("a");
    let _b = lifecycle.follow("b");
    let _c = lifecycle.follow("c");
    assert_eq!(lifecycle.counts(), (2, 0));
    assert_eq!(first.ended().await, CallEnd::Forgotten);
}
