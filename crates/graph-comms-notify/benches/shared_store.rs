//! The shared transfer store on a loopback `redis-server` this bench starts, against the
//! in-memory store: the latency from the last notification's arrival (`SharedTracker::apply`
//! called) to the waiter's wake-up, p50 and p99; and how many notifications per second one
//! instance records into Redis (concurrent callbacks pipelined on one connection).
//!
//! Run: `cargo bench -p graph-comms-notify --features redis --bench shared_store`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use graph_comms_model::CallState;
use graph_comms_notify::{
    unix_ms, EventKind, MemorySharedStore, NotificationEvent, RedisStore, SharedStore,
    SharedTracker, TrackOptions, TrackerConfig,
};
use graph_comms_testkit::{percentile, RedisServer};

const WAKEUPS: usize = 400;
const TRANSFERS: usize = 4_000;
const CONCURRENCY: usize = 64;

fn event(call: &str, state: CallState, kind: EventKind) -> NotificationEvent {
    NotificationEvent::new(call, state, kind)
}

fn completed(call: &str) -> NotificationEvent {
    event(call, CallState::Terminated, EventKind::Completed)
}

/// Arrival-to-wake-up latencies (µs), sorted.
async fn wakeups(tracker: &SharedTracker, tag: &str) -> Vec<f64> {
    let mut out = Vec::with_capacity(WAKEUPS);
    for i in 0..WAKEUPS {
        let call = format!("{tag}-wake-{i}");
        tracker
            .register(&call, &TrackOptions::default())
            .await
            .expect("registers");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let store = Arc::clone(tracker.store());
        let waiting = call.clone();
        tokio::spawn(async move {
            let got = store.wait_outcome(&waiting, unix_ms() + 30_000).await;
            let _ = tx.send((Instant::now(), got.is_ok()));
        });
        // Let the waiter park (not measured).
        tokio::time::sleep(Duration::from_millis(2)).await;
        let arrived = Instant::now();
        tracker
            .apply(&completed(&call), None)
            .await
            .expect("applies");
        let (woke, ok) = rx.await.expect("the waiter answers");
        assert!(ok, "the waiter saw the outcome");
        out.push(woke.duration_since(arrived).as_secs_f64() * 1e6);
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Notifications per second one instance records: `TRANSFERS` transfers registered beforehand,
/// four notifications each (transferring, transferAccepted, the completion, a redelivery of it),
/// `CONCURRENCY` callbacks in flight.
async fn throughput(tracker: &SharedTracker) -> f64 {
    for i in 0..TRANSFERS {
        tracker
            .register(&format!("rate-{i}"), &TrackOptions::default())
            .await
            .expect("registers");
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let tracker = tracker.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            for i in (worker..TRANSFERS).step_by(CONCURRENCY) {
                let call = format!("rate-{i}");
                for e in [
                    event(&call, CallState::Transferring, EventKind::Transferring),
                    event(
                        &call,
                        CallState::TransferAccepted,
                        EventKind::TransferAccepted,
                    ),
                    completed(&call),
                    completed(&call),
                ] {
                    tracker.apply(&e, None).await.expect("records");
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("worker");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    // Criterion's flags (`--warm-up-time`, ...) are accepted and ignored.
    let Some(server) = RedisServer::start() else {
        println!("shared store: skipped (no redis-server)");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let config = TrackerConfig::default();
        let memory: Arc<dyn SharedStore> = Arc::new(MemorySharedStore::new());
        let memory = SharedTracker::new(memory, config.clone());
        let redis: Arc<dyn SharedStore> =
            Arc::new(RedisStore::connect(&server.url()).await.expect("connects"));
        let redis = SharedTracker::new(redis, config);
        let mem = wakeups(&memory, "m").await;
        let red = wakeups(&redis, "r").await;
        let (m50, m99) = (percentile(&mem, 0.5), percentile(&mem, 0.99));
        let (r50, r99) = (percentile(&red, 0.5), percentile(&red, 0.99));
        println!(
            "shared store wake-up, memory: p50 {m50:.1} µs, p99 {m99:.1} µs ({WAKEUPS} transfers)"
        );
        println!(
            "shared store wake-up, redis: p50 {r50:.1} µs, p99 {r99:.1} µs ({WAKEUPS} transfers)"
        );
        println!(
            "shared store wake-up added by redis: p50 {:.1} µs, p99 {:.1} µs",
            r50 - m50,
            r99 - m99
        );
        let rate = throughput(&redis).await;
        println!(
            "shared store recording into redis: {rate:.0} notifications/s ({TRANSFERS} transfers \
             × 4 notifications, {CONCURRENCY} in flight, one instance)"
        );
    });
}
