//! Incoming calls: a notification with state `incoming` (`changeType: created`) decoded into a
//! typed [`IncomingCall`] that a bot answers, rejects or redirects.

use graph_comms_model::{
    routing, Call, CallState, ChangeType, CommsNotifications, IdentitySet, IncomingContext,
    Modality, ResourceData,
};

use crate::error::{Error, Result};
use crate::event::NotificationEvent;

/// A call Graph offers the bot: the notification of state `incoming` (`changeType: created`)
/// that precedes `answer`, `reject` or `redirect`.
///
/// ```
/// use graph_comms_notify::incoming_calls;
///
/// let body = br##"{"value":[{"changeType":"created",
///   "resourceUrl":"/communications/calls/57DAB8B1894C409AB240BD8BEAE78896",
///   "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming","direction":"incoming",
///     "source":{"identity":{"user":{"displayName":"Test User","id":"8A34A46B-3D17-4ADC-8DCE-DC4E7D572698"}}},
///     "targets":[{"identity":{"application":{"displayName":"Test BOT","id":"8A34A46B-3D17-4ADC-8DCE-DC4E7D572698"}}}],
///     "tenantId":"aa67bd4c-8475-432d-bd41-39f255720e0a",
///     "incomingContext":{"sourceParticipantId":"c1","transferor":{"user":{"id":"751f6800-3180-414d-bd94-333364659951"}}},
///     "requestedModalities":["audio"]}}]}"##;
/// let calls = incoming_calls(body)?;
/// let call = &calls[0];
/// assert_eq!(call.call_id, "57DAB8B1894C409AB240BD8BEAE78896");
/// assert_eq!(call.caller_display_name(), Some("Test User"));
/// assert_eq!(call.tenant_id.as_deref(), Some("aa67bd4c-8475-432d-bd41-39f255720e0a"));
/// // The call is itself the result of a transfer: who transferred it.
/// let transferor = call.transferor().and_then(|t| t.user.as_ref()).and_then(|u| u.id.as_deref());
/// assert_eq!(transferor, Some("751f6800-3180-414d-bd94-333364659951"));
/// # Ok::<(), graph_comms_notify::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IncomingCall {
    /// The call id to answer, reject or redirect: from `resourceUrl`, else `resourceData.id`.
    pub call_id: String,
    /// Who calls: `source.identity` (a user, a phone number, an application, ...).
    pub caller: Option<IdentitySet>,
    /// Who is called: the first target's identity (the bot, or the user or application instance
    /// it answers for).
    pub callee: Option<IdentitySet>,
    /// The call's tenant: `resourceData.tenantId`; the receiver fills in the verified token's
    /// tenant when the resource does not say.
    pub tenant_id: Option<String>,
    /// `incomingContext`: the transferor when the call is itself the result of a transfer, the
    /// participant on whose behalf it is made, ...
    pub incoming_context: Option<IncomingContext>,
    /// The modalities the caller asks for.
    pub requested_modalities: Vec<Modality>,
    /// The whole call resource, with every field Graph sent (unknown ones included).
    pub call: Box<Call>,
}

impl IncomingCall {
    /// The incoming call a notification carries, if it is one: state `incoming` with a call id.
    /// `changeType` is not required to be `created` (older payloads leave it out) but any other
    /// stated change type is not an offer.
    pub fn from_notification(
        change_type: Option<&ChangeType>,
        resource_url: Option<&str>,
        call: &Call,
    ) -> Option<Self> {
        if call.state != Some(CallState::Incoming) {
            return None;
        }
        if change_type.is_some_and(|c| *c != ChangeType::Created) {
            return None;
        }
        let call_id = resource_url
            .and_then(routing::call_path)
            .filter(|(_, rest)| rest.is_empty())
            .map(|(id, _)| id.to_owned())
            .or_else(|| call.id.clone())
            .filter(|id| !id.is_empty())?;
        Some(IncomingCall {
            call_id,
            caller: call.source.as_ref().and_then(|s| s.identity.clone()),
            callee: call
                .targets
                .as_ref()
                .and_then(|t| t.first())
                .and_then(|t| t.identity.clone()),
            tenant_id: call.tenant_id.clone(),
            incoming_context: call.incoming_context.as_deref().cloned(),
            requested_modalities: call.requested_modalities.clone().unwrap_or_default(),
            call: Box::new(call.clone()),
        })
    }

    /// The participant who transferred this call to the bot (`incomingContext.transferor`), when
    /// the call is the result of a transfer.
    pub fn transferor(&self) -> Option<&IdentitySet> {
        self.incoming_context.as_ref()?.transferor.as_ref()
    }

    /// The caller's display name, whatever kind of identity it is.
    pub fn caller_display_name(&self) -> Option<&str> {
        let set = self.caller.as_ref()?;
        [
            &set.user,
            &set.phone,
            &set.application,
            &set.application_instance,
            &set.guest,
        ]
        .into_iter()
        .flatten()
        .find_map(|i| i.display_name.as_deref())
    }

    /// The caller's phone number, when a PSTN caller.
    pub fn caller_phone(&self) -> Option<&str> {
        self.caller.as_ref()?.phone.as_ref()?.id.as_deref()
    }
}

/// Every incoming call of a `commsNotifications` body, in body order (other notifications are
/// skipped).
///
/// # Errors
/// [`Error::InvalidBody`] when the body is not a `commsNotifications` object (with line and
/// column); [`Error::MissingValue`] without `value`.
pub fn incoming_calls(body: &[u8]) -> Result<Vec<IncomingCall>> {
    let batch: CommsNotifications =
        serde_json::from_slice(body).map_err(|e| Error::from_json(&e))?;
    let value = batch.value.ok_or(Error::MissingValue)?;
    Ok(value
        .iter()
        .filter_map(|n| {
            let Some(ResourceData::Call(call)) = &n.resource_data else {
                return None;
            };
            let url = n.resource_url.as_deref().or(n.resource.as_deref());
            IncomingCall::from_notification(n.change_type.as_ref(), url, call)
        })
        .collect())
}

/// Whether a decoded event is an incoming call (state `incoming`), so that the full decode of
/// [`incoming_calls`] runs only for the batches that need it.
pub fn is_incoming(event: &NotificationEvent) -> bool {
    event.state == Some(CallState::Incoming)
}
