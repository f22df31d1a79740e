//! [`OutgoingCall`]: the body of `POST /communications/calls`, the call a bot places (to a user,
//! a PSTN number or an application; the consultation call of a consultative transfer).

use graph_comms_model::{
    Call, CallDirection, Identity, IdentitySet, MediaConfig, Modality, ParticipantInfo,
};

use crate::context::CallContext;
use crate::control::rules::validate_call;
use crate::control::{checked, Target};
use crate::error::{Report, Result};
use crate::ids::{Guid, E164};

/// A new call under construction; [`build`](Self::build) gives the [`Call`] to POST to
/// `/communications/calls`.
///
/// Service-hosted media and audio are the defaults. A call to a PSTN number has the bot's
/// application instance as its source ([`to_phone`](Self::to_phone) takes it), as for a transfer
/// to a phone.
///
/// ```
/// use graph_comms_transfer::{control::OutgoingCall, CallContext, Guid, E164};
///
/// let tenant: Guid = "aa67bd4c-8475-432d-bd41-39f255720e0a".parse()?;
/// let instance: Guid = "3d913abb-aec0-4964-8fa6-3c6850c4f278".parse()?;
/// let (call, _) = OutgoingCall::to_phone("https://bot.contoso.com/callback", E164::parse("+12345678901")?, instance, tenant)
///     .build_for(&CallContext::peer().with_tenant(tenant))?;
/// assert_eq!(
///     serde_json::to_value(&call).unwrap(),
///     serde_json::json!({
///         "@odata.type": "#microsoft.graph.call",
///         "callbackUri": "https://bot.contoso.com/callback",
///         "direction": "outgoing",
///         "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
///         "requestedModalities": ["audio"],
///         "source": {"identity": {"applicationInstance": {"id": "3d913abb-aec0-4964-8fa6-3c6850c4f278"}}},
///         "targets": [{"identity": {"phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"}}}],
///         "tenantId": "aa67bd4c-8475-432d-bd41-39f255720e0a"
///     })
/// );
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct OutgoingCall {
    callback_uri: String,
    targets: Vec<Target>,
    source: Option<(SourceKind, Guid, Option<String>)>,
    tenant_id: Option<Guid>,
    media_config: MediaConfig,
    modalities: Vec<Modality>,
    subject: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    Application,
    ApplicationInstance,
}

impl OutgoingCall {
    /// A call to `target`, whose notifications go to `callback_uri`.
    pub fn to(callback_uri: impl Into<String>, target: Target) -> Self {
        Self {
            callback_uri: callback_uri.into(),
            targets: vec![target],
            source: None,
            tenant_id: None,
            media_config: MediaConfig::service_hosted(),
            modalities: vec![Modality::Audio],
            subject: None,
        }
    }

    /// A call to a Microsoft Teams user of `tenant_id` (the bot's tenant).
    pub fn to_teams_user(callback_uri: impl Into<String>, user_id: Guid, tenant_id: Guid) -> Self {
        Self::to(callback_uri, Target::teams_user(user_id, None)).tenant(tenant_id)
    }

    /// A call to a PSTN number from the bot's application instance `instance_id` (the resource
    /// account with the phone number), billed to `tenant_id`.
    pub fn to_phone(
        callback_uri: impl Into<String>,
        number: E164,
        instance_id: Guid,
        tenant_id: Guid,
    ) -> Self {
        Self::to(callback_uri, Target::phone(number))
            .from_application_instance(instance_id, None::<String>)
            .tenant(tenant_id)
    }

    /// A call to an application (another bot), by app id.
    pub fn to_application(callback_uri: impl Into<String>, app_id: Guid) -> Self {
        Self::to(callback_uri, Target::application(app_id))
    }

    /// Adds a target (a group call).
    pub fn also(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    /// Sets the source: the bot's application, by app id, with an optional display name.
    pub fn from_application(
        mut self,
        app_id: Guid,
        display_name: Option<impl Into<String>>,
    ) -> Self {
        self.source = Some((
            SourceKind::Application,
            app_id,
            display_name.map(Into::into),
        ));
        self
    }

    /// Sets the source: the bot's application instance (needed to call a PSTN number).
    pub fn from_application_instance(
        mut self,
        instance_id: Guid,
        display_name: Option<impl Into<String>>,
    ) -> Self {
        self.source = Some((
            SourceKind::ApplicationInstance,
            instance_id,
            display_name.map(Into::into),
        ));
        self
    }

    /// Sets `tenantId` (the bot's tenant).
    pub fn tenant(mut self, tenant_id: Guid) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    /// Uses app-hosted media with the media platform's configuration `blob`.
    pub fn app_hosted_media(mut self, blob: impl Into<String>) -> Self {
        self.media_config = MediaConfig::app_hosted(blob);
        self
    }

    /// Sets the media configuration.
    pub fn media_config(mut self, media_config: MediaConfig) -> Self {
        self.media_config = media_config;
        self
    }

    /// Sets the requested modalities (audio by default).
    pub fn modalities(mut self, modalities: impl IntoIterator<Item = Modality>) -> Self {
        self.modalities = modalities.into_iter().collect();
        self
    }

    /// Sets the call's `subject`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The request body.
    pub fn build(self) -> Call {
        let source = self.source.map(|(kind, id, display_name)| {
            let identity = Identity {
                id: Some(id.to_hyphenated()),
                display_name,
                ..Default::default()
            };
            let mut set = IdentitySet::default();
            *match kind {
                SourceKind::Application => &mut set.application,
                SourceKind::ApplicationInstance => &mut set.application_instance,
            } = Some(Box::new(identity));
            Box::new(ParticipantInfo {
                identity: Some(set),
                ..Default::default()
            })
        });
        Call {
            odata_type: Some("#microsoft.graph.call".to_owned()),
            callback_uri: Some(self.callback_uri),
            direction: Some(CallDirection::Outgoing),
            source,
            targets: Some(self.targets.into_iter().map(Target::into_inner).collect()),
            tenant_id: self.tenant_id.map(|t| t.to_hyphenated()),
            media_config: Some(Box::new(self.media_config)),
            requested_modalities: Some(self.modalities),
            subject: self.subject,
            ..Default::default()
        }
    }

    /// The request body, checked by [`validate_call`](crate::control::validate_call).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) with every violation when any is
    /// an error.
    pub fn build_for(self, ctx: &CallContext) -> Result<(Call, Report)> {
        let call = self.build();
        let report = checked("createCall", validate_call(&call, ctx))?;
        Ok((call, report))
    }
}
