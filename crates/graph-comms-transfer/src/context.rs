//! [`CallContext`]: what the bot knows about the call a transfer applies to.

use crate::ids::Guid;

/// Whether the call being transferred is a peer (two-party) call or a group call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// A two-party call: the bot and one other participant.
    Peer,
    /// A call with more than two participants; a transfer must name its `transferee`.
    Group,
}

/// What the bot knows about the call a transfer request applies to; the validator checks a body
/// against it.
///
/// Made with [`peer`](Self::peer), [`group`](Self::group) or [`new`](Self::new) and the `with_*`
/// methods (fields can also be set directly; the struct is `#[non_exhaustive]` so that what the
/// bot can say about a call may grow).
///
/// ```
/// use graph_comms_transfer::{CallContext, CallKind, Guid};
///
/// let ctx = CallContext::group()
///     .with_tenant("72f988bf-86f1-41af-91ab-2d7cd011db47".parse::<Guid>()?)
///     .with_application_instance(true)
///     .with_call_id("341a0500-d4bf-4224-8b19-1581168d328b");
/// assert_eq!(ctx.kind, CallKind::Group);
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallContext {
    /// Peer or group call.
    pub kind: CallKind,
    /// The call's tenant (the bot's tenant), when known. Every tenant the body states must be
    /// this one.
    pub tenant_id: Option<Guid>,
    /// Whether the bot is an application instance with a phone number (needed for PSTN targets).
    pub application_instance: bool,
    /// The id of the call being transferred, when known: a consultative transfer's
    /// `replacesCallId` must name another call.
    pub call_id: Option<String>,
}

impl CallContext {
    /// A call of the given kind, nothing else known.
    pub fn new(kind: CallKind) -> Self {
        Self {
            kind,
            tenant_id: None,
            application_instance: false,
            call_id: None,
        }
    }

    /// A peer call, nothing else known.
    pub fn peer() -> Self {
        Self::new(CallKind::Peer)
    }

    /// A group call, nothing else known.
    pub fn group() -> Self {
        Self::new(CallKind::Group)
    }

    /// Sets the call's tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant_id: Guid) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    /// Sets whether the bot is an application instance with a phone number.
    #[must_use]
    pub fn with_application_instance(mut self, yes: bool) -> Self {
        self.application_instance = yes;
        self
    }

    /// Sets the id of the call being transferred.
    #[must_use]
    pub fn with_call_id(mut self, call_id: impl Into<String>) -> Self {
        self.call_id = Some(call_id.into());
        self
    }
}
