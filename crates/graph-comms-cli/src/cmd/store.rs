//! The shared transfer store behind `--store URL`, for every command that uses one (`listen`,
//! `transfer --wait`, `track`, and bots): open it from a URL, record a receiver's deliveries in
//! it, register a transfer and wait for its outcome.
//!
//! A delivery is recorded before Graph gets its answer: the receiver's handler (synchronous)
//! queues the batch's transfer events in the request's task, and a layer around the receiver's
//! router writes them to the store once the handler returned. When the store cannot be written,
//! the callback is answered `503 Service Unavailable` instead of `202`, so Graph redelivers it
//! later (appending is idempotent, so a redelivery of what was partly written is harmless):
//! nothing Graph sent is lost while the store is down.
//!
//! A bot also claims, in the same layer and before Graph is answered, each call it is offered
//! ([`claim_after`]): the claim (`SharedStore::claim`, keyed by the call id, held
//! [`CLAIM_TTL`]) is atomic, so of the instances that receive one offer (Graph redelivers it, a
//! load balancer retries it) exactly one takes the call. When the store cannot be written, the
//! offer too is answered 503 and Graph offers the call again.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use graph_comms_notify::{
    NotificationEvent, RedisStore, SharedStore, SharedTracker, TrackOptions, TrackerConfig,
    TransferOutcome,
};
use graph_comms_receiver::Delivery;
use tokio::sync::oneshot;

/// How long an offered call stays claimed by the instance that took it: longer than Graph keeps
/// offering a call (a redelivered offer finds it taken), short enough that the store forgets.
pub(crate) const CLAIM_TTL: Duration = Duration::from_secs(600);

/// Opens the store `url` names: `redis://HOST:PORT[/DB]`.
///
/// # Errors
/// The URL's scheme is not `redis`, or the server cannot be reached (after a few attempts).
pub(crate) async fn open(url: &str, config: TrackerConfig) -> Result<SharedTracker, String> {
    if !url.starts_with("redis://") {
        return Err(format!("--store {url:?}: expected redis://HOST:PORT[/DB]"));
    }
    let store = RedisStore::connect(url)
        .await
        .map_err(|e| format!("--store {url:?}: {e}"))?;
    let store: Arc<dyn SharedStore> = Arc::new(store);
    Ok(SharedTracker::new(store, config))
}

/// What the handler of one callback left for [`recording`]'s layer to write.
#[derive(Debug, Default)]
struct Pending {
    /// The transfer events, with the callback's tenant.
    events: Vec<(NotificationEvent, Option<String>)>,
    /// The offered calls to claim: (call id, owner, where the answer goes).
    claims: Vec<(String, String, oneshot::Sender<bool>)>,
}

tokio::task_local! {
    /// What the callback being handled leaves to write.
    static PENDING: RefCell<Pending>;
}

/// Queues a delivery's transfer events for [`recording`]'s layer to write (call it from the
/// receiver's handler). Outside that layer it does nothing.
pub(crate) fn queue(delivery: &Delivery<'_>) {
    let tenant = delivery.tenant_id().map(str::to_owned);
    let _ = PENDING.try_with(|pending| {
        let mut pending = pending.borrow_mut();
        for event in delivery.events {
            if event.call_id.is_some() {
                pending.events.push((event.clone(), tenant.clone()));
            }
        }
    });
}

/// Asks [`recording`]'s layer to claim the offered call `call_id` for `owner` before Graph is
/// answered (call it from the receiver's handler). The answer is `true` when `owner` holds the
/// claim; it never comes (the receiver errs) when the store failed (the offer is then answered
/// 503) or outside that layer.
pub(crate) fn claim_after(call_id: &str, owner: &str) -> oneshot::Receiver<bool> {
    let (tx, rx) = oneshot::channel();
    let call = graph_comms_notify::normalize_call_id(call_id).into_owned();
    let _ = PENDING.try_with(|pending| {
        pending
            .borrow_mut()
            .claims
            .push((call, owner.to_owned(), tx));
    });
    rx
}

/// Records every event of one delivery, in order.
///
/// # Errors
/// The first store failure.
pub(crate) async fn record(
    tracker: &SharedTracker,
    events: &[(NotificationEvent, Option<String>)],
) -> Result<(), graph_comms_notify::Error> {
    for (event, tenant) in events {
        tracker.apply(event, tenant.as_deref()).await?;
    }
    Ok(())
}

/// Wraps a receiver's router so that what its handler [`queue`]s is recorded in the store before
/// Graph is answered; a store failure turns the `202` into a `503` (Graph redelivers).
pub(crate) fn recording(router: Router, tracker: SharedTracker) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let tracker = tracker.clone();
            async move {
                let (response, pending) = PENDING
                    .scope(RefCell::new(Pending::default()), async move {
                        let response = next.run(request).await;
                        (response, PENDING.with(|p| p.take()))
                    })
                    .await;
                if (pending.events.is_empty() && pending.claims.is_empty())
                    || !response.status().is_success()
                {
                    return response;
                }
                let written = async {
                    record(&tracker, &pending.events).await?;
                    for (call, owner, answer) in pending.claims {
                        let held = tracker.store().claim(&call, &owner, CLAIM_TTL).await?;
                        let _ = answer.send(held);
                    }
                    Ok::<(), graph_comms_notify::Error>(())
                };
                match written.await {
                    Ok(()) => response,
                    Err(e) => {
                        eprintln!(
                            "graph-comms: error: {e}; answering 503 so that Graph redelivers"
                        );
                        unavailable()
                    }
                }
            }
        },
    ))
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("retry-after", "1")],
        "transfer store unavailable",
    )
        .into_response()
}

/// Registers the transfer of `call_id` (`options`: consultation call, tenant) with a deadline
/// `timeout` from now; returns the deadline (Unix ms). A registration in flight (this transfer,
/// sent again after a restart) is not an error: the caller then waits on it, until its deadline.
/// Once the call's previous transfer has an outcome, this is the call's next attempt.
///
/// # Errors
/// The store failed.
pub(crate) async fn register(
    tracker: &SharedTracker,
    call_id: &str,
    options: TrackOptions,
    timeout: Duration,
) -> Result<u64, graph_comms_notify::Error> {
    match tracker
        .register(call_id, &options.with_timeout(timeout))
        .await
    {
        Ok(record) => Ok(record.deadline),
        Err(graph_comms_notify::Error::AlreadyTracking { .. }) => {
            let call = graph_comms_notify::normalize_call_id(call_id);
            Ok(match tracker.store().log(&call).await? {
                Some(t) => t.record.deadline,
                None => deadline_after(timeout),
            })
        }
        Err(e) => Err(e),
    }
}

fn deadline_after(timeout: Duration) -> u64 {
    graph_comms_notify::unix_ms()
        .saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
}

/// Reads, or waits up to `timeout` for, the outcome of `call_id`'s transfer, whoever sent it;
/// `TimedOut` when none is recorded by then (nothing is written: the transfer's own waiter
/// records `TimedOut` at its deadline).
///
/// # Errors
/// The store failed.
pub(crate) async fn read_or_wait(
    tracker: &SharedTracker,
    call_id: &str,
    timeout: Duration,
) -> Result<TransferOutcome, graph_comms_notify::Error> {
    let call = graph_comms_notify::normalize_call_id(call_id);
    let deadline = deadline_after(timeout);
    Ok(tracker
        .store()
        .wait_outcome(&call, deadline)
        .await?
        .unwrap_or(TransferOutcome::TimedOut))
}

/// Waits for the outcome of the transfer of `call_id` that this process registered, until
/// `deadline` (Unix ms, from [`register`]); then records (and returns) `TimedOut`, unless an
/// instance recorded an outcome. Waiting outlives a store restart.
///
/// # Errors
/// The store failed (and was still failing at the deadline).
pub(crate) async fn wait(
    tracker: &SharedTracker,
    call_id: &str,
    deadline: u64,
) -> Result<TransferOutcome, graph_comms_notify::Error> {
    tracker.wait_until(call_id, deadline).await
}
