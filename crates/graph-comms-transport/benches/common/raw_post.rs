//! The raw reqwest POST the client is compared with: the same bytes and headers as
//! `GraphCommsClient::transfer_json` sends, to the same server.

use bytes::Bytes;

/// One raw POST of `body` to `url`, answered 202, its body read.
pub(crate) async fn post_raw(raw: &reqwest::Client, url: &str, body: &Bytes) {
    let r = raw
        .post(url)
        .header("authorization", "Bearer bench-token")
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("client-request-id", "6f1c1a4e-3b7d-4c61-9a53-8d2f0e7b5a10")
        .header("sdkversion", "graph-comms-transport/0.1.0")
        .header("user-agent", "graph-comms-transport/0.1.0")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 202);
    r.bytes().await.expect("body");
}
