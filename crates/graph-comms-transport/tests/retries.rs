//! Every retry rule, on tokio's paused clock with a closure mock of the transport.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{response, MockTransport};
use graph_comms_transport::{
    Error, GraphCommsClient, OutcomeUnknownReason, RetryPolicy, StaticToken, TransportErrorKind,
};

const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const BODY: &str =
    r#"{"transferTarget":{"identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f"}}}}"#;

fn client(mock: &Arc<MockTransport>, retry: RetryPolicy) -> GraphCommsClient {
    GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .base_url("https://graph.test/v1.0".parse().unwrap())
        .transport(mock.clone())
        .retry_policy(retry)
        .build()
        .unwrap()
}

async fn transfer(
    c: &GraphCommsClient,
) -> graph_comms_transport::Result<graph_comms_transport::Accepted> {
    c.transfer_json(CALL, bytes::Bytes::from_static(BODY.as_bytes()))
        .await
}

fn ok() -> graph_comms_transport::HttpResponse {
    response(202, &[("request-id", "r")], "")
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Every attempt of one logical request carries the same client-request-id, and retries
/// carry Retry-Attempt 1, 2, ...
fn assert_same_id_and_attempts(mock: &MockTransport) {
    let seen = mock.seen.lock().unwrap();
    let first = seen[0].headers["client-request-id"].clone();
    for (n, r) in seen.iter().enumerate() {
        assert_eq!(r.headers["client-request-id"], first, "attempt {n}");
        let attempt = r
            .headers
            .get("retry-attempt")
            .map(|v| v.to_str().unwrap().to_owned());
        let expect = (n > 0).then(|| n.to_string());
        assert_eq!(attempt, expect, "attempt {n}");
    }
}

#[tokio::test(start_paused = true)]
async fn honours_retry_after_seconds() {
    let mock = MockTransport::replies(vec![
        Ok(response(429, &[("retry-after", "2")], "")),
        Ok(ok()),
    ]);
    let accepted = transfer(&client(&mock, RetryPolicy::default()))
        .await
        .unwrap();
    assert_eq!(accepted.request_id.as_deref(), Some("r"));
    assert_eq!(mock.count(), 2);
    assert_eq!(mock.gaps(), [secs(2)]);
    assert_same_id_and_attempts(&mock);
}

#[tokio::test(start_paused = true)]
async fn honours_retry_after_http_date_against_the_response_date() {
    let mock = MockTransport::replies(vec![
        Ok(response(
            429,
            &[
                ("date", "Tue, 24 Nov 2026 10:00:00 GMT"),
                ("retry-after", "Tue, 24 Nov 2026 10:00:07 GMT"),
            ],
            "",
        )),
        Ok(ok()),
    ]);
    transfer(&client(&mock, RetryPolicy::default()))
        .await
        .unwrap();
    assert_eq!(mock.gaps(), [secs(7)]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_503_is_honoured_too() {
    let mock = MockTransport::replies(vec![
        Ok(response(503, &[("retry-after", "5")], "")),
        Ok(ok()),
    ]);
    transfer(&client(&mock, RetryPolicy::default()))
        .await
        .unwrap();
    assert_eq!(mock.gaps(), [secs(5)]);
}

#[tokio::test(start_paused = true)]
async fn three_503_then_202_backs_off_exponentially() {
    let unavailable = Ok(response(503, &[], "<html>busy</html>"));
    let mock = MockTransport::replies(vec![
        unavailable.clone(),
        unavailable.clone(),
        unavailable,
        Ok(ok()),
    ]);
    transfer(&client(&mock, RetryPolicy::default()))
        .await
        .unwrap();
    assert_eq!(mock.count(), 4);
    let gaps = mock.gaps();
    // Jitter draws each backoff from [d/2, d] with d = 1 s, 2 s, 4 s.
    for (gap, full) in gaps.iter().zip([1u64, 2, 4]) {
        assert!(*gap >= secs(full) / 2 && *gap <= secs(full), "{gaps:?}");
    }
    assert_same_id_and_attempts(&mock);
}

#[tokio::test(start_paused = true)]
async fn backoff_without_jitter_is_exact() {
    let mock = MockTransport::replies(vec![Ok(response(503, &[], ""))]);
    let policy = RetryPolicy {
        jitter: false,
        ..RetryPolicy::default()
    };
    let err = transfer(&client(&mock, policy)).await.unwrap_err();
    assert!(matches!(&err, Error::Server(e) if e.status == 503), "{err}");
    assert_eq!(mock.gaps(), [secs(1), secs(2), secs(4)]);
}

#[tokio::test(start_paused = true)]
async fn forever_503_stops_after_three_retries() {
    let mock = MockTransport::replies(vec![Ok(response(503, &[], ""))]);
    let err = transfer(&client(&mock, RetryPolicy::default()))
        .await
        .unwrap_err();
    assert_eq!(mock.count(), 4, "1 attempt + 3 retries");
    assert!(matches!(err, Error::Server(_)), "{err}");
    assert_same_id_and_attempts(&mock);
}

#[tokio::test(start_paused = true)]
async fn forever_429_is_throttled_with_the_delay() {
    let mock = MockTransport::replies(vec![Ok(response(429, &[("retry-after", "3")], ""))]);
    let err = transfer(&client(&mock, RetryPolicy::default()))
        .await
        .unwrap_err();
    assert_eq!(mock.count(), 4);
    assert_eq!(mock.gaps(), [secs(3), secs(3), secs(3)]);
    assert!(
        matches!(err, Error::Throttled { retry_after: Some(d), .. } if d == secs(3)),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn max_retries_is_configurable() {
    for max in [0u32, 1, 5] {
        let mock = MockTransport::replies(vec![Ok(response(429, &[("retry-after", "1")], ""))]);
        let policy = RetryPolicy {
            max_retries: max,
            ..RetryPolicy::default()
        };
        transfer(&client(&mock, policy)).await.unwrap_err();
        assert_eq!(mock.count(), max as usize + 1, "max_retries {max}");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_total_cap_is_not_waited() {
    let mock = MockTransport::replies(vec![
        Ok(response(429, &[("retry-after", "61")], "")),
        Ok(ok()),
    ]);
    let err = transfer(&client(&mock, RetryPolicy::default()))
        .await
        .unwrap_err();
    assert_eq!(mock.count(), 1);
    assert!(
        matches!(err, Error::Throttled { retry_after: Some(d), .. } if d == secs(61)),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn total_delay_cap_counts_every_wait() {
    let mock = MockTransport::replies(vec![Ok(response(429, &[("retry-after", "25")], ""))]);
    let policy = RetryPolicy {
        max_retries: 10,
        ..RetryPolicy::default()
    };
    transfer(&client(&mock, policy)).await.unwrap_err();
    // 25 + 25 = 50 s waited; a third wait would reach 75 s > 60 s.
    assert_eq!(mock.gaps(), [secs(25), secs(25)]);
    let policy = RetryPolicy {
        max_retries: 10,
        max_total_delay: secs(75),
        ..RetryPolicy::default()
    };
    let mock = MockTransport::replies(vec![Ok(response(429, &[("retry-after", "25")], ""))]);
    transfer(&client(&mock, policy)).await.unwrap_err();
    assert_eq!(mock.count(), 4);
}

#[tokio::test(start_paused = true)]
async fn gateway_timeout_is_never_retried() {
    let mock = MockTransport::replies(vec![
        Ok(response(
            504,
            &[("request-id", "gw"), ("retry-after", "1")],
            "upstream timed out",
        )),
        Ok(ok()),
    ]);
    let err = transfer(&client(&mock, RetryPolicy::default()))
        .await
        .unwrap_err();
    assert_eq!(mock.count(), 1);
    match &err {
        Error::OutcomeUnknown {
            reason: OutcomeUnknownReason::GatewayTimeout,
            response: Some(r),
            client_request_id,
            ..
        } => {
            assert_eq!(r.request_id.as_deref(), Some("gw"));
            assert_eq!(
                client_request_id,
                mock.seen.lock().unwrap()[0].headers["client-request-id"]
                    .to_str()
                    .unwrap()
            );
        }
        other => panic!("expected OutcomeUnknown(GatewayTimeout), got {other:?}"),
    }
    assert!(err.is_outcome_unknown());
    assert_eq!(err.request_id(), Some("gw"));
}

#[tokio::test(start_paused = true)]
async fn other_server_errors_are_not_retried() {
    for status in [500u16, 502] {
        let mock = MockTransport::replies(vec![Ok(response(status, &[], "")), Ok(ok())]);
        let err = transfer(&client(&mock, RetryPolicy::default()))
            .await
            .unwrap_err();
        assert_eq!(mock.count(), 1, "{status}");
        assert!(
            matches!(&err, Error::Server(e) if e.status == status),
            "{err}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_not_retried() {
    for status in [400u16, 401, 403, 404, 409] {
        let mock = MockTransport::replies(vec![Ok(response(status, &[], "")), Ok(ok())]);
        transfer(&client(&mock, RetryPolicy::default()))
            .await
            .unwrap_err();
        assert_eq!(mock.count(), 1, "{status}");
    }
}

#[tokio::test(start_paused = true)]
async fn connect_failures_before_sending_are_retried() {
    let mock = MockTransport::replies(vec![
        Err((TransportErrorKind::Connect, "connection refused")),
        Err((TransportErrorKind::Connect, "connection refused")),
        Ok(ok()),
    ]);
    transfer(&client(&mock, RetryPolicy::default()))
        .await
        .unwrap();
    assert_eq!(mock.count(), 3);
    assert_same_id_and_attempts(&mock);
}

#[tokio::test(start_paused = true)]
async fn connect_failures_give_up_as_a_transport_error() {
    let mock = MockTransport::replies(vec![Err((
        TransportErrorKind::Connect,
        "connection refused",
    ))]);
    let err = transfer(&client(&mock, RetryPolicy::default()))
        .await
        .unwrap_err();
    assert_eq!(mock.count(), 4);
    assert!(
        matches!(&err, Error::Transport(e) if e.kind() == TransportErrorKind::Connect),
        "{err}"
    );
    assert!(!err.is_outcome_unknown());
}

#[tokio::test(start_paused = true)]
async fn failures_after_sending_are_outcome_unknown_and_not_retried() {
    for (kind, reason) in [
        (TransportErrorKind::Timeout, OutcomeUnknownReason::Timeout),
        (
            TransportErrorKind::Interrupted,
            OutcomeUnknownReason::ConnectionLost,
        ),
    ] {
        let mock = MockTransport::replies(vec![Err((kind, "gone")), Ok(ok())]);
        let err = transfer(&client(&mock, RetryPolicy::default()))
            .await
            .unwrap_err();
        assert_eq!(mock.count(), 1, "{kind:?}");
        assert!(
            matches!(&err, Error::OutcomeUnknown { reason: r, .. } if *r == reason),
            "{err}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_never_answers_times_out_once() {
    let mock = MockTransport::new(|_, _| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(response(202, &[], ""))
    });
    let c = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .base_url("https://graph.test/v1.0".parse().unwrap())
        .transport(mock.clone())
        .timeout(Some(secs(10)))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = transfer(&c).await.unwrap_err();
    assert_eq!(started.elapsed(), secs(10));
    assert_eq!(mock.count(), 1);
    assert!(
        matches!(
            err,
            Error::OutcomeUnknown {
                reason: OutcomeUnknownReason::Timeout,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn each_logical_request_gets_a_fresh_client_request_id() {
    let mock = MockTransport::replies(vec![Ok(ok())]);
    let c = client(&mock, RetryPolicy::default());
    transfer(&c).await.unwrap();
    transfer(&c).await.unwrap();
    let seen = mock.seen.lock().unwrap();
    let a = seen[0].headers["client-request-id"].to_str().unwrap();
    let b = seen[1].headers["client-request-id"].to_str().unwrap();
    assert_ne!(a, b);
    for id in [a, b] {
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
    }
}
