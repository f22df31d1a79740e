//! The typed way to say each transfer: [`Transfer`] builds the model's [`TransferRequestBody`],
//! [`Transferee`] names the participant transferred out of a group call.

use graph_comms_model::{
    EndpointType, Identity, IdentitySet, InvitationParticipantInfo, ParticipantInfo,
    TransferRequestBody,
};

use crate::context::CallContext;
use crate::error::{Report, Result};
use crate::ids::{CallId, Guid, E164};
use crate::validate::validate;

const ODATA_INVITATION: &str = "#microsoft.graph.invitationParticipantInfo";
const ODATA_IDENTITY_SET: &str = "#microsoft.graph.identitySet";
const ODATA_IDENTITY: &str = "#microsoft.graph.identity";

/// A transfer request under construction; [`build`](Self::build) gives the
/// [`TransferRequestBody`] to POST to `/communications/calls/{id}/transfer`.
///
/// Required arguments come first (who the call goes to, as validated types), options after.
/// Every body it builds has exactly one kind of identity in its target, so the only rules left to
/// check against the call are those that depend on it (group call ⇒ transferee, PSTN ⇒ application
/// instance, one tenant, `replacesCallId` ≠ the call): [`build_for`](Self::build_for) checks them.
///
/// ```
/// use graph_comms_model::EndpointType;
/// use graph_comms_transfer::{CallContext, Transfer, E164};
///
/// // Example 3 of the `call: transfer` page: from a peer call to a PSTN number.
/// let body = Transfer::to_phone(E164::parse("+12345678901")?)
///     .endpoint_type(EndpointType::Default)
///     .language_id("languageId-value")
///     .region("region-value")
///     .build_for(&CallContext::peer().with_application_instance(true))?
///     .0;
/// assert_eq!(
///     serde_json::to_value(&body).unwrap(),
///     serde_json::json!({"transferTarget": {
///         "endpointType": "default",
///         "identity": {"phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"}},
///         "languageId": "languageId-value",
///         "region": "region-value"
///     }})
/// );
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Transfer {
    // Boxed: the model's body is several kilobytes, and each chained call moves the builder.
    body: Box<TransferRequestBody>,
    annotate: bool,
}

impl Transfer {
    fn to_identity(identity: IdentitySet) -> Self {
        Self {
            body: Box::new(TransferRequestBody {
                transfer_target: InvitationParticipantInfo {
                    identity: Some(identity),
                    ..Default::default()
                },
                transferee: None,
                additional_data: serde_json::Map::new(),
            }),
            annotate: false,
        }
    }

    /// A transfer to a Microsoft Teams user, named by its object id, optionally with its tenant
    /// (which must be the call's: transfers stay inside one tenant).
    ///
    /// ```
    /// use graph_comms_transfer::{Guid, Transfer};
    ///
    /// let user: Guid = "550fae72-d251-43ec-868c-373732c2704f".parse()?;
    /// let tenant: Guid = "72f988bf-86f1-41af-91ab-2d7cd011db47".parse()?;
    /// let with_tenant = Transfer::to_teams_user(user, tenant).build();
    /// let without = Transfer::to_teams_user(user, None).build();
    /// # let _ = (with_tenant, without);
    /// # Ok::<(), graph_comms_transfer::Error>(())
    /// ```
    pub fn to_teams_user(user_id: Guid, tenant_id: impl Into<Option<Guid>>) -> Self {
        Self::to_identity(IdentitySet {
            user: Some(identity(user_id.to_hyphenated(), tenant_id.into())),
            ..Default::default()
        })
    }

    /// A transfer to a PSTN number. Only a bot that is an application instance with a phone
    /// number can make it. The phone identity carries `@odata.type` `#microsoft.graph.identity`,
    /// as Graph's PSTN examples send it.
    pub fn to_phone(number: E164) -> Self {
        let mut phone = identity(number.into_string(), None);
        phone.odata_type = Some(ODATA_IDENTITY.to_owned());
        Self::to_identity(IdentitySet {
            phone: Some(phone),
            ..Default::default()
        })
    }

    /// A transfer to an application (a bot), named by its app id.
    pub fn to_application(app_id: Guid) -> Self {
        Self::to_identity(IdentitySet {
            application: Some(identity(app_id.to_hyphenated(), None)),
            ..Default::default()
        })
    }

    /// A transfer to an application instance (the resource account of an auto attendant or a call
    /// queue), named by its object id. Auto attendants and call queues are reached this way, not
    /// as users.
    pub fn to_application_instance(instance_id: Guid) -> Self {
        Self::to_identity(IdentitySet {
            application_instance: Some(identity(instance_id.to_hyphenated(), None)),
            ..Default::default()
        })
    }

    /// Sets the target identity's `displayName`.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        if let Some(id) = self.target_identity_mut() {
            id.display_name = Some(name.into());
        }
        self
    }

    /// Sets the target identity's `tenantId` (for a Teams user, [`to_teams_user`](Self::to_teams_user)
    /// takes it directly).
    pub fn tenant_id(mut self, tenant_id: Guid) -> Self {
        if let Some(id) = self.target_identity_mut() {
            id.tenant_id = Some(tenant_id.to_hyphenated());
        }
        self
    }

    /// Makes the transfer consultative: the target is already in `replaces_call_id`, a call the
    /// bot set up to consult them, which the transfer replaces. It must be another call than the
    /// one transferred.
    pub fn consultative(mut self, replaces_call_id: CallId) -> Self {
        self.body.transfer_target.replaces_call_id = Some(replaces_call_id.into());
        self
    }

    /// Names the transferee: the participant of a group call who is transferred (required for
    /// group calls, not documented for peer calls). Takes a [`Transferee`] or a participant as
    /// Graph lists it.
    pub fn transferee(mut self, participant: impl Into<ParticipantInfo>) -> Self {
        self.body.transferee = Some(participant.into());
        self
    }

    /// Sets the target's `languageId` (a language culture string such as `en-us`).
    pub fn language_id(mut self, language_id: impl Into<String>) -> Self {
        self.body.transfer_target.language_id = Some(language_id.into());
        self
    }

    /// Sets the target's `region` (its home region, such as `amer`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.body.transfer_target.region = Some(region.into());
        self
    }

    /// Sets the target's `endpointType`.
    pub fn endpoint_type(mut self, endpoint_type: EndpointType) -> Self {
        self.body.transfer_target.endpoint_type = Some(endpoint_type);
        self
    }

    /// Writes `@odata.type` on the target, its identity set and its identity, as some of Graph's
    /// examples do. Graph infers these types, so bodies without them are complete.
    pub fn with_odata_types(mut self) -> Self {
        self.annotate = true;
        self
    }

    fn target_identity_mut(&mut self) -> Option<&mut Identity> {
        let set = self.body.transfer_target.identity.as_mut()?;
        set.user
            .as_mut()
            .or(set.phone.as_mut())
            .or(set.application.as_mut())
            .or(set.application_instance.as_mut())
    }

    /// The request body.
    pub fn build(mut self) -> TransferRequestBody {
        if self.annotate {
            let target = &mut self.body.transfer_target;
            target.odata_type = Some(ODATA_INVITATION.to_owned());
            if let Some(set) = target.identity.as_mut() {
                set.odata_type = Some(ODATA_IDENTITY_SET.to_owned());
            }
            if let Some(id) = self.target_identity_mut() {
                id.odata_type = Some(ODATA_IDENTITY.to_owned());
            }
        }
        *self.body
    }

    /// The request body, checked against the call it applies to (see
    /// [`validate`](crate::validate())); the report holds the warnings, if any.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) with every violation when any is an error.
    pub fn build_for(self, ctx: &CallContext) -> Result<(TransferRequestBody, Report)> {
        let body = self.build();
        let report = validate(&body, ctx).into_result()?;
        Ok((body, report))
    }
}

fn identity(id: String, tenant_id: Option<Guid>) -> Identity {
    Identity {
        id: Some(id),
        tenant_id: tenant_id.map(|t| t.to_hyphenated()),
        ..Default::default()
    }
}

/// The participant transferred out of a group call, for [`Transfer::transferee`].
///
/// A participant as Graph lists it (a [`ParticipantInfo`]) can be given directly instead.
///
/// ```
/// use graph_comms_transfer::{Guid, Transfer, Transferee};
///
/// let user: Guid = "751f6800-3180-414d-bd94-333364659951".parse()?;
/// let transferee = Transferee::teams_user(user, None, "909c6581-5130-43e9-88f3-fcb3582cde37");
/// let target: Guid = "550fae72-d251-43ec-868c-373732c2704f".parse()?;
/// let body = Transfer::to_teams_user(target, None).transferee(transferee).build();
/// assert!(body.transferee.is_some());
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Transferee(Box<ParticipantInfo>);

impl Transferee {
    /// A Teams user in the call, by object id, optional tenant, and participant id (the id of
    /// the user's participant in this call).
    pub fn teams_user(
        user_id: Guid,
        tenant_id: impl Into<Option<Guid>>,
        participant_id: impl Into<String>,
    ) -> Self {
        Self(Box::new(ParticipantInfo {
            identity: Some(IdentitySet {
                user: Some(identity(user_id.to_hyphenated(), tenant_id.into())),
                ..Default::default()
            }),
            participant_id: Some(participant_id.into()),
            ..Default::default()
        }))
    }

    /// A PSTN participant in the call, by number and participant id.
    pub fn phone(number: E164, participant_id: impl Into<String>) -> Self {
        Self(Box::new(ParticipantInfo {
            identity: Some(IdentitySet {
                phone: Some(identity(number.into_string(), None)),
                ..Default::default()
            }),
            participant_id: Some(participant_id.into()),
            ..Default::default()
        }))
    }

    /// The participant as the model's type.
    pub fn into_inner(self) -> ParticipantInfo {
        *self.0
    }
}

impl From<Transferee> for ParticipantInfo {
    fn from(t: Transferee) -> Self {
        *t.0
    }
}
