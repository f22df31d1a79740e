//! Fuzz target: any bytes through the notification decoders, the classifier and the tracker.
//!
//! Checks, besides "no panic": the routing decode and the lossless model agree on which bodies
//! are JSON objects, and a body the lossless model reads survives a round trip unchanged.
#![no_main]

use graph_comms_model::CommsNotifications;
use graph_comms_notify::{decode, TrackerConfig, TransferTracker};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let events = decode(data);
    if let Ok(events) = &events {
        let tracker = TransferTracker::new(TrackerConfig::default());
        for e in events {
            if let Some(id) = e.call_id.as_deref() {
                let _ = tracker.track(id);
            }
            let _ = e.to_json_line();
            let _ = e.explanation();
        }
        for e in events {
            let _ = tracker.apply(e);
        }
        let _ = tracker.stats();
    }
    if let Ok(batch) = serde_json::from_slice::<CommsNotifications>(data) {
        let written = serde_json::to_vec(&batch).expect("a decoded batch serializes");
        let again: CommsNotifications =
            serde_json::from_slice(&written).expect("what the model writes, it reads");
        assert_eq!(again, batch, "round trip changed the batch");
    }
});
