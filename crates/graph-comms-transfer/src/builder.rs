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
    // Small typed inputs only: the model's body is several kilobytes, so it is made once, in
    // `build`, rather than moved through every chained call.
    kind: TargetKind,
    target_id: String,
    tenant_id: Option<Guid>,
    display_name: Option<String>,
    replaces_call_id: Option<CallId>,
    transferee: Option<Transferee>,
    language_id: Option<String>,
    region: Option<String>,
    endpoint_type: Option<EndpointType>,
    annotate: bool,
}

/// The kind of identity a transfer goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    User,
    Phone,
    Application,
    ApplicationInstance,
}

impl Transfer {
    fn to_identity(kind: TargetKind, target_id: String, tenant_id: Option<Guid>) -> Self {
        Self {
            kind,
            target_id,
            tenant_id,
            display_name: None,
            replaces_call_id: None,
            transferee: None,
            language_id: None,
            region: None,
            endpoint_type: None,
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
        Self::to_identity(TargetKind::User, user_id.to_hyphenated(), tenant_id.into())
    }

    /// A transfer to a PSTN number. Only a bot that is an application instance with a phone
    /// number can make it. The phone identity carries `@odata.type` `#microsoft.graph.identity`,
    /// as Graph's PSTN examples send it.
    pub fn to_phone(number: E164) -> Self {
        Self::to_identity(TargetKind::Phone, number.into_string(), None)
    }

    /// A transfer to an application (a bot), named by its app id.
    pub fn to_application(app_id: Guid) -> Self {
        Self::to_identity(TargetKind::Application, app_id.to_hyphenated(), None)
    }

    /// A transfer to an application instance (the resource account of an auto attendant or a call
    /// queue), named by its object id. Auto attendants and call queues are reached this way, not
    /// as users.
    pub fn to_application_instance(instance_id: Guid) -> Self {
        Self::to_identity(
            TargetKind::ApplicationInstance,
            instance_id.to_hyphenated(),
            None,
        )
    }

    /// Sets the target identity's `displayName`.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Sets the target identity's `tenantId` (for a Teams user, [`to_teams_user`](Self::to_teams_user)
    /// takes it directly).
    pub fn tenant_id(mut self, tenant_id: Guid) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    /// Makes the transfer consultative: the target is already in `replaces_call_id`, a call the
    /// bot set up to consult them, which the transfer replaces. It must be another call than the
    /// one transferred.
    pub fn consultative(mut self, replaces_call_id: CallId) -> Self {
        self.replaces_call_id = Some(replaces_call_id);
        self
    }

    /// Names the transferee: the participant of a group call who is transferred (required for
    /// group calls, not documented for peer calls). Takes a [`Transferee`], or a
    /// [`ParticipantInfo`] as Graph lists the call's participants.
    pub fn transferee(mut self, participant: impl Into<Transferee>) -> Self {
        self.transferee = Some(participant.into());
        self
    }

    /// Sets the target's `languageId` (a language culture string such as `en-us`).
    pub fn language_id(mut self, language_id: impl Into<String>) -> Self {
        self.language_id = Some(language_id.into());
        self
    }

    /// Sets the target's `region` (its home region, such as `amer`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the target's `endpointType`.
    pub fn endpoint_type(mut self, endpoint_type: EndpointType) -> Self {
        self.endpoint_type = Some(endpoint_type);
        self
    }

    /// Writes `@odata.type` on the target, its identity set and its identity, as some of Graph's
    /// examples do. Graph infers these types, so bodies without them are complete.
    pub fn with_odata_types(mut self) -> Self {
        self.annotate = true;
        self
    }

    /// The request body.
    pub fn build(self) -> TransferRequestBody {
        let odata = |name: &str| self.annotate.then(|| name.to_owned());
        let identity = Identity {
            odata_type: if self.kind == TargetKind::Phone {
                Some(ODATA_IDENTITY.to_owned())
            } else {
                odata(ODATA_IDENTITY)
            },
            id: Some(self.target_id),
            tenant_id: self.tenant_id.map(|t| t.to_hyphenated()),
            display_name: self.display_name,
            ..Default::default()
        };
        let mut set = IdentitySet {
            odata_type: odata(ODATA_IDENTITY_SET),
            ..Default::default()
        };
        let slot = match self.kind {
            TargetKind::User => &mut set.user,
            TargetKind::Phone => &mut set.phone,
            TargetKind::Application => &mut set.application,
            TargetKind::ApplicationInstance => &mut set.application_instance,
        };
        *slot = Some(Box::new(identity));
        TransferRequestBody {
            transfer_target: InvitationParticipantInfo {
                odata_type: odata(ODATA_INVITATION),
                endpoint_type: self.endpoint_type,
                identity: Some(set),
                replaces_call_id: self.replaces_call_id.map(String::from),
                language_id: self.language_id,
                region: self.region,
                ..Default::default()
            },
            transferee: self.transferee.map(Transferee::into_inner),
            additional_data: serde_json::Map::new(),
        }
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
/// A participant as Graph lists it (a [`ParticipantInfo`]) converts into one.
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
pub struct Transferee(Participant);

#[derive(Debug, Clone, PartialEq)]
enum Participant {
    User {
        id: Guid,
        tenant_id: Option<Guid>,
        participant_id: String,
    },
    Phone {
        number: E164,
        participant_id: String,
    },
    // Boxed: the model's participant is several kilobytes.
    Listed(Box<ParticipantInfo>),
}

impl Transferee {
    /// A Teams user in the call, by object id, optional tenant, and participant id (the id of
    /// the user's participant in this call).
    pub fn teams_user(
        user_id: Guid,
        tenant_id: impl Into<Option<Guid>>,
        participant_id: impl Into<String>,
    ) -> Self {
        Self(Participant::User {
            id: user_id,
            tenant_id: tenant_id.into(),
            participant_id: participant_id.into(),
        })
    }

    /// A PSTN participant in the call, by number and participant id.
    pub fn phone(number: E164, participant_id: impl Into<String>) -> Self {
        Self(Participant::Phone {
            number,
            participant_id: participant_id.into(),
        })
    }

    /// The participant as the model's type.
    pub fn into_inner(self) -> ParticipantInfo {
        let (identity, participant_id) = match self.0 {
            Participant::Listed(p) => return *p,
            Participant::User {
                id,
                tenant_id,
                participant_id,
            } => (
                IdentitySet {
                    user: Some(Box::new(identity(id.to_hyphenated(), tenant_id))),
                    ..Default::default()
                },
                participant_id,
            ),
            Participant::Phone {
                number,
                participant_id,
            } => (
                IdentitySet {
                    phone: Some(Box::new(identity(number.into_string(), None))),
                    ..Default::default()
                },
                participant_id,
            ),
        };
        ParticipantInfo {
            identity: Some(identity),
            participant_id: Some(participant_id),
            ..Default::default()
        }
    }
}

impl From<ParticipantInfo> for Transferee {
    fn from(p: ParticipantInfo) -> Self {
        Self(Participant::Listed(Box::new(p)))
    }
}

impl From<Transferee> for ParticipantInfo {
    fn from(t: Transferee) -> Self {
        t.into_inner()
    }
}
