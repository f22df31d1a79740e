//! Criterion benchmarks: decode + classify against serde_json's validate-only pass and its
//! `Value`, and the tracker with 100 000 open transfers (memory measured from the process RSS).
//!
//! Run: `cargo bench -p graph-comms-notify --bench notify -- --warm-up-time 1 --measurement-time 3`
//!
//! After criterion, late results are measured as a paired ratio (both sides in alternating
//! batches, the median of per-batch ratios; see `graph_comms_testkit::paired_ratio`): a transfer
//! tracked, timed out and then given its final result (`Applied::LateResult`) against a transfer
//! tracked and given its final in time (`Applied::Resolved`), beside 100 000 open transfers.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use graph_comms_model::routing;
use graph_comms_model::CommsNotifications;
use graph_comms_notify::{
    classify, decode, Applied, NotificationEvent, TrackOptions, TrackerConfig, TransferHandle,
    TransferTracker,
};
use serde::de::IgnoredAny;

const TRANSFER_FAILED: &str = r##"{
  "@odata.type": "#microsoft.graph.commsNotifications",
  "value": [
    {
      "@odata.type": "#microsoft.graph.commsNotification",
      "changeType": "updated",
      "resourceUrl": "/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b",
      "resourceData": {
        "@odata.type": "#microsoft.graph.call",
        "state": "established",
        "resultInfo": {
          "@odata.type": "#microsoft.graph.resultInfo",
          "code": 500,
          "subCode": 7700,
          "message": "<message>"
        },
        "replacesContext": "<replacesContext>"
      }
    }
  ]
}"##;

const TRANSFERRING: &str = r##"{
  "@odata.type": "#microsoft.graph.commsNotifications",
  "value": [
    {
      "@odata.type": "#microsoft.graph.commsNotification",
      "changeType": "updated",
      "resourceUrl": "/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b",
      "resourceData": {
        "@odata.type": "#microsoft.graph.call",
        "state": "transferring"
      }
    }
  ]
}"##;

const ROSTER: &str = r##"{
  "@odata.type": "#microsoft.graph.commsNotifications",
  "value": [
    {
      "@odata.type": "#microsoft.graph.commsNotification",
      "changeType": "updated",
      "resourceUrl": "/communications/calls/421f4c00-4436-4c3a-9d9a-c4924cf98e67/participants",
      "resourceData": [
        {
          "@odata.type": "#microsoft.graph.participant",
          "id": "0d1d5a45-1c1a-4c39-a5e4-a1e4b1e6b4b2",
          "info": {
            "@odata.type": "#microsoft.graph.participantInfo",
            "identity": {
              "@odata.type": "#microsoft.graph.identitySet",
              "user": {
                "@odata.type": "#microsoft.graph.identity",
                "displayName": "John",
                "id": "550fae72-d251-43ec-868c-373732c2704f"
              }
            },
            "languageId": "en-US"
          },
          "mediaStreams": [
            {
              "@odata.type": "#microsoft.graph.mediaStream",
              "mediaType": "audio",
              "sourceId": "1",
              "direction": "sendReceive",
              "serverMuted": false
            }
          ],
          "isMuted": false,
          "isInLobby": false
        }
      ]
    }
  ]
}"##;

/// The serde floor: a derived struct that reads only `changeType` and `resourceUrl` of each
/// notification and skips `resourceData` with `IgnoredAny`.
#[derive(serde::Deserialize)]
struct TwoFields<'a> {
    #[serde(rename = "value", borrow)]
    _value: Vec<TwoFieldsItem<'a>>,
}

#[derive(serde::Deserialize)]
struct TwoFieldsItem<'a> {
    #[serde(rename = "changeType", borrow)]
    _change_type: Option<&'a str>,
    #[serde(rename = "resourceUrl", borrow)]
    _resource_url: Option<&'a str>,
    #[serde(rename = "resourceData")]
    _resource_data: Option<IgnoredAny>,
}

fn decode_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("notify_decode");
    for (name, body) in [
        ("transfer-failed", TRANSFER_FAILED),
        ("transferring", TRANSFERRING),
        ("roster", ROSTER),
    ] {
        let bytes = body.as_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("ignored_any", name), bytes, |b, bytes| {
            b.iter(|| serde_json::from_slice::<IgnoredAny>(black_box(bytes)))
        });
        group.bench_with_input(
            BenchmarkId::new("routing_classify", name),
            bytes,
            |b, bytes| {
                b.iter(|| {
                    let batch = routing::from_slice(black_box(bytes)).expect("decodes");
                    let mut kinds = 0usize;
                    for n in batch.notifications() {
                        kinds += classify(n).is_final() as usize;
                        black_box(n.call_id());
                    }
                    kinds
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("routing_only", name), bytes, |b, bytes| {
            b.iter(|| routing::from_slice(black_box(bytes)).expect("decodes"))
        });
        group.bench_with_input(
            BenchmarkId::new("derive_two_fields", name),
            bytes,
            |b, bytes| {
                b.iter(|| {
                    serde_json::from_slice::<TwoFields<'_>>(black_box(bytes)).expect("decodes")
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("decode_events", name),
            bytes,
            |b, bytes| b.iter(|| decode(black_box(bytes)).expect("decodes")),
        );
        group.bench_with_input(BenchmarkId::new("value", name), bytes, |b, bytes| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(bytes)))
        });
        group.bench_with_input(BenchmarkId::new("model", name), bytes, |b, bytes| {
            b.iter(|| serde_json::from_slice::<CommsNotifications>(black_box(bytes)))
        });
    }
    group.finish();
}

fn event(call: &str, body: &str) -> NotificationEvent {
    let body = body.replace("341a0500-d4bf-4224-8b19-1581168d328b", call);
    decode(body.as_bytes()).expect("decodes").remove(0)
}

const OPEN: usize = 100_000;

/// A tracker with `OPEN` open transfers, their handles, and one `transferring` event per call.
fn loaded() -> (TransferTracker, Vec<TransferHandle>, Vec<NotificationEvent>) {
    let tracker =
        TransferTracker::new(TrackerConfig::default().with_timeout(Duration::from_secs(3600)));
    let calls: Vec<String> = (0..OPEN).map(|i| format!("call-{i:08}")).collect();
    let handles = calls
        .iter()
        .map(|c| tracker.track(c.as_str()).expect("tracks"))
        .collect();
    let events = calls.iter().map(|c| event(c, TRANSFERRING)).collect();
    (tracker, handles, events)
}

fn tracker_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("notify_tracker");
    let (tracker, handles, events) = loaded();
    let mut i = 0usize;
    group.bench_function("apply_with_100k_open", |b| {
        b.iter(|| {
            i = (i + 1) % events.len();
            tracker.apply(black_box(&events[i]))
        })
    });
    let hot = &events[7];
    group.bench_function("apply_same_call_with_100k_open", |b| {
        b.iter(|| tracker.apply(black_box(hot)))
    });
    let roster = event("call-00000007", ROSTER);
    group.bench_function("apply_roster_with_100k_open", |b| {
        b.iter(|| tracker.apply(black_box(&roster)))
    });
    let completed_body = TRANSFER_FAILED;
    let mut n = 0u64;
    group.bench_function("track_apply_final_with_100k_open", |b| {
        b.iter_batched(
            || {
                n += 1;
                let call = format!("cycle-{n}");
                let e = event(&call, completed_body);
                (call, e)
            },
            |(call, e)| {
                let handle = tracker.track(call).expect("tracks");
                tracker.apply(&e);
                handle.outcome()
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
    drop(handles);
}

/// Resident memory of this process in KiB (Linux), or `None` elsewhere.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Prints the memory 100 000 open transfers (tracker entries plus their handles) take.
fn memory_report() {
    let Some(before) = rss_kib() else {
        println!("notify_tracker/memory: /proc/self/status not available");
        return;
    };
    let tracker =
        TransferTracker::new(TrackerConfig::default().with_timeout(Duration::from_secs(3600)));
    let handles: Vec<TransferHandle> = (0..OPEN)
        .map(|i| tracker.track(format!("call-{i:08}")).expect("tracks"))
        .collect();
    let after = rss_kib().unwrap_or(before);
    let kib = after.saturating_sub(before);
    println!(
        "notify_tracker/memory: {OPEN} open transfers: RSS +{kib} KiB ({:.1} MiB, {} bytes per transfer)",
        kib as f64 / 1024.0,
        kib * 1024 / OPEN as u64
    );
    drop(handles);
    drop(tracker);
}

criterion_group!(benches, decode_benches, tracker_benches);

/// A final result that arrives after its transfer timed out, against one that arrives in time.
fn late_results() {
    let (batches, batch) = if std::env::args().any(|a| a == "--bench") {
        (501, Duration::from_millis(1))
    } else {
        (3, Duration::from_micros(200))
    };
    let (tracker, handles, _) = loaded();
    // Calls are reused after POOL cycles: by then the earlier transfer of each has ended.
    const POOL: usize = 4096;
    let finals = |side: &str| -> Vec<(String, NotificationEvent)> {
        (0..POOL)
            .map(|i| {
                let call = format!("{side}-{i:08}");
                let e = event(&call, TRANSFER_FAILED);
                (call, e)
            })
            .collect()
    };
    let (late, on_time) = (finals("late"), finals("on-time"));
    let timed_out = TrackOptions::default().with_timeout(Duration::ZERO);
    let cycle = |(call, e): &(String, NotificationEvent), options: &TrackOptions| {
        let handle = tracker
            .track_with(call.as_str(), options.clone())
            .expect("tracks");
        let applied = tracker.apply(e);
        drop(handle);
        applied
    };
    // Both sides do what they are named for.
    assert_eq!(cycle(&late[0], &timed_out), Applied::LateResult);
    assert_eq!(
        cycle(&on_time[0], &TrackOptions::default()),
        Applied::Resolved
    );
    let (mut i, mut j) = (1usize, 1usize);
    graph_comms_testkit::paired_ratio(
        "notify_tracker/late_result_with_100k_open",
        batches,
        batch,
        || {
            i = (i + 1) % POOL;
            black_box(cycle(&late[i], &timed_out));
        },
        || {
            j = (j + 1) % POOL;
            black_box(cycle(&on_time[j], &TrackOptions::default()));
        },
    );
    drop(handles);
}

fn main() {
    memory_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
    late_results();
}
