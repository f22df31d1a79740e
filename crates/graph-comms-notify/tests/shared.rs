//! The shared store's conformance tests: one suite, run over `MemorySharedStore` and (with the
//! `redis` feature, which the workspace build enables through the CLI) over `RedisStore` on a
//! `redis-server` the test starts. Two store handles stand for two bot instances.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{accepted, completed, done_7015, failed, hung_up, roster, transferring};
use graph_comms_notify::{
    unix_ms, Appended, Applied, MemorySharedStore, SharedStore, SharedTracker, StoreLimits,
    TrackOptions, TrackerConfig, TransferOutcome, TransferRecord,
};

fn record(call: &str, consultation: Option<&str>, deadline: u64) -> TransferRecord {
    TransferRecord::new(call.into(), consultation.map(str::to_owned), 1, deadline)
}

fn later(ms: u64) -> u64 {
    unix_ms() + ms
}

async fn registers_exclusively(a: &dyn SharedStore, b: &dyn SharedStore) {
    a.register(&record("c1", Some("k1"), later(60_000)))
        .await
        .expect("first registration");
    for (call, consultation, taken) in [
        ("c1", None, "c1"),
        ("k1", None, "k1"),
        ("c2", Some("c1"), "c1"),
        ("c3", Some("k1"), "k1"),
        ("c4", Some("c4"), "c4"),
    ] {
        let err = b
            .register(&record(call, consultation, later(60_000)))
            .await
            .expect_err("a taken call is refused");
        assert_eq!(
            err,
            graph_comms_notify::Error::AlreadyTracking {
                call_id: taken.into()
            },
            "{call} / {consultation:?}"
        );
    }
    let t = b.log("c1").await.expect("reads").expect("registered");
    assert_eq!(t.record.replaces_call_id.as_deref(), Some("k1"));
    assert!(t.log.is_empty() && t.outcome.is_none());
    assert_eq!(
        b.log("k1").await.expect("reads"),
        None,
        "logs by transferred call"
    );
}

async fn appends_idempotently(a: &dyn SharedStore, b: &dyn SharedStore) {
    let mut r = record("c1", Some("k1"), later(60_000));
    r.tenant_id = Some("t1".into());
    a.register(&r).await.expect("registers");
    let added = Appended::Added {
        call_id: "c1".into(),
    };
    assert_eq!(
        a.append("c1", &transferring("c1"), Some("t1")).await,
        Ok(added.clone())
    );
    assert_eq!(
        b.append("c1", &transferring("c1"), Some("t1")).await,
        Ok(Appended::Duplicate)
    );
    assert_eq!(
        b.append("c1", &accepted("c1"), Some("t2")).await,
        Ok(Appended::OtherTenant)
    );
    assert_eq!(
        b.append("k1", &hung_up("k1"), None).await,
        Ok(added.clone())
    );
    assert_eq!(
        b.append("zz", &hung_up("zz"), None).await,
        Ok(Appended::Unknown)
    );
    let t = a.log("c1").await.expect("reads").expect("registered");
    assert_eq!(
        t.log,
        vec![transferring("c1"), hung_up("k1")],
        "arrival order"
    );
    assert_eq!(t.record.tenant_id.as_deref(), Some("t1"));

    // Without a tenant, the first authenticated notification's tenant is adopted.
    a.register(&record("c2", None, later(60_000)))
        .await
        .expect("registers");
    assert!(matches!(
        a.append("c2", &transferring("c2"), Some("t9")).await,
        Ok(Appended::Added { .. })
    ));
    assert_eq!(
        b.append("c2", &accepted("c2"), Some("t1")).await,
        Ok(Appended::OtherTenant)
    );
}

async fn bounds_the_log(a: &dyn SharedStore) {
    a.register(&record("c1", None, later(60_000)))
        .await
        .expect("registers");
    for i in 0..3 {
        let mut e = roster("c1");
        e.result_code = Some(i);
        assert!(matches!(
            a.append("c1", &e, None).await,
            Ok(Appended::Added { .. })
        ));
    }
    assert_eq!(
        a.append("c1", &accepted("c1"), None).await,
        Ok(Appended::Full)
    );
    let mut big = accepted("c1");
    big.result_message = Some("x".repeat(600));
    assert_eq!(a.append("c1", &big, None).await, Ok(Appended::TooLarge));
}

async fn first_writer_wins(a: &dyn SharedStore, b: &dyn SharedStore) {
    a.register(&record("c1", None, later(60_000)))
        .await
        .expect("registers");
    let done = TransferOutcome::completed(false);
    let ended = TransferOutcome::CallEnded {
        code: None,
        subcode: None,
        message: None,
        termination_reason: None,
        inferred: false,
        late: false,
    };
    assert_eq!(a.record_outcome("c1", &done).await, Ok(Some(done.clone())));
    assert_eq!(b.record_outcome("c1", &ended).await, Ok(Some(done.clone())));
    assert_eq!(b.outcome("c1").await, Ok(Some(done.clone())));
    assert_eq!(b.record_outcome("nobody", &done).await, Ok(None));
    assert_eq!(b.outcome("nobody").await, Ok(None));

    // A final result after `TimedOut` is kept once, as the late result.
    a.register(&record("c2", None, later(60_000)))
        .await
        .expect("registers");
    let timed_out = TransferOutcome::TimedOut;
    assert_eq!(
        a.record_outcome("c2", &timed_out).await,
        Ok(Some(timed_out.clone()))
    );
    assert_eq!(
        b.record_outcome("c2", &done).await,
        Ok(Some(timed_out.clone()))
    );
    assert_eq!(
        a.record_outcome("c2", &ended).await,
        Ok(Some(timed_out.clone()))
    );
    assert_eq!(a.outcome("c2").await, Ok(Some(done.clone().into_late())));
    let t = b.log("c2").await.expect("reads").expect("kept");
    assert_eq!(t.outcome, Some(timed_out));
    assert_eq!(t.late, Some(done.into_late()));
}

async fn wakes_waiters(a: Arc<dyn SharedStore>, b: Arc<dyn SharedStore>) {
    a.register(&record("c1", None, later(60_000)))
        .await
        .expect("registers");
    let waiter = tokio::spawn({
        let a = Arc::clone(&a);
        async move { a.wait_outcome("c1", later(30_000)).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let done = TransferOutcome::completed(false);
    b.record_outcome("c1", &done).await.expect("records");
    let woke = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("woken well before the deadline")
        .expect("task");
    assert_eq!(woke, Ok(Some(done)));
    // Nothing recorded: `None` at the deadline.
    assert_eq!(a.wait_outcome("c2", later(100)).await, Ok(None));
}

async fn fleet_resolves(a: Arc<dyn SharedStore>, b: Arc<dyn SharedStore>) {
    let config = TrackerConfig::default().with_timeout(Duration::from_secs(60));
    let sender = SharedTracker::new(a, config.clone());
    let other = SharedTracker::new(b, config);
    sender
        .register("c1", &TrackOptions::default().with_tenant("t1"))
        .await
        .expect("registers");
    assert_eq!(
        sender.register("c1", &TrackOptions::default()).await,
        Err(graph_comms_notify::Error::AlreadyTracking {
            call_id: "c1".into()
        })
    );
    // Notifications spread over both instances, with a redelivery.
    assert_eq!(
        other.apply(&transferring("c1"), Some("t1")).await,
        Ok(Applied::Progress)
    );
    assert_eq!(
        sender.apply(&accepted("c1"), Some("t1")).await,
        Ok(Applied::Progress)
    );
    assert_eq!(
        sender.apply(&roster("c1"), Some("t1")).await,
        Ok(Applied::Ignored)
    );
    assert_eq!(
        other.apply(&accepted("c1"), Some("t1")).await,
        Ok(Applied::Duplicate)
    );
    assert_eq!(
        other.apply(&completed("c1"), Some("t1")).await,
        Ok(Applied::Resolved)
    );
    assert_eq!(
        sender.apply(&failed("c1", 7000), Some("t1")).await,
        Ok(Applied::Late)
    );
    let outcome = sender.wait("c1").await.expect("waits");
    assert!(
        matches!(outcome, TransferOutcome::Completed { late: false, .. }),
        "{outcome:?}"
    );

    // An unregistered call is untracked, unless the instance follows transfers it sees.
    assert_eq!(
        other.apply(&transferring("c9"), None).await,
        Ok(Applied::Untracked)
    );
    let follower = other.clone().following(true);
    assert_eq!(
        follower.apply(&transferring("c9"), None).await,
        Ok(Applied::Progress)
    );
    assert_eq!(
        sender.apply(&hung_up("c9"), None).await,
        Ok(Applied::Resolved)
    );
    assert!(matches!(
        sender.wait("c9").await,
        Ok(TransferOutcome::CallEnded { .. })
    ));
}

async fn times_out_then_late(a: Arc<dyn SharedStore>, b: Arc<dyn SharedStore>) {
    let config = TrackerConfig::default().with_timeout(Duration::from_millis(200));
    let sender = SharedTracker::new(a, config.clone());
    let other = SharedTracker::new(b, config);
    sender
        .register("c1", &TrackOptions::default())
        .await
        .expect("registers");
    assert_eq!(
        other.apply(&transferring("c1"), None).await,
        Ok(Applied::Progress)
    );
    assert_eq!(sender.wait("c1").await, Ok(TransferOutcome::TimedOut));
    assert_eq!(
        other.apply(&completed("c1"), None).await,
        Ok(Applied::LateResult)
    );
    let outcome = sender.wait("c1").await.expect("reads");
    assert!(
        matches!(outcome, TransferOutcome::Completed { late: true, .. }),
        "{outcome:?}"
    );
    // An unknown call: `TimedOut` after the timeout, and nothing recorded.
    assert_eq!(sender.wait("nobody").await, Ok(TransferOutcome::TimedOut));
    assert_eq!(sender.store().outcome("nobody").await, Ok(None));
}

/// Every order of a transfer's notifications, each delivered twice, through alternating
/// instances: the same outcome.
async fn order_does_not_matter(a: Arc<dyn SharedStore>, b: Arc<dyn SharedStore>) {
    let config = TrackerConfig::default();
    let instances = [
        SharedTracker::new(a, config.clone()),
        SharedTracker::new(b, config),
    ];
    let orders: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for (n, order) in orders.iter().enumerate() {
        let call = format!("order-{n}");
        let events = [transferring(&call), accepted(&call), completed(&call)];
        instances[0]
            .register(&call, &TrackOptions::default())
            .await
            .expect("registers");
        for (i, &e) in order.iter().chain(order.iter()).enumerate() {
            instances[i % 2]
                .apply(&events[e], None)
                .await
                .expect("applies");
        }
        let outcome = instances[1].wait(&call).await.expect("waits");
        assert!(
            matches!(
                outcome,
                TransferOutcome::Completed {
                    inferred: false,
                    late: false,
                    ..
                }
            ),
            "{order:?}: {outcome:?}"
        );
    }
}

/// A call is transferred once per attempt: a new registration is refused while an attempt is in
/// flight and starts the next attempt once it has an outcome (fresh log, dedupe set, outcome).
async fn attempts_follow_one_another(a: &dyn SharedStore, b: &dyn SharedStore) {
    let mut first = record("c1", Some("k1"), later(60_000));
    first.tenant_id = Some("t1".into());
    assert_eq!(a.register(&first).await, Ok(1));
    let in_flight = b.register(&record("c1", None, later(60_000))).await;
    assert_eq!(
        in_flight,
        Err(graph_comms_notify::Error::AlreadyTracking {
            call_id: "c1".into()
        }),
        "never two transfers of one call at once"
    );
    for e in [transferring("c1"), failed("c1", 7000)] {
        assert!(matches!(
            a.append("c1", &e, None).await,
            Ok(Appended::Added { .. })
        ));
    }
    let failure = TransferOutcome::Failed {
        code: Some(500),
        subcode: Some(7000),
        message: None,
        replaces_context: None,
        termination_reason: None,
        inferred: false,
        late: false,
    };
    a.record_outcome("c1", &failure).await.expect("records");

    assert_eq!(
        b.register(&record("c1", Some("k2"), later(60_000))).await,
        Ok(2),
        "the next attempt"
    );
    let t = a.log("c1").await.expect("reads").expect("registered");
    assert_eq!(t.record.attempt, 2);
    assert_eq!(t.record.replaces_call_id.as_deref(), Some("k2"));
    assert_eq!(
        t.record.tenant_id.as_deref(),
        Some("t1"),
        "the tenant stays"
    );
    assert!(t.log.is_empty() && t.outcome.is_none() && t.late.is_none());
    assert_eq!(t.previous, [transferring("c1"), failed("c1", 7000)]);
    assert_eq!(a.outcome("c1").await, Ok(None), "a fresh outcome");
    // Attempt 1's final again, before attempt 2's progress: a redelivery, not added.
    assert_eq!(
        b.append("c1", &failed("c1", 7000), None).await,
        Ok(Appended::Previous)
    );
    // A fresh dedupe set: this attempt's own `transferring` is added, then its own failure
    // (reading the same as attempt 1's).
    for e in [transferring("c1"), failed("c1", 7000)] {
        assert!(matches!(
            a.append("c1", &e, None).await,
            Ok(Appended::Added { .. })
        ));
    }
    let t = a.log("c1").await.expect("reads").expect("registered");
    assert_eq!(t.log, [transferring("c1"), failed("c1", 7000)]);
    // The old consultation call is free; the new one is taken.
    assert_eq!(a.register(&record("k1", None, later(60_000))).await, Ok(1));
    assert_eq!(
        a.register(&record("c9", Some("k2"), later(60_000))).await,
        Err(graph_comms_notify::Error::AlreadyTracking {
            call_id: "k2".into()
        })
    );
    assert_eq!(
        a.register(&record("c1", None, later(60_000))).await,
        Err(graph_comms_notify::Error::AlreadyTracking {
            call_id: "c1".into()
        }),
        "attempt 2 is in flight"
    );
}

/// A late redelivery of attempt N's final does not end attempt N+1; N+1's own final does, even
/// when it reads the same.
async fn a_previous_attempts_final_does_not_leak(a: Arc<dyn SharedStore>, b: Arc<dyn SharedStore>) {
    let config = TrackerConfig::default().with_timeout(Duration::from_secs(10));
    let sender = SharedTracker::new(a, config.clone());
    let other = SharedTracker::new(b, config);
    let r = sender
        .register("c1", &TrackOptions::default())
        .await
        .expect("registers");
    assert_eq!(r.attempt, 1);
    assert_eq!(
        other.apply(&transferring("c1"), None).await,
        Ok(Applied::Progress)
    );
    assert_eq!(
        other.apply(&failed("c1", 7000), None).await,
        Ok(Applied::Resolved)
    );
    let first = sender.wait("c1").await.expect("waits");
    assert_eq!(first.subcode(), Some(7000));

    let r = sender
        .register("c1", &TrackOptions::default())
        .await
        .expect("the next attempt registers");
    assert_eq!(r.attempt, 2);
    // Graph redelivers attempt 1's final after attempt 2 was registered.
    assert_eq!(
        other.apply(&failed("c1", 7000), None).await,
        Ok(Applied::Late)
    );
    assert_eq!(sender.store().outcome("c1").await, Ok(None));
    // Attempt 2's own steps, its failure reading the same as attempt 1's.
    assert_eq!(
        other.apply(&transferring("c1"), None).await,
        Ok(Applied::Progress)
    );
    assert_eq!(
        other.apply(&failed("c1", 7000), None).await,
        Ok(Applied::Resolved),
        "attempt 2's own failure"
    );
    let second = sender.wait("c1").await.expect("waits");
    assert_eq!(second.subcode(), Some(7000), "{second:?}");

    let r = sender
        .register("c1", &TrackOptions::default())
        .await
        .expect("a third attempt");
    assert_eq!(r.attempt, 3);
    assert_eq!(
        other.apply(&transferring("c1"), None).await,
        Ok(Applied::Progress)
    );
    assert_eq!(
        other.apply(&completed("c1"), None).await,
        Ok(Applied::Resolved)
    );
    assert_eq!(sender.wait("c1").await, Ok(done_7015()));
}

/// A claim is held by one owner until it expires.
async fn claims_are_exclusive(a: &dyn SharedStore, b: &dyn SharedStore) {
    let long = Duration::from_secs(60);
    assert_eq!(a.claim("call-1", "one", long).await, Ok(true));
    assert_eq!(b.claim("call-1", "two", long).await, Ok(false));
    assert_eq!(
        b.claim("call-1", "one", long).await,
        Ok(true),
        "its owner's"
    );
    assert_eq!(b.claim("call-2", "two", long).await, Ok(true));
    assert_eq!(
        a.claim("call-3", "one", Duration::from_millis(50)).await,
        Ok(true)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.claim("call-3", "two", long).await, Ok(true), "expired");
}

mod memory {
    use super::*;

    fn pair() -> (Arc<dyn SharedStore>, Arc<dyn SharedStore>) {
        let store: Arc<dyn SharedStore> = Arc::new(MemorySharedStore::new());
        (Arc::clone(&store), store)
    }

    #[tokio::test]
    async fn registers_exclusively() {
        let (a, b) = pair();
        super::registers_exclusively(&*a, &*b).await;
    }

    #[tokio::test]
    async fn appends_idempotently() {
        let (a, b) = pair();
        super::appends_idempotently(&*a, &*b).await;
    }

    #[tokio::test]
    async fn bounds_the_log() {
        let limits = StoreLimits::default()
            .with_max_log(3)
            .with_max_event_bytes(512);
        super::bounds_the_log(&MemorySharedStore::with_limits(limits)).await;
    }

    #[tokio::test]
    async fn first_writer_wins() {
        let (a, b) = pair();
        super::first_writer_wins(&*a, &*b).await;
    }

    #[tokio::test]
    async fn wakes_waiters() {
        let (a, b) = pair();
        super::wakes_waiters(a, b).await;
    }

    #[tokio::test]
    async fn fleet_resolves() {
        let (a, b) = pair();
        super::fleet_resolves(a, b).await;
    }

    #[tokio::test]
    async fn times_out_then_late() {
        let (a, b) = pair();
        super::times_out_then_late(a, b).await;
    }

    #[tokio::test]
    async fn order_does_not_matter() {
        let (a, b) = pair();
        super::order_does_not_matter(a, b).await;
    }

    #[tokio::test]
    async fn attempts_follow_one_another() {
        let (a, b) = pair();
        super::attempts_follow_one_another(&*a, &*b).await;
    }

    #[tokio::test]
    async fn a_previous_attempts_final_does_not_leak() {
        let (a, b) = pair();
        super::a_previous_attempts_final_does_not_leak(a, b).await;
    }

    #[tokio::test]
    async fn claims_are_exclusive() {
        let (a, b) = pair();
        super::claims_are_exclusive(&*a, &*b).await;
    }

    #[tokio::test]
    async fn forgets_after_retention() {
        let store = MemorySharedStore::with_limits(
            StoreLimits::default().with_retention(Duration::from_millis(1)),
        );
        store
            .register(&record("c1", Some("k1"), unix_ms()))
            .await
            .expect("registers");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(store.is_empty());
        store
            .register(&record("k1", None, later(60_000)))
            .await
            .expect("the consultation call is free again");
    }
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use graph_comms_notify::RedisStore;
    use graph_comms_testkit::RedisServer;

    async fn pair_with(
        server: &RedisServer,
        limits: StoreLimits,
    ) -> (Arc<dyn SharedStore>, Arc<dyn SharedStore>) {
        let a = RedisStore::connect_with(&server.url(), "test:", limits.clone())
            .await
            .expect("connects");
        let b = RedisStore::connect_with(&server.url(), "test:", limits)
            .await
            .expect("connects");
        (Arc::new(a), Arc::new(b))
    }

    async fn pair(server: &RedisServer) -> (Arc<dyn SharedStore>, Arc<dyn SharedStore>) {
        pair_with(server, StoreLimits::default()).await
    }

    #[tokio::test]
    async fn registers_exclusively() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let (a, b) = pair(&server).await;
        super::registers_exclusively(&*a, &*b).await;
    }

    #[tokio::test]
    async fn appends_idempotently() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let (a, b) = pair(&server).await;
        super::appends_idempotently(&*a, &*b).await;
    }

    #[tokio::test]
    async fn bounds_the_log() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let limits = StoreLimits::default()
            .with_max_log(3)
            .with_max_event_bytes(512);
        let (a, _) = pair_with(&server, limits).await;
        super::bounds_the_log(&*a).await;
    }

    #[tokio::test]
    async fn first_writer_wins() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let (a, b) = pair(&server).await;
        super::first_writer_wins(&*a, &*b).await;
    }

    #[tokio::test]
    async fn wakes_waiters() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let (a, b) = pair(&server).await;
        super::wakes_waiters(a, b).await;
    }

    #[tokio::test]
    async fn fleet_resolves() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let (a, b) = pair(&server).await;
        super::fleet_resolves(a, b).await;
    }

    #[tokio::test]
    async fn times_out_then_late() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let (a, b) = pair(&server).await;
        super::times_out_then_late(a, b).await;
    }

    #[tokio::test]
    async fn order_does_not_matter() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let (a, b) = pair(&server).await;
        super::order_does_not_matter(a, b).await;
    }

    #[tokio::test]
    async fn attempts_follow_one_another() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let (a, b) = pair(&server).await;
        super::attempts_follow_one_another(&*a, &*b).await;
    }

    #[tokio::test]
    async fn a_previous_attempts_final_does_not_leak() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let (a, b) = pair(&server).await;
        super::a_previous_attempts_final_does_not_leak(a, b).await;
    }

    #[tokio::test]
    async fn claims_are_exclusive() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let (a, b) = pair(&server).await;
        super::claims_are_exclusive(&*a, &*b).await;
    }

    #[tokio::test]
    async fn outcome_keys_expire_after_retention() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let limits = StoreLimits::default().with_retention(Duration::from_millis(300));
        let (a, _) = pair_with(&server, limits).await;
        a.register(&record("c1", Some("k1"), later(60_000)))
            .await
            .expect("registers");
        a.append("c1", &transferring("c1"), None)
            .await
            .expect("appends");
        a.record_outcome("c1", &TransferOutcome::completed(false))
            .await
            .expect("records");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(a.log("c1").await, Ok(None), "forgotten after retention");
        a.register(&record("k1", None, later(60_000)))
            .await
            .expect("the consultation index expired with it");
    }

    #[tokio::test]
    async fn unreachable_store_is_an_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let err = RedisStore::connect(&format!("redis://127.0.0.1:{port}"))
            .await
            .expect_err("nothing listens there");
        assert!(
            matches!(
                err,
                graph_comms_notify::Error::Store {
                    operation: "connect",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn survives_a_server_restart() {
        let Some(mut server) = RedisServer::start() else {
            return;
        };
        let (a, _) = pair(&server).await;
        a.register(&record("c1", None, later(60_000)))
            .await
            .expect("registers");
        server.restart();
        // No persistence: the transfer is gone, but the store reconnects and works again.
        let mut again = Err(graph_comms_notify::Error::EmptyCallId);
        for _ in 0..50 {
            again = a.register(&record("c1", None, later(60_000))).await;
            if again.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(again, Ok(1), "a first attempt again");
    }
}
