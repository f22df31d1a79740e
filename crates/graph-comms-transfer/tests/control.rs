//! Call control beside the transfer: the builders write the bodies Graph documents (snapshotted),
//! every documented body passes its rules (the placeholders of the docs are reported with their
//! path), and each rule names its JSON path.

use graph_comms_model::{
    AnswerRequestBody, Call, MediaConfig, Modality, PlayPromptRequestBody, RedirectRequestBody,
    RejectReason, RejectRequestBody,
};
use graph_comms_testkit::corpus_files;
use graph_comms_transfer::control::{
    validate_answer, validate_call, validate_play_prompt, validate_redirect, validate_reject,
    validate_start_hold_music, Answer, HoldMusic, OutgoingCall, PlayPrompt, Redirect, Reject,
    Target,
};
use graph_comms_transfer::{CallContext, Error, Guid, Report, E164};
use serde::de::DeserializeOwned;

const TENANT: &str = "aa67bd4c-8475-432d-bd41-39f255720e0a";
const USER: &str = "98da8a1a-1b87-452c-a713-65d3f10b1253";
const INSTANCE: &str = "3d913abb-aec0-4964-8fa6-3c6850c4f278";
const CALLBACK: &str = "https://bot.contoso.com/api/calls";

fn guid(s: &str) -> Guid {
    s.parse().unwrap()
}

fn lines(report: &Report) -> Vec<String> {
    report.violations().iter().map(|v| v.to_string()).collect()
}

#[test]
fn builders_write_the_documented_bodies() {
    let ctx = CallContext::peer().with_tenant(guid(TENANT));
    let instance_ctx = ctx.clone().with_application_instance(true);
    let (user_call, _) = OutgoingCall::to_teams_user(CALLBACK, guid(USER), guid(TENANT))
        .build_for(&ctx)
        .unwrap();
    insta::assert_json_snapshot!("create_call_teams_user", user_call);
    let (phone_call, _) = OutgoingCall::to_phone(
        CALLBACK,
        E164::parse("+12345678901").unwrap(),
        guid(INSTANCE),
        guid(TENANT),
    )
    .build_for(&ctx)
    .unwrap();
    insta::assert_json_snapshot!("create_call_phone", phone_call);
    let (bot_call, _) = OutgoingCall::to_application(CALLBACK, guid(INSTANCE))
        .from_application(guid(USER), Some("Calling Bot"))
        .app_hosted_media("<blob>")
        .subject("consult")
        .build_for(&ctx)
        .unwrap();
    insta::assert_json_snapshot!("create_call_application", bot_call);
    let (answer, _) = Answer::new(CALLBACK).build_for(&ctx).unwrap();
    insta::assert_json_snapshot!("answer_service_hosted", answer);
    let (answer, _) = Answer::new(CALLBACK)
        .app_hosted_media("<Media Session Configuration Blob>")
        .participant_capacity(200)
        .build_for(&ctx)
        .unwrap();
    insta::assert_json_snapshot!("answer_app_hosted", answer);
    for (name, reject) in [
        ("reject_busy", Reject::busy()),
        (
            "reject_forbidden",
            Reject::forbidden().callback_uri(CALLBACK),
        ),
        ("reject_none", Reject::no_reason()),
    ] {
        let (body, _) = reject.build_for(&ctx).unwrap();
        insta::assert_json_snapshot!(name, body);
    }
    let (redirect, _) =
        Redirect::to(Target::teams_user(guid(USER), None).display_name("test user"))
            .also(Target::phone(E164::parse("+12345678901").unwrap()))
            .timeout(60)
            .callback_uri(CALLBACK)
            .build_for(&instance_ctx)
            .unwrap();
    insta::assert_json_snapshot!("redirect_user_and_phone", redirect);
    let (prompt, _) = PlayPrompt::media("https://cdn.contoso.com/beep.wav")
        .then("https://cdn.contoso.com/cool.wav")
        .client_context("d45324c1")
        .build_for(&ctx)
        .unwrap();
    insta::assert_json_snapshot!("play_prompt", prompt);
    let (hold, _) = HoldMusic::start()
        .custom_prompt("https://bot.contoso.com/onHold.wav")
        .client_context("d45324c1")
        .build_for(&ctx)
        .unwrap();
    insta::assert_json_snapshot!("start_hold_music", hold);
    insta::assert_json_snapshot!("stop_hold_music", HoldMusic::stop(Some("d45324c1")));
}

/// Every rule, broken once, with the wording a bot or a user sees.
#[test]
fn wording_of_every_call_control_rule() {
    let ctx = CallContext::peer().with_tenant(guid(TENANT));
    let mut out = Vec::new();
    let mut call = OutgoingCall::to_phone(
        "http://bot",
        E164::parse("+12345678901").unwrap(),
        guid(INSTANCE),
        guid(TENANT),
    )
    .modalities([])
    .media_config(MediaConfig {
        odata_type: Some("#microsoft.graph.futureMediaConfig".into()),
        ..Default::default()
    })
    .build();
    call.source = None;
    call.tenant_id = Some("11111111-1111-1111-1111-111111111111".into());
    out.push(("createCall", lines(&validate_call(&call, &ctx))));
    let empty = Call::default();
    out.push(("createCall (empty)", lines(&validate_call(&empty, &ctx))));
    let answer = Answer::new(" https://x")
        .app_hosted_media("")
        .participant_capacity(0)
        .accepted_modalities([Modality::Unknown("hologram".into())])
        .build();
    out.push(("answer", lines(&validate_answer(&answer, &ctx))));
    let reject = Reject::new(RejectReason::Unknown("spam".into()))
        .callback_uri("https://")
        .build();
    out.push(("reject", lines(&validate_reject(&reject, &ctx))));
    let mut redirect = Redirect::to(Target::phone(E164::parse("+12345678901").unwrap()))
        .also(Target::teams_user(
            guid(USER),
            guid("22222222-2222-2222-2222-222222222222"),
        ))
        .timeout(5)
        .build();
    redirect.targets.push(Default::default());
    out.push(("redirect", lines(&validate_redirect(&redirect, &ctx))));
    let no_targets = RedirectRequestBody::default();
    out.push((
        "redirect (empty)",
        lines(&validate_redirect(&no_targets, &ctx)),
    ));
    let mut prompt = PlayPrompt::media("ftp://cdn/x.wav").build();
    prompt.prompts.push(Default::default());
    out.push(("playPrompt", lines(&validate_play_prompt(&prompt, &ctx))));
    let empty_prompt = PlayPromptRequestBody::default();
    out.push((
        "playPrompt (empty)",
        lines(&validate_play_prompt(&empty_prompt, &ctx)),
    ));
    let hold = HoldMusic::start().custom_prompt("").build();
    out.push((
        "startHoldMusic",
        lines(&validate_start_hold_music(&hold, &ctx)),
    ));
    insta::assert_debug_snapshot!(out);
}

#[test]
fn build_for_refuses_with_the_action_and_every_error() {
    let err = Redirect::to(Target::phone(E164::parse("+12345678901").unwrap()))
        .timeout(120)
        .build_for(&CallContext::peer())
        .unwrap_err();
    let Error::InvalidRequest { action, report } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*action, "redirect");
    let rules: Vec<&str> = report.errors().map(|v| v.rule()).collect();
    assert_eq!(rules, ["pstn-needs-instance", "out-of-range"]);
    assert_eq!(
        err.to_string(),
        "the redirect request breaks 2 rules: targets: redirecting to a PSTN number needs a bot \
         that is an application instance with a phone number; timeout: 120 is outside 15..=90 \
         (seconds Graph rings the targets)"
    );
    // Warnings do not refuse.
    let (_, report) = Reject::new(RejectReason::Unknown("spam".into()))
        .build_for(&CallContext::peer())
        .unwrap();
    assert_eq!(report.warnings().count(), 1);
}

/// Decodes every valid request of a document kind and validates it.
fn documented<T: DeserializeOwned>(dir_part: &str) -> Vec<(String, T)> {
    let Some(shared) = graph_comms_testkit::shared_dir() else {
        return Vec::new();
    };
    corpus_files(&shared)
        .into_iter()
        .filter(|r| r.kind == "request" && r.dir.contains(dir_part) && r.json_valid == Some(true))
        .map(|r| {
            let text = std::fs::read_to_string(&r.path).unwrap();
            let body =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", r.path.display()));
            let name = format!(
                "{}/{}",
                r.dir,
                r.path.file_name().unwrap().to_string_lossy()
            );
            (name, body)
        })
        .collect()
}

/// The documented bodies pass their rules, except the docs' placeholders, which are reported
/// with their path (and nothing else is).
#[test]
fn documented_bodies_pass_their_rules() {
    if graph_comms_testkit::shared_dir().is_none() {
        return;
    }
    let ctx = CallContext::peer().with_application_instance(true);
    let mut findings = Vec::new();
    let mut count = 0;
    let mut note = |name: String, report: Report| {
        count += 1;
        if !report.is_empty() {
            findings.push(format!("{name}: {}", lines(&report).join(" | ")));
        }
    };
    for (name, b) in documented::<AnswerRequestBody>("-call-answer-") {
        note(name, validate_answer(&b, &ctx));
    }
    for (name, b) in documented::<RejectRequestBody>("-call-reject-") {
        note(name, validate_reject(&b, &ctx));
    }
    for (name, b) in documented::<RedirectRequestBody>("-call-redirect-") {
        note(name, validate_redirect(&b, &ctx));
    }
    for (name, b) in documented::<PlayPromptRequestBody>("-call-playprompt-") {
        note(name, validate_play_prompt(&b, &ctx));
    }
    for (name, b) in documented::<Call>("-application-post-calls-") {
        note(name, validate_call(&b, &ctx));
    }
    assert!(count >= 30, "only {count} documented bodies");
    insta::assert_debug_snapshot!(findings);
}
