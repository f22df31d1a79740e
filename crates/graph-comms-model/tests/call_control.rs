//! The call-control payloads of Microsoft's documentation (`shared/graph-payloads/`): every valid
//! `answer`, `reject`, `redirect`, `playPrompt` and `POST /communications/calls` request, and every
//! operation Graph answers with (`playPrompt`, participant actions), parses into its generated
//! type, writes back what it read, and parses back to the same value. The current v1.0 examples
//! are snapshotted.

use graph_comms_model::{
    AnswerRequestBody, Call, CommsOperation, MediaConfigKind, PlayPromptOperation,
    PlayPromptRequestBody, RedirectRequestBody, RejectReason, RejectRequestBody,
    StartHoldMusicRequestBody, StopHoldMusicRequestBody,
};
use graph_comms_testkit::{corpus_files, CorpusFile};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

/// Removes `null` members (an explicit `null` reads as absent).
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Parses `r` as `T`, checks the round trip, and snapshots the current v1.0 examples.
fn check<T>(r: &CorpusFile) -> T
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let text = std::fs::read_to_string(&r.path).unwrap();
    let parsed: T = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: does not parse: {e}", r.path.display()));
    let written = serde_json::to_value(&parsed).unwrap();
    let original: Value = serde_json::from_str(&text).unwrap();
    // Nulls nested in members the model does not declare are kept verbatim; compare without them.
    assert_eq!(
        without_nulls(written.clone()),
        without_nulls(original),
        "{}: writing back changed the body",
        r.path.display()
    );
    let again: T = serde_json::from_value(written).unwrap();
    assert_eq!(again, parsed, "{}: round trip", r.path.display());
    if r.dir.starts_with("v1.0-") && r.dir.ends_with("--zhcn-6534af0") {
        let file = r.path.file_stem().unwrap().to_string_lossy();
        let doc = r.dir.trim_end_matches("--zhcn-6534af0");
        insta::assert_debug_snapshot!(format!("{doc}@{file}"), parsed);
    }
    parsed
}

fn valid(kind: &str, dir_part: &str) -> Vec<CorpusFile> {
    let Some(shared) = graph_comms_testkit::shared_dir() else {
        return Vec::new();
    };
    corpus_files(&shared)
        .into_iter()
        .filter(|r| r.kind == kind && r.dir.contains(dir_part) && r.json_valid == Some(true))
        .collect()
}

fn skip() -> bool {
    graph_comms_testkit::shared_dir().is_none()
}

#[test]
fn answer_requests() {
    if skip() {
        return;
    }
    let files = valid("request", "-call-answer-");
    assert!(files.len() >= 6, "{} answer requests", files.len());
    for r in &files {
        let body: AnswerRequestBody = check(r);
        assert!(!body.callback_uri.is_empty(), "{}", r.path.display());
        // Every example names the derived media type it wants.
        assert_ne!(
            body.media_config.odata_type,
            None,
            "{}: mediaConfig without @odata.type",
            r.path.display()
        );
        assert!(!matches!(
            body.media_config.kind(),
            MediaConfigKind::Other(_)
        ));
    }
}

#[test]
fn reject_requests() {
    if skip() {
        return;
    }
    let files = valid("request", "-call-reject-");
    assert!(files.len() >= 4, "{} reject requests", files.len());
    let mut reasons = Vec::new();
    for r in &files {
        let body: RejectRequestBody = check(r);
        reasons.extend(body.reason);
    }
    assert!(reasons.contains(&RejectReason::Busy), "{reasons:?}");
    assert!(reasons.contains(&RejectReason::None), "{reasons:?}");
}

#[test]
fn redirect_requests() {
    if skip() {
        return;
    }
    let files = valid("request", "-call-redirect-");
    assert!(files.len() >= 6, "{} redirect requests", files.len());
    for r in &files {
        let body: RedirectRequestBody = check(r);
        assert!(!body.targets.is_empty(), "{}", r.path.display());
    }
}

#[test]
fn play_prompt_requests_and_operations() {
    if skip() {
        return;
    }
    let requests = valid("request", "-call-playprompt-");
    assert!(
        requests.len() >= 2,
        "{} playPrompt requests",
        requests.len()
    );
    for r in &requests {
        let body: PlayPromptRequestBody = check(r);
        assert!(!body.prompts.is_empty(), "{}", r.path.display());
        for p in &body.prompts {
            assert!(p.media_info.as_ref().and_then(|m| m.uri.as_ref()).is_some());
        }
    }
    let responses = valid("response", "-call-playprompt-");
    assert!(!responses.is_empty());
    for r in &responses {
        let op: PlayPromptOperation = check(r);
        assert!(
            op.id.is_some() && op.status.is_some(),
            "{}",
            r.path.display()
        );
    }
}

#[test]
fn create_call_requests_and_responses() {
    if skip() {
        return;
    }
    let requests = valid("request", "-application-post-calls-");
    assert!(
        requests.len() >= 8,
        "{} create-call requests",
        requests.len()
    );
    for r in &requests {
        let call: Call = check(r);
        assert!(call.callback_uri.is_some(), "{}", r.path.display());
        assert!(call.media_config.is_some(), "{}", r.path.display());
    }
    for r in &valid("response", "-application-post-calls-") {
        let _: Call = check(r);
    }
}

#[test]
fn participant_operations() {
    if skip() {
        return;
    }
    let responses = valid("response", "-participant-");
    assert!(
        responses.len() >= 4,
        "{} participant responses",
        responses.len()
    );
    for r in &responses {
        let op: CommsOperation = check(r);
        assert!(op.status.is_some(), "{}", r.path.display());
    }
}

#[test]
fn hold_music_bodies_write_what_graph_documents() {
    // The `participant: startHoldMusic` page's example (not in the corpus).
    let text = r##"{"customPrompt":{"@odata.type":"#microsoft.graph.mediaPrompt","mediaInfo":{"@odata.type":"#microsoft.graph.mediaInfo","uri":"https://bot.contoso.com/onHold.wav"}},"clientContext":"d45324c1-fcb5-430a-902c-f20af696537c"}"##;
    let start: StartHoldMusicRequestBody = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_string(&start).unwrap(), text);
    insta::assert_json_snapshot!("startHoldMusic", start);
    let stop: StopHoldMusicRequestBody =
        serde_json::from_str(r#"{"clientContext":"d45324c1"}"#).unwrap();
    insta::assert_json_snapshot!("stopHoldMusic", stop);
}

#[test]
fn required_parameters_are_required_and_name_the_field() {
    let err = serde_json::from_str::<AnswerRequestBody>(r#"{"callbackUri":"https://b"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("mediaConfig"), "{err}");
    let err = serde_json::from_str::<RedirectRequestBody>("{}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("targets"), "{err}");
    let err = serde_json::from_str::<RejectRequestBody>(r#"{"reason":7}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("reason"), "{err}");
    // An unknown reason is kept, not refused.
    let body: RejectRequestBody = serde_json::from_str(r#"{"reason":"spam"}"#).unwrap();
    assert_eq!(body.reason, Some(RejectReason::Unknown("spam".into())));
}
