//! The user hook: [`NotificationHandler`] sees every authenticated, decoded batch.

use graph_comms_notify::{Applied, IncomingCall, NotificationEvent};

use crate::auth::VerifiedCaller;

/// One authenticated callback, decoded: who sent it and its events in body order.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Delivery<'a> {
    /// The verified sender (tenant from the `tid` claim, issuer, ...).
    pub caller: &'a VerifiedCaller,
    /// One event per notification of the batch, in body order.
    pub events: &'a [NotificationEvent],
    /// What the tracker did with each event (same order as `events`): e.g.
    /// [`Applied::Buffered`] marks a transfer event for a call nobody tracks yet.
    pub applied: &'a [Applied],
}

impl Delivery<'_> {
    /// The tenant the notifications concern (the token's `tid` claim).
    pub fn tenant_id(&self) -> Option<&str> {
        self.caller.tenant_id.as_deref()
    }
}

/// Receives every authenticated callback after its events were applied to the
/// [`TransferTracker`](graph_comms_notify::TransferTracker), before the `202` is sent.
///
/// It runs on the request's task, so it must be quick and must not block: hand slow work to a
/// channel or a spawned task. Closures `Fn(&Delivery<'_>)` implement it.
///
/// ```
/// use graph_comms_receiver::{Delivery, NotificationHandler};
///
/// fn is_handler<H: NotificationHandler>(_: H) {}
/// is_handler(|delivery: &Delivery<'_>| {
///     println!("{} events for tenant {:?}", delivery.events.len(), delivery.tenant_id());
/// });
/// ```
pub trait NotificationHandler: Send + Sync + 'static {
    /// Called once per authenticated, well-formed callback.
    fn on_notifications(&self, delivery: &Delivery<'_>);

    /// Called for each call Graph offers the bot (a notification with state `incoming`) of an
    /// authenticated callback, after [`on_notifications`](Self::on_notifications). The bot
    /// answers, rejects or redirects it through the client, from a spawned task (this runs on
    /// the request's task). `call.tenant_id` is the call resource's tenant, else the verified
    /// token's. Does nothing by default.
    fn on_incoming_call(&self, call: &IncomingCall, delivery: &Delivery<'_>) {
        let _ = (call, delivery);
    }
}

impl<F> NotificationHandler for F
where
    F: Fn(&Delivery<'_>) + Send + Sync + 'static,
{
    fn on_notifications(&self, delivery: &Delivery<'_>) {
        self(delivery)
    }
}
