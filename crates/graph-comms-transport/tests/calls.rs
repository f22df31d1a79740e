//! Call control through the client against a real server on 127.0.0.1: each action's exact
//! request (method, path, headers, body; snapshotted), and its handling of Graph's answers: the
//! documented success (202, 200, 201 or 204), a 404 with Graph's request-id, a 429 retried with
//! the same client-request-id, a 504 never retried.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Reply, TestServer};
use graph_comms_model::{
    AnswerRequestBody, Call, PlayPromptRequestBody, RedirectRequestBody, RejectRequestBody,
    StartHoldMusicRequestBody, StopHoldMusicRequestBody,
};
use graph_comms_transport::{
    BaseUrl, ClientCredential, ClientCredentials, Error, GraphCommsClient, OutcomeUnknownReason,
    RetryPolicy, StaticToken,
};
use serde_json::{json, Value};

const CALL: &str = "57dab8b1-894c-409a-b240-bd8beae78896";
const PARTICIPANT: &str = "2765eb15-01f8-47c6-b12b-c32111a4a86f";

/// Snapshots a recorded request with its volatile parts redacted.
macro_rules! check {
    ($name:expr, $value:expr) => {
        insta::assert_json_snapshot!($name, $value, {
            ".headers.host" => "[host]",
            ".headers[\"client-request-id\"]" => "[client-request-id]",
        })
    };
}

#[derive(Clone, Copy, Debug)]
enum Action {
    CreateCall,
    Answer,
    Reject,
    Redirect,
    HangUp,
    PlayPrompt,
    StartHoldMusic,
    StopHoldMusic,
    ListParticipants,
}

const ALL: [Action; 9] = [
    Action::CreateCall,
    Action::Answer,
    Action::Reject,
    Action::Redirect,
    Action::HangUp,
    Action::PlayPrompt,
    Action::StartHoldMusic,
    Action::StopHoldMusic,
    Action::ListParticipants,
];

fn body<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn operation(kind: &str) -> Value {
    json!({"@odata.type": format!("#microsoft.graph.{kind}"), "id": "0fe0623f-d628-42ed-b4bd-8ac290072cc5",
           "status": "running", "clientContext": "d45324c1"})
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::CreateCall => "create_call",
            Action::Answer => "answer",
            Action::Reject => "reject",
            Action::Redirect => "redirect",
            Action::HangUp => "hang_up",
            Action::PlayPrompt => "play_prompt",
            Action::StartHoldMusic => "start_hold_music",
            Action::StopHoldMusic => "stop_hold_music",
            Action::ListParticipants => "list_participants",
        }
    }

    /// Graph's documented success for the action.
    fn success(self) -> Reply {
        let (status, value) = match self {
            Action::CreateCall => (
                201,
                Some(
                    json!({"@odata.type": "#microsoft.graph.call", "id": "2e1a0b00-2db4-4022-9570-243709c565ab",
                            "state": "establishing", "callbackUri": "https://bot.contoso.com/callback"}),
                ),
            ),
            Action::Answer | Action::Reject | Action::Redirect => (202, None),
            Action::HangUp => (204, None),
            Action::PlayPrompt => (200, Some(operation("playPromptOperation"))),
            Action::StartHoldMusic => (200, Some(operation("startHoldMusicOperation"))),
            Action::StopHoldMusic => (200, Some(operation("stopHoldMusicOperation"))),
            Action::ListParticipants => (
                200,
                Some(
                    json!({"value": [{"@odata.type": "#microsoft.graph.participant", "id": PARTICIPANT,
                                       "isMuted": false, "isInLobby": false}]}),
                ),
            ),
        };
        let reply = Reply::new(status)
            .header("request-id", "11111111-2222-3333-4444-555555555555")
            .header("date", "Tue, 24 Nov 2026 10:00:00 GMT");
        match value {
            Some(v) => reply
                .header("content-type", "application/json")
                .body(v.to_string()),
            None => reply,
        }
    }

    /// Runs the action; returns the status Graph answered and what the method returned.
    async fn run(self, c: &GraphCommsClient) -> graph_comms_transport::Result<(u16, Value)> {
        fn ok<T: serde::Serialize>(
            status: http::StatusCode,
            v: T,
        ) -> graph_comms_transport::Result<(u16, Value)> {
            Ok((status.as_u16(), serde_json::to_value(v).unwrap()))
        }
        match self {
            Action::CreateCall => {
                let call: Call = body(json!({
                    "@odata.type": "#microsoft.graph.call",
                    "callbackUri": "https://bot.contoso.com/callback",
                    "targets": [{"identity": {"user": {"id": "8d1e6ab7-b7cd-4d1b-a1a3-1e7b0a3f9e0b"}}}],
                    "requestedModalities": ["audio"],
                    "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
                    "tenantId": "aa67bd4c-8475-432d-bd41-39f255720e0a"
                }));
                let r = c.create_call(&call).await?;
                ok(r.accepted.status, r.value)
            }
            Action::Answer => {
                let b: AnswerRequestBody = body(json!({
                    "callbackUri": "https://bot.contoso.com/api/calls",
                    "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
                    "acceptedModalities": ["audio"]
                }));
                let a = c.answer(CALL, &b).await?;
                ok(a.status, Value::Null)
            }
            Action::Reject => {
                let b: RejectRequestBody = body(json!({"reason": "busy"}));
                let a = c.reject(CALL, &b).await?;
                ok(a.status, Value::Null)
            }
            Action::Redirect => {
                let b: RedirectRequestBody = body(json!({
                    "targets": [{"identity": {"phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"}}}],
                    "timeout": 30
                }));
                let a = c.redirect(CALL, &b).await?;
                ok(a.status, Value::Null)
            }
            Action::HangUp => {
                let a = c.hang_up(CALL).await?;
                ok(a.status, Value::Null)
            }
            Action::PlayPrompt => {
                let b: PlayPromptRequestBody = body(json!({
                    "clientContext": "d45324c1",
                    "prompts": [{"@odata.type": "#microsoft.graph.mediaPrompt",
                                 "mediaInfo": {"uri": "https://cdn.contoso.com/beep.wav"}}]
                }));
                let r = c.play_prompt(CALL, &b).await?;
                ok(r.accepted.status, r.value)
            }
            Action::StartHoldMusic => {
                let b: StartHoldMusicRequestBody = body(json!({
                    "customPrompt": {"@odata.type": "#microsoft.graph.mediaPrompt",
                                     "mediaInfo": {"uri": "https://bot.contoso.com/onHold.wav"}},
                    "clientContext": "d45324c1"
                }));
                let r = c.start_hold_music(CALL, PARTICIPANT, &b).await?;
                ok(r.accepted.status, r.value)
            }
            Action::StopHoldMusic => {
                let b: StopHoldMusicRequestBody = body(json!({"clientContext": "d45324c1"}));
                let r = c.stop_hold_music(CALL, PARTICIPANT, &b).await?;
                ok(r.accepted.status, r.value)
            }
            Action::ListParticipants => {
                let list = c.list_participants(CALL).await?;
                ok(http::StatusCode::OK, list)
            }
        }
    }
}

fn client(server: &TestServer) -> GraphCommsClient {
    GraphCommsClient::builder(Arc::new(StaticToken::new("static-token")))
        .base_url(BaseUrl::parse(&server.base()).unwrap())
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn each_action_sends_exactly_its_request_and_reads_graphs_success() {
    for action in ALL {
        let server = TestServer::start().await;
        server.script([action.success()]);
        let (status, value) = action
            .run(&client(&server))
            .await
            .unwrap_or_else(|e| panic!("{action:?}: {e}"));
        let requests = server.requests();
        assert_eq!(requests.len(), 1, "{action:?}");
        let expected_status = action.success().status;
        assert_eq!(status, expected_status, "{action:?}");
        check!(format!("{}_request", action.name()), requests[0].to_json());
        insta::assert_json_snapshot!(format!("{}_result", action.name()), value);
    }
}

#[tokio::test]
async fn a_404_is_not_found_with_graphs_request_id() {
    for action in ALL {
        let server = TestServer::start().await;
        server.script([Reply::graph_error(404, "itemNotFound", "Call not found")]);
        let err = action.run(&client(&server)).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{action:?}: {err:?}");
        assert_eq!(err.request_id(), Some("rid-from-body"), "{action:?}");
        assert_eq!(err.code(), Some("itemNotFound"), "{action:?}");
        assert_eq!(server.requests().len(), 1, "{action:?}");
    }
}

#[tokio::test]
async fn a_429_is_retried_with_the_same_client_request_id() {
    for action in ALL {
        let server = TestServer::start().await;
        server.script([
            Reply::graph_error(429, "TooManyRequests", "slow down").header("retry-after", "0"),
            action.success(),
        ]);
        let (status, _) = action
            .run(&client(&server))
            .await
            .unwrap_or_else(|e| panic!("{action:?}: {e}"));
        assert_eq!(status, action.success().status, "{action:?}");
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{action:?}");
        assert_eq!(
            requests[0].header("client-request-id"),
            requests[1].header("client-request-id"),
            "{action:?}"
        );
        assert_eq!(requests[0].body, requests[1].body, "{action:?}");
        assert_eq!(requests[1].header("retry-attempt"), Some("1"), "{action:?}");
    }
}

#[tokio::test]
async fn a_504_is_never_retried() {
    for action in ALL {
        let server = TestServer::start().await;
        server.fallback(Reply::graph_error(504, "GatewayTimeout", "gateway timeout"));
        let result = action.run(&client(&server)).await;
        let requests = server.requests();
        match action {
            // A read is safe to repeat: it is retried, and ends as a server error.
            Action::ListParticipants => {
                assert!(requests.len() > 1, "a read may be retried");
                assert!(result.is_err());
            }
            _ => {
                let err = result.unwrap_err();
                assert!(
                    matches!(
                        err,
                        Error::OutcomeUnknown {
                            reason: OutcomeUnknownReason::GatewayTimeout,
                            ..
                        }
                    ),
                    "{action:?}: {err:?}"
                );
                assert_eq!(requests.len(), 1, "{action:?}: sent once");
            }
        }
    }
}

#[tokio::test]
async fn ids_that_would_change_the_url_are_encoded_or_refused() {
    let server = TestServer::start().await;
    let c = client(&server);
    let stop = StopHoldMusicRequestBody::default();
    c.stop_hold_music("a/b", "p?x", &stop).await.unwrap();
    assert_eq!(
        server.requests()[0].uri,
        "/v1.0/communications/calls/a%2Fb/participants/p%3Fx/stopHoldMusic"
    );
    let err = c.stop_hold_music(CALL, "..", &stop).await.unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    let err = c.hang_up("").await.unwrap_err();
    assert!(matches!(err, Error::InvalidCallId { .. }), "{err:?}");
    assert_eq!(server.requests().len(), 1, "nothing sent for refused ids");
}

#[tokio::test]
async fn each_tenant_gets_its_own_token() {
    const TENANT_A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const TENANT_B: &str = "aa67bd4c-8475-432d-bd41-39f255720e0a";
    let server = TestServer::start().await;
    let tokens = ClientCredentials::builder("bot-app-id", ClientCredential::Secret("s".into()))
        .authority_host(&server.root())
        .unwrap()
        .build()
        .unwrap();
    let client = GraphCommsClient::builder(Arc::new(tokens))
        .base_url(BaseUrl::parse(&server.base()).unwrap())
        .build()
        .unwrap();
    for tenant in [TENANT_A, TENANT_B, TENANT_A] {
        let c = client.with_tenant(tenant).unwrap();
        server.script([Action::Answer.success()]);
        Action::Answer.run(&c).await.unwrap();
    }
    let issued: Vec<String> = server
        .token_requests()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(issued, [TENANT_A, TENANT_B], "one token per tenant, cached");
    let auth: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        auth,
        [
            format!("Bearer token-{TENANT_A}-1"),
            format!("Bearer token-{TENANT_B}-2"),
            format!("Bearer token-{TENANT_A}-1"),
        ]
    );
}
