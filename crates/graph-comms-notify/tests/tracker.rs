//! Tracker scenarios, one per rule of the issue, under tokio's paused clock.
//!
//! Every case runs twice: over the in-memory store, and over a store that keeps each record as
//! JSON (as a store shared by several instances would), so records are proven plain data.

mod common;

/// The cases, instantiated once per store; `new_tracker` is the store's tracker constructor.
macro_rules! cases {
    () => {
        use std::time::Duration;

        use crate::common::*;
        use graph_comms_notify::{
            Applied, Error, TrackOptions, TrackerConfig, TransferOutcome, TransferProgress,
            TransferTracker,
        };

        const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";

        async fn steps(handle: &graph_comms_notify::TransferHandle) -> Vec<TransferProgress> {
            let mut stream = handle.progress();
            let mut out = Vec::new();
            for _ in 0..16 {
                match stream.next().await {
                    Some(step) => out.push(step),
                    None => return out,
                }
            }
            panic!("progress stream did not end: {out:?}");
        }

        #[tokio::test(start_paused = true)]
        async fn registered_first_the_flow_resolves_and_reports_progress() {
            let tracker = new_tracker(TrackerConfig::default());
            let handle = tracker.track(CALL).expect("tracks");
            assert_eq!(tracker.apply(&transferring(CALL)), Applied::Progress);
            assert_eq!(tracker.apply(&accepted(CALL)), Applied::Progress);
            assert_eq!(tracker.apply(&completed(CALL)), Applied::Resolved);
            assert_eq!(
                steps(&handle).await,
                [
                    TransferProgress::Transferring,
                    TransferProgress::TransferAccepted,
                    TransferProgress::Finished(done_7015()),
                ]
            );
            assert_eq!(handle.await, done_7015());
            let stats = tracker.stats();
            assert_eq!((stats.open, stats.completed, stats.progressed), (0, 1, 2));
        }

        #[tokio::test(start_paused = true)]
        async fn notifications_before_track_are_buffered_and_replayed() {
            let tracker = new_tracker(TrackerConfig::default());
            assert_eq!(tracker.apply(&transferring(CALL)), Applied::Buffered);
            assert_eq!(tracker.apply(&failed(CALL, 7000)), Applied::Buffered);
            assert_eq!(tracker.stats().buffered_events, 2);
            tokio::time::advance(Duration::from_secs(5)).await;
            let handle = tracker.track(CALL).expect("tracks");
            assert_eq!(tracker.stats().buffered_events, 0);
            let outcome = handle.await;
            assert!(
                matches!(
                    outcome,
                    TransferOutcome::Failed {
                        code: Some(500),
                        subcode: Some(7000),
                        ..
                    }
                ),
                "{outcome:?}"
            );
            assert!(outcome.explanation().is_some());
        }

        #[tokio::test(start_paused = true)]
        async fn buffered_notifications_expire_and_are_counted() {
            let tracker =
                new_tracker(TrackerConfig::default().with_early_buffer(Duration::from_secs(10)));
            tracker.apply(&transferring(CALL));
            tracker.apply(&completed(CALL));
            tokio::time::advance(Duration::from_secs(11)).await;
            tracker.sweep();
            let stats = tracker.stats();
            assert_eq!((stats.buffered_calls, stats.untracked), (0, 2));
            let handle = tracker
                .track_with(
                    CALL,
                    TrackOptions::default().with_timeout(Duration::from_secs(30)),
                )
                .expect("tracks");
            assert_eq!(handle.outcome(), None, "expired events are not replayed");
            assert_eq!(handle.await, TransferOutcome::TimedOut);
        }

        #[tokio::test(start_paused = true)]
        async fn accepted_before_transferring_or_no_accepted_at_all() {
            let tracker = new_tracker(TrackerConfig::default());
            let handle = tracker.track(CALL).expect("tracks");
            assert_eq!(tracker.apply(&accepted(CALL)), Applied::Progress);
            assert_eq!(
                tracker.apply(&transferring(CALL)),
                Applied::Duplicate,
                "progress only moves forward"
            );
            tracker.apply(&app_transferred(CALL));
            assert_eq!(
                steps(&handle).await,
                [
                    TransferProgress::TransferAccepted,
                    TransferProgress::Finished(done_app()),
                ]
            );
            assert_eq!(handle.await, done_app());

            let handle = tracker.track("other-call").expect("tracks");
            tracker.apply(&transferring("other-call"));
            tracker.apply(&completed("other-call"));
            assert_eq!(handle.await, done_7015());
        }

        #[tokio::test(start_paused = true)]
        async fn duplicates_change_nothing() {
            let tracker = new_tracker(TrackerConfig::default());
            let handle = tracker.track(CALL).expect("tracks");
            for event in [
                transferring(CALL),
                transferring(CALL),
                accepted(CALL),
                accepted(CALL),
            ] {
                tracker.apply(&event);
            }
            assert_eq!(tracker.apply(&failed(CALL, 7000)), Applied::Resolved);
            assert_eq!(tracker.apply(&failed(CALL, 7000)), Applied::Late);
            assert_eq!(tracker.apply(&completed(CALL)), Applied::Late);
            assert!(matches!(handle.await, TransferOutcome::Failed { .. }));
            let stats = tracker.stats();
            assert_eq!(
                (stats.duplicates, stats.late, stats.failed, stats.completed),
                (2, 2, 1, 0)
            );
        }

        #[tokio::test(start_paused = true)]
        async fn one_transfer_per_call_and_old_events_never_resolve_the_next() {
            let tracker = new_tracker(TrackerConfig::default());
            let first = tracker.track(CALL).expect("tracks");
            assert_eq!(
                tracker.track(CALL).map(|_| ()),
                Err(Error::AlreadyTracking {
                    call_id: CALL.into()
                })
            );
            tracker.apply(&transferring(CALL));
            tracker.apply(&failed(CALL, 7000));
            assert!(matches!(first.await, TransferOutcome::Failed { .. }));

            // The call is established again: a second attempt.
            let second = tracker
                .track(CALL)
                .expect("a new attempt after the first ended");
            // Graph retries the first attempt's deliveries.
            assert_eq!(tracker.apply(&failed(CALL, 7000)), Applied::Late);
            assert_eq!(second.outcome(), None);
            // The second attempt's own flow.
            assert_eq!(tracker.apply(&transferring(CALL)), Applied::Progress);
            assert_eq!(tracker.apply(&failed(CALL, 7000)), Applied::Resolved);
            assert!(matches!(second.await, TransferOutcome::Failed { .. }));

            // A different final event is not a retry of the old one.
            let third = tracker.track(CALL).expect("a third attempt");
            assert_eq!(tracker.apply(&completed(CALL)), Applied::Resolved);
            assert_eq!(third.await, done_7015());
        }

        #[tokio::test(start_paused = true)]
        async fn late_events_for_an_ended_transfer_are_dropped_not_buffered() {
            let tracker = new_tracker(TrackerConfig::default());
            let handle = tracker.track(CALL).expect("tracks");
            tracker.apply(&completed(CALL));
            assert_eq!(handle.await, done_7015());
            assert_eq!(tracker.apply(&accepted(CALL)), Applied::Late);
            assert_eq!(tracker.stats().buffered_events, 0);
        }

        #[tokio::test(start_paused = true)]
        async fn consultative_transfer_reports_the_consultation_call_end() {
            let tracker = new_tracker(TrackerConfig::default());
            let consult = "e5d39592-99bd-4db8-bca8-30fb894ec51d";
            let handle = tracker
                .track_with(CALL, TrackOptions::consultative(consult))
                .expect("tracks");
            assert_eq!(
                tracker.track(consult).map(|_| ()),
                Err(Error::AlreadyTracking {
                    call_id: consult.into()
                })
            );
            tracker.apply(&transferring(CALL));
            tracker.apply(&app_transferred(CALL));
            assert_eq!(handle.outcome(), Some(done_app()));
            assert_eq!(
                tracker.stats().open,
                1,
                "waits for the consultation call's end"
            );
            assert_eq!(tracker.apply(&roster(consult)), Applied::Ignored);
            assert_eq!(
                tracker.apply(&app_transferred(consult)),
                Applied::ConsultationEnded
            );
            assert_eq!(
                steps(&handle).await,
                [
                    TransferProgress::Transferring,
                    TransferProgress::Finished(done_app()),
                    TransferProgress::ConsultationEnded {
                        call_id: consult.into(),
                        termination_reason: Some("AppTransferred".into()),
                    },
                ]
            );
            assert_eq!(tracker.stats().open, 0);
            assert_eq!(handle.await, done_app());
        }

        #[tokio::test(start_paused = true)]
        async fn consultation_end_before_the_outcome_and_buffered_before_track() {
            let tracker = new_tracker(TrackerConfig::default());
            let consult = "consult-1";
            assert_eq!(tracker.apply(&app_transferred(consult)), Applied::Buffered);
            let handle = tracker
                .track_with(CALL, TrackOptions::consultative(consult))
                .expect("tracks");
            tracker.apply(&completed(CALL));
            assert_eq!(tracker.stats().open, 0);
            assert_eq!(
                steps(&handle).await,
                [
                    TransferProgress::ConsultationEnded {
                        call_id: consult.into(),
                        termination_reason: Some("AppTransferred".into()),
                    },
                    TransferProgress::Finished(done_7015()),
                ]
            );
        }

        #[tokio::test(start_paused = true)]
        async fn untracked_calls_are_counted_and_dropped() {
            let tracker = new_tracker(TrackerConfig::default());
            assert_eq!(tracker.apply(&roster("nobody")), Applied::Untracked);
            let mut no_call = roster("x");
            no_call.call_id = None;
            assert_eq!(tracker.apply(&no_call), Applied::Ignored);
            assert_eq!(tracker.apply(&completed("nobody")), Applied::Buffered);
            tokio::time::advance(Duration::from_secs(60)).await;
            tracker.sweep();
            let stats = tracker.stats();
            assert_eq!(
                (
                    stats.untracked,
                    stats.ignored,
                    stats.buffered_calls,
                    stats.open
                ),
                (2, 1, 0, 0)
            );
        }

        #[tokio::test(start_paused = true)]
        async fn no_final_notification_in_time_is_timed_out() {
            let tracker =
                new_tracker(TrackerConfig::default().with_timeout(Duration::from_secs(45)));
            let handle = tracker.track(CALL).expect("tracks");
            tracker.apply(&transferring(CALL));
            let started = tokio::time::Instant::now();
            assert_eq!(handle.await, TransferOutcome::TimedOut);
            assert_eq!(started.elapsed(), Duration::from_secs(45));
            let stats = tracker.stats();
            assert_eq!((stats.open, stats.timed_out), (0, 1));
            assert_eq!(
                tracker.apply(&completed(CALL)),
                Applied::LateResult,
                "a final result after the deadline is the timed-out transfer's late outcome"
            );
            assert_eq!(tracker.stats().late_results, 1);
        }

        /// The progress stream ends at the deadline on its own: a UI following only the stream sees
        /// `Finished(TimedOut)` without awaiting the handle.
        #[tokio::test(start_paused = true)]
        async fn the_progress_stream_finishes_at_the_deadline() {
            let tracker =
                new_tracker(TrackerConfig::default().with_timeout(Duration::from_secs(45)));
            let handle = tracker.track(CALL).expect("tracks");
            let mut stream = handle.progress();
            tracker.apply(&transferring(CALL));
            let started = tokio::time::Instant::now();
            assert_eq!(stream.next().await, Some(TransferProgress::Transferring));
            assert_eq!(
                stream.next().await,
                Some(TransferProgress::Finished(TransferOutcome::TimedOut))
            );
            assert_eq!(started.elapsed(), Duration::from_secs(45));
            assert_eq!(handle.outcome(), Some(TransferOutcome::TimedOut));
            assert_eq!(handle.await, TransferOutcome::TimedOut);
            assert_eq!(tracker.stats().timed_out, 1, "timed out once, not twice");
        }

        #[tokio::test(start_paused = true)]
        async fn timeouts_resolve_even_when_the_handle_is_not_polled() {
            let tracker = new_tracker(TrackerConfig::default());
            let handle = tracker
                .track_with(
                    CALL,
                    TrackOptions::default().with_timeout(Duration::from_secs(5)),
                )
                .expect("tracks");
            tokio::time::advance(Duration::from_secs(6)).await;
            tracker.apply(&roster("elsewhere"));
            assert_eq!(handle.outcome(), Some(TransferOutcome::TimedOut));
            assert_eq!(tracker.stats().open, 0);
        }

        #[tokio::test(start_paused = true)]
        async fn the_call_ending_without_a_transfer_code_is_call_ended() {
            let tracker = new_tracker(TrackerConfig::default());
            let handle = tracker.track(CALL).expect("tracks");
            tracker.apply(&transferring(CALL));
            tracker.apply(&hung_up(CALL));
            let outcome = handle.await;
            assert_eq!(
                outcome,
                TransferOutcome::CallEnded {
                    code: Some(200),
                    subcode: Some(5001),
                    message: Some("The conversation has ended.".into()),
                    termination_reason: None,
                    inferred: false,
                    late: false,
                }
            );
            assert_eq!(tracker.stats().call_ended, 1);
            assert!(outcome.to_string().starts_with("call ended"));
        }

        #[tokio::test(start_paused = true)]
        async fn memory_is_bounded() {
            let mut config = TrackerConfig::default();
            config.max_buffered_calls = 100;
            config.max_recent = 50;
            let tracker = new_tracker(config.with_max_open(1000));
            // Abandoned handles are removed.
            drop(tracker.track("abandoned").expect("tracks"));
            assert_eq!((tracker.stats().open, tracker.stats().abandoned), (0, 1));
            // Buffers are capped.
            for i in 0..1000 {
                tracker.apply(&completed(&format!("early-{i}")));
            }
            assert!(tracker.stats().buffered_calls <= 100);
            // Ended transfers are removed; the memory of recent calls is capped.
            for i in 0..500 {
                let call = format!("call-{i}");
                let handle = tracker.track(call.as_str()).expect("tracks");
                tracker.apply(&completed(&call));
                assert_eq!(handle.await, done_7015());
            }
            let stats = tracker.stats();
            assert_eq!(stats.open, 0);
            assert!(stats.recent <= 50, "{stats:?}");
            // The open limit is enforced.
            let handles: Vec<_> = (0..1000)
                .map(|i| tracker.track(format!("open-{i}")).expect("tracks"))
                .collect();
            assert_eq!(
                tracker.track("one-too-many").map(|_| ()),
                Err(Error::TrackerFull { limit: 1000 })
            );
            drop(handles);
            assert_eq!(tracker.stats().open, 0);
        }

        #[test]
        fn empty_call_ids_are_rejected() {
            let tracker = new_tracker(TrackerConfig::default());
            assert_eq!(tracker.track("").map(|_| ()), Err(Error::EmptyCallId));
        }

        /// A store that counts its calls, delegating to the in-memory one.
        #[derive(Debug, Default)]
        struct CountingStore {
            inner: graph_comms_notify::MemoryStore,
            inserts: usize,
            updates: usize,
            removes: usize,
        }

        impl graph_comms_notify::TransferStore for CountingStore {
            fn insert(
                &mut self,
                record: graph_comms_notify::TransferRecord,
            ) -> graph_comms_notify::Result<()> {
                self.inserts += 1;
                self.inner.insert(record)
            }
            fn update(
                &mut self,
                call_id: &str,
                change: &mut dyn FnMut(
                    graph_comms_notify::CallRole,
                    &mut graph_comms_notify::TransferRecord,
                ),
            ) -> bool {
                self.updates += 1;
                self.inner.update(call_id, change)
            }
            fn read(
                &self,
                call_id: &str,
                read: &mut dyn FnMut(&graph_comms_notify::TransferRecord),
            ) -> bool {
                self.inner.read(call_id, read)
            }
            fn remove(
                &mut self,
                call_id: &str,
                attempt: u64,
            ) -> Option<graph_comms_notify::TransferRecord> {
                let removed = self.inner.remove(call_id, attempt);
                self.removes += usize::from(removed.is_some());
                removed
            }
            fn len(&self) -> usize {
                self.inner.len()
            }
        }

        #[tokio::test(start_paused = true)]
        async fn a_custom_store_backs_the_tracker() {
            let tracker =
                TransferTracker::with_store(TrackerConfig::default(), CountingStore::default());
            let handle = tracker.track(CALL).expect("tracks");
            tracker.apply(&transferring(CALL));
            tracker.apply(&completed(CALL));
            assert_eq!(handle.await, done_7015());
            assert_eq!(tracker.stats().open, 0);
            assert!(format!("{tracker:?}").contains("TransferTracker"));
        }

        #[tokio::test(start_paused = true)]
        async fn huge_durations_do_not_overflow() {
            let config = TrackerConfig::default()
                .with_timeout(Duration::MAX)
                .with_early_buffer(Duration::MAX)
                .with_late_window(Duration::MAX);
            let tracker = new_tracker(config);
            tracker.apply(&transferring("early"));
            let handle = tracker.track(CALL).expect("tracks");
            tracker.apply(&completed(CALL));
            assert_eq!(handle.await, done_7015());
            let never = tracker
                .track_with("other", TrackOptions::default().with_timeout(Duration::MAX))
                .expect("tracks");
            tokio::time::advance(Duration::from_secs(365 * 24 * 60 * 60)).await;
            assert_eq!(never.outcome(), None);
        }

        #[test]
        fn tracker_handles_and_streams_can_cross_threads() {
            fn send_sync<T: Send + Sync + 'static>() {}
            fn send<T: Send + 'static>() {}
            send_sync::<TransferTracker>();
            send::<graph_comms_notify::TransferHandle>();
            send::<graph_comms_notify::ProgressStream>();
            send_sync::<graph_comms_notify::NotificationEvent>();
            send_sync::<TransferOutcome>();
            send_sync::<Error>();
        }
    };
}

/// The cases over the in-memory store.
mod memory {
    use crate::common::memory_tracker as new_tracker;
    cases!();
}

/// The cases over a store that serializes every record through JSON.
mod json {
    use crate::common::json_tracker as new_tracker;
    cases!();
}

/// What a record holds, as a shared store would see it: plain JSON with the transfer's tenant,
/// its consultation call, whether it was followed, a Unix-time deadline, and, once it timed out,
/// the remembered `TimedOut` with the end of its late-result window.
#[tokio::test(start_paused = true)]
async fn records_are_plain_data_that_carry_tenant_deadline_and_late_result() {
    use common::{completed, transferring};
    use graph_comms_notify::{TrackOptions, TrackerConfig, TransferOutcome, TransferTracker};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
    const TENANT: &str = "AAAABBBB-0000-4000-8000-000000000001";
    let (store, view) = common::JsonStore::with_view();
    let config = TrackerConfig::default()
        .with_timeout(Duration::from_secs(30))
        .with_late_result_window(Duration::from_secs(60));
    let tracker = TransferTracker::with_store(config, store);
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    let mut options = TrackOptions::consultative("consult-1").with_tenant(TENANT);
    options.followed = true;
    let handle = tracker.track_with(CALL, options).expect("tracks");
    let record = |view: &common::JsonView| -> serde_json::Value {
        let json = view
            .lock()
            .expect("view")
            .get(CALL)
            .cloned()
            .expect("stored");
        serde_json::from_str(&json).expect("a record is JSON")
    };
    let open = record(&view);
    assert_eq!(open["callId"], CALL);
    assert_eq!(open["replacesCallId"], "consult-1");
    assert_eq!(open["tenantId"], TENANT.to_lowercase());
    assert_eq!(open["followed"], true);
    assert_eq!(open["outcome"], serde_json::Value::Null);
    let deadline = u128::from(open["deadline"].as_u64().expect("a Unix-time deadline"));
    assert!(
        deadline >= before + 30_000 && deadline < before + 90_000,
        "deadline {deadline} is not about 30 s after {before}"
    );

    assert_eq!(
        tracker.apply_for_tenant(&transferring(CALL), Some(TENANT)),
        graph_comms_notify::Applied::Progress
    );
    assert_eq!(record(&view)["seenTransferring"], true);

    assert_eq!(handle.await, TransferOutcome::TimedOut);
    let remembered = record(&view);
    assert_eq!(remembered["outcome"], "TimedOut");
    let late_until = remembered["lateUntil"]
        .as_u64()
        .expect("remembered for a late result");
    assert!(u128::from(late_until) >= deadline + 60_000);

    // The record is what the tracker works from: a late result resolves from it alone.
    assert_eq!(
        tracker.apply_for_tenant(&completed(CALL), Some(TENANT)),
        graph_comms_notify::Applied::LateResult
    );
    assert!(
        view.lock().expect("view").get(CALL).is_none(),
        "a late result ends the record"
    );
}
