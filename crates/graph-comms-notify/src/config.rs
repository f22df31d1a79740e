//! Settings of the tracker ([`TrackerConfig`]) and of one tracked transfer ([`TrackOptions`]).

use std::time::Duration;

#[cfg(doc)]
use crate::{Applied, TransferOutcome, TransferProgress, TransferTracker};

/// Settings of a [`TransferTracker`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackerConfig {
    /// How long a transfer may wait for a final notification before it resolves as
    /// [`TransferOutcome::TimedOut`]. Default 120 s.
    pub timeout: Duration,
    /// How long transfer events for a call nobody tracks yet are kept, in case `track` follows
    /// (the first notification can beat the `202` to the caller). Default 10 s; zero disables it.
    pub early_buffer: Duration,
    /// At most this many calls have buffered events (the oldest is dropped). Default 10 000.
    pub max_buffered_calls: usize,
    /// At most this many events are buffered per call. Default 8.
    pub max_buffered_per_call: usize,
    /// After a transfer ends, events for its call within this window are late deliveries of it
    /// (dropped) unless a new transfer is tracked; and an event identical to its final event,
    /// arriving in this window before the new transfer saw progress of its own, is a retried
    /// delivery, not the new transfer's end. Default 60 s.
    pub late_window: Duration,
    /// At most this many recently ended calls are remembered. Default 100 000.
    pub max_recent: usize,
    /// At most this many transfers are open at once. Default 1 000 000.
    pub max_open: usize,
    /// A transfer that timed out is remembered this long, so that a final notification arriving
    /// later is reported as the late outcome of that same transfer
    /// ([`TransferProgress::Late`]), never as a new one. Default 10 minutes; zero disables it.
    pub late_result_window: Duration,
    /// At most this many timed-out transfers are remembered (the oldest is forgotten first).
    /// Default 10 000.
    pub max_remembered: usize,
    /// At most this many transfers followed on the tracker's own initiative
    /// ([`TrackOptions::followed`]) are open at once; past it the oldest of them is timed out.
    /// Default 10 000.
    pub max_followed: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            timeout: Duration::from_secs(120),
            early_buffer: Duration::from_secs(10),
            max_buffered_calls: 10_000,
            max_buffered_per_call: 8,
            late_window: Duration::from_secs(60),
            max_recent: 100_000,
            max_open: 1_000_000,
            late_result_window: Duration::from_secs(600),
            max_remembered: 10_000,
            max_followed: 10_000,
        }
    }
}

impl TrackerConfig {
    /// Sets [`timeout`](TrackerConfig::timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`early_buffer`](TrackerConfig::early_buffer).
    pub fn with_early_buffer(mut self, early_buffer: Duration) -> Self {
        self.early_buffer = early_buffer;
        self
    }

    /// Sets [`late_window`](TrackerConfig::late_window).
    pub fn with_late_window(mut self, late_window: Duration) -> Self {
        self.late_window = late_window;
        self
    }

    /// Sets [`max_open`](TrackerConfig::max_open).
    pub fn with_max_open(mut self, max_open: usize) -> Self {
        self.max_open = max_open;
        self
    }

    /// Sets [`late_result_window`](TrackerConfig::late_result_window).
    pub fn with_late_result_window(mut self, window: Duration) -> Self {
        self.late_result_window = window;
        self
    }

    /// Sets [`max_followed`](TrackerConfig::max_followed).
    pub fn with_max_followed(mut self, max_followed: usize) -> Self {
        self.max_followed = max_followed;
        self
    }

    /// Sets [`max_buffered_calls`](TrackerConfig::max_buffered_calls).
    pub fn with_max_buffered_calls(mut self, max_buffered_calls: usize) -> Self {
        self.max_buffered_calls = max_buffered_calls;
        self
    }

    /// Sets [`max_buffered_per_call`](TrackerConfig::max_buffered_per_call).
    pub fn with_max_buffered_per_call(mut self, max_buffered_per_call: usize) -> Self {
        self.max_buffered_per_call = max_buffered_per_call;
        self
    }

    /// Sets [`max_recent`](TrackerConfig::max_recent).
    pub fn with_max_recent(mut self, max_recent: usize) -> Self {
        self.max_recent = max_recent;
        self
    }

    /// Sets [`max_remembered`](TrackerConfig::max_remembered).
    pub fn with_max_remembered(mut self, max_remembered: usize) -> Self {
        self.max_remembered = max_remembered;
        self
    }
}

/// Options of one [`TransferTracker::track_with`] call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackOptions {
    /// For a consultative transfer, the consultation call's id (the request's `replacesCallId`):
    /// its end is reported on the handle's progress stream.
    pub replaces_call_id: Option<String>,
    /// A timeout for this transfer instead of [`TrackerConfig::timeout`].
    pub timeout: Option<Duration>,
    /// The tenant the call belongs to (a `tid`). Notifications authenticated for another tenant
    /// are not applied to this transfer ([`Applied::OtherTenant`]). Without it, the transfer
    /// belongs to the tenant of the first authenticated notification applied to it.
    pub tenant_id: Option<String>,
    /// The tracker follows this transfer on its own initiative (a listener that saw a transfer
    /// notification), not because this process sent it: such transfers are bounded by
    /// [`TrackerConfig::max_followed`], the oldest timed out first.
    pub followed: bool,
}

impl TrackOptions {
    /// Options for a consultative transfer whose consultation call is `replaces_call_id`.
    pub fn consultative(replaces_call_id: impl Into<String>) -> Self {
        TrackOptions {
            replaces_call_id: Some(replaces_call_id.into()),
            ..TrackOptions::default()
        }
    }

    /// Options for a transfer followed on the tracker's own initiative (see
    /// [`followed`](TrackOptions::followed)).
    pub fn followed() -> Self {
        TrackOptions {
            followed: true,
            ..TrackOptions::default()
        }
    }

    /// Sets [`tenant_id`](TrackOptions::tenant_id).
    pub fn with_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Sets [`timeout`](TrackOptions::timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}
