//! [`Target`]: who a new call or a redirect goes to, as validated types.

use graph_comms_model::{Identity, IdentitySet, InvitationParticipantInfo};

use crate::ids::{Guid, E164};

const ODATA_IDENTITY: &str = "#microsoft.graph.identity";

/// Who a new call rings, or where a redirect sends an incoming call: a Teams user, a PSTN number,
/// an application or an application instance. Converts into the model's
/// [`InvitationParticipantInfo`].
///
/// ```
/// use graph_comms_transfer::{control::Target, E164};
///
/// let target = Target::phone(E164::parse("+12345678901")?).into_inner();
/// assert_eq!(
///     serde_json::to_value(&target).unwrap(),
///     serde_json::json!({"identity": {"phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"}}})
/// );
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Target {
    kind: Kind,
    id: String,
    tenant_id: Option<Guid>,
    display_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Phone,
    Application,
    ApplicationInstance,
}

impl Target {
    fn new(kind: Kind, id: String, tenant_id: Option<Guid>) -> Self {
        Self {
            kind,
            id,
            tenant_id,
            display_name: None,
        }
    }

    /// A Microsoft Teams user, by object id, optionally with its tenant.
    pub fn teams_user(user_id: Guid, tenant_id: impl Into<Option<Guid>>) -> Self {
        Self::new(Kind::User, user_id.to_hyphenated(), tenant_id.into())
    }

    /// A PSTN number (the bot must be an application instance with a phone number). The phone
    /// identity carries `@odata.type` `#microsoft.graph.identity`, as Graph's PSTN examples send it.
    pub fn phone(number: E164) -> Self {
        Self::new(Kind::Phone, number.into_string(), None)
    }

    /// An application (a bot), by app id.
    pub fn application(app_id: Guid) -> Self {
        Self::new(Kind::Application, app_id.to_hyphenated(), None)
    }

    /// An application instance (the resource account of an auto attendant or a call queue).
    pub fn application_instance(instance_id: Guid) -> Self {
        Self::new(Kind::ApplicationInstance, instance_id.to_hyphenated(), None)
    }

    /// Sets the identity's `displayName`.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Whether this is a PSTN number.
    pub fn is_phone(&self) -> bool {
        self.kind == Kind::Phone
    }

    /// The target as the model's type.
    pub fn into_inner(self) -> InvitationParticipantInfo {
        let identity = Identity {
            odata_type: (self.kind == Kind::Phone).then(|| ODATA_IDENTITY.to_owned()),
            id: Some(self.id),
            tenant_id: self.tenant_id.map(|t| t.to_hyphenated()),
            display_name: self.display_name,
            ..Default::default()
        };
        let mut set = IdentitySet::default();
        *match self.kind {
            Kind::User => &mut set.user,
            Kind::Phone => &mut set.phone,
            Kind::Application => &mut set.application,
            Kind::ApplicationInstance => &mut set.application_instance,
        } = Some(Box::new(identity));
        InvitationParticipantInfo {
            identity: Some(set),
            ..Default::default()
        }
    }
}

impl From<Target> for InvitationParticipantInfo {
    fn from(t: Target) -> Self {
        t.into_inner()
    }
}
