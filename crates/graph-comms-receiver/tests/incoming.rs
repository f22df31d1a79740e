//! Incoming calls through the receiver over 127.0.0.1: an authenticated `incoming` notification
//! reaches the handler as a typed `IncomingCall` (tenant from the verified token when the call
//! does not say); an unauthenticated one reaches nothing.

mod support;

use std::sync::{Arc, Mutex};

use graph_comms_notify::IncomingCall;
use graph_comms_receiver::{AuthConfig, Delivery, NotificationHandler, Receiver};
use support::*;

const PATH: &str = "/api/calls";

#[derive(Default)]
struct Bot {
    offers: Mutex<Vec<IncomingCall>>,
    batches: Mutex<usize>,
}

struct Handler(Arc<Bot>);

impl NotificationHandler for Handler {
    fn on_notifications(&self, _delivery: &Delivery<'_>) {
        *self.0.batches.lock().unwrap() += 1;
    }

    fn on_incoming_call(&self, call: &IncomingCall, delivery: &Delivery<'_>) {
        assert_eq!(delivery.events.len(), 2);
        self.0.offers.lock().unwrap().push(call.clone());
    }
}

fn offer(call_id: &str, with_tenant: bool) -> serde_json::Value {
    let mut data = serde_json::json!({
        "@odata.type": "#microsoft.graph.call",
        "state": "incoming",
        "direction": "incoming",
        "source": {"identity": {"phone": {"id": "+12345678901"}}},
        "targets": [{"identity": {"applicationInstance": {"id": "3d913abb-aec0-4964-8fa6-3c6850c4f278"}}}],
        "incomingContext": {"sourceParticipantId": "p-1",
                            "transferor": {"user": {"id": "751f6800-3180-414d-bd94-333364659951"}}}
    });
    if with_tenant {
        data["tenantId"] = "aa67bd4c-8475-432d-bd41-39f255720e0a".into();
    }
    serde_json::json!({"changeType": "created",
                       "resourceUrl": format!("/communications/calls/{call_id}"),
                       "resourceData": data})
}

#[tokio::test]
async fn an_incoming_call_reaches_the_handler_typed() {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let bot = Arc::new(Bot::default());
    let receiver =
        Receiver::builder(AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url()))
            .handler(Handler(bot.clone()))
            .build()
            .unwrap();
    let addr = start(&receiver).await;
    let body = serde_json::json!({"value": [offer("call-a", false), offer("call-b", true)]});
    let token = key().sign(&claims(APP_ID));
    let response = post_once(
        addr,
        PATH,
        &auth_headers(&token),
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(response.status, 202, "{}", response.body_text());
    let offers = bot.offers.lock().unwrap().clone();
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[0].call_id, "call-a");
    assert_eq!(
        offers[0].tenant_id.as_deref(),
        Some(TENANT),
        "from the token"
    );
    assert_eq!(offers[0].caller_phone(), Some("+12345678901"));
    assert!(offers[0].transferor().is_some());
    assert_eq!(
        offers[1].tenant_id.as_deref(),
        Some("aa67bd4c-8475-432d-bd41-39f255720e0a"),
        "the call's own tenant"
    );

    // Not an incoming call: on_notifications only.
    let other = notification("call-a", "established");
    let response = post_once(addr, PATH, &auth_headers(&token), other.as_bytes()).await;
    assert_eq!(response.status, 202);
    assert_eq!(*bot.batches.lock().unwrap(), 2);
    assert_eq!(bot.offers.lock().unwrap().len(), 2);

    // Unauthenticated: nothing reaches the handler.
    let forged = other_key().sign(&claims(APP_ID));
    let response = post_once(
        addr,
        PATH,
        &auth_headers(&forged),
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(response.status, 401);
    assert_eq!(bot.offers.lock().unwrap().len(), 2);
}
