//! What a bot does with an incoming call: [`Answer`] it, [`Reject`] it, or [`Redirect`] it.

use graph_comms_model::{
    AnswerRequestBody, CallOptions, MediaConfig, Modality, RedirectRequestBody, RejectReason,
    RejectRequestBody,
};

use crate::context::CallContext;
use crate::control::rules::{validate_answer, validate_redirect, validate_reject};
use crate::control::{checked, Target};
use crate::error::{Report, Result};

/// The body of `POST /communications/calls/{id}/answer`: service-hosted media and audio unless
/// said otherwise.
///
/// ```
/// use graph_comms_transfer::{control::Answer, CallContext};
///
/// let (body, _) = Answer::new("https://bot.contoso.com/api/calls").build_for(&CallContext::peer())?;
/// assert_eq!(
///     serde_json::to_value(&body).unwrap(),
///     serde_json::json!({
///         "callbackUri": "https://bot.contoso.com/api/calls",
///         "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
///         "acceptedModalities": ["audio"]
///     })
/// );
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Answer {
    body: AnswerRequestBody,
}

impl Answer {
    /// Answers with service-hosted media and audio; the call's notifications go to
    /// `callback_uri`.
    pub fn new(callback_uri: impl Into<String>) -> Self {
        Self {
            body: AnswerRequestBody {
                callback_uri: callback_uri.into(),
                media_config: MediaConfig::service_hosted(),
                accepted_modalities: Some(vec![Modality::Audio]),
                ..Default::default()
            },
        }
    }

    /// Uses app-hosted media with the media platform's configuration `blob`.
    pub fn app_hosted_media(mut self, blob: impl Into<String>) -> Self {
        self.body.media_config = MediaConfig::app_hosted(blob);
        self
    }

    /// Sets the media configuration (service-hosted with media to pre-fetch, ...).
    pub fn media_config(mut self, media_config: MediaConfig) -> Self {
        self.body.media_config = media_config;
        self
    }

    /// Sets the accepted modalities (audio by default).
    pub fn accepted_modalities(mut self, modalities: impl IntoIterator<Item = Modality>) -> Self {
        self.body.accepted_modalities = Some(modalities.into_iter().collect());
        self
    }

    /// Sets `participantCapacity` (policy-based recording: how many participants the bot handles).
    pub fn participant_capacity(mut self, capacity: i32) -> Self {
        self.body.participant_capacity = Some(capacity);
        self
    }

    /// Sets `callOptions` (an `incomingCallOptions`).
    pub fn call_options(mut self, options: CallOptions) -> Self {
        self.body.call_options = Some(options);
        self
    }

    /// The request body.
    pub fn build(self) -> AnswerRequestBody {
        self.body
    }

    /// The request body, checked by [`validate_answer`](crate::control::validate_answer).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) when a rule is broken.
    pub fn build_for(self, ctx: &CallContext) -> Result<(AnswerRequestBody, Report)> {
        let body = self.build();
        let report = checked("answer", validate_answer(&body, ctx))?;
        Ok((body, report))
    }
}

/// The body of `POST /communications/calls/{id}/reject`: a reason (`none`, `busy`, `forbidden`)
/// and, optionally, where the call's last notification goes.
///
/// ```
/// use graph_comms_transfer::control::Reject;
///
/// let body = Reject::busy().build();
/// assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"reason":"busy"}"#);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Reject {
    body: RejectRequestBody,
}

impl Reject {
    /// Rejects with `reason`.
    pub fn new(reason: RejectReason) -> Self {
        Self {
            body: RejectRequestBody {
                reason: Some(reason),
                ..Default::default()
            },
        }
    }

    /// Rejects with reason `busy`.
    pub fn busy() -> Self {
        Self::new(RejectReason::Busy)
    }

    /// Rejects with reason `forbidden`.
    pub fn forbidden() -> Self {
        Self::new(RejectReason::Forbidden)
    }

    /// Rejects with reason `none`.
    pub fn no_reason() -> Self {
        Self::new(RejectReason::None)
    }

    /// Sets `callbackUri`.
    pub fn callback_uri(mut self, uri: impl Into<String>) -> Self {
        self.body.callback_uri = Some(uri.into());
        self
    }

    /// The request body.
    pub fn build(self) -> RejectRequestBody {
        self.body
    }

    /// The request body, checked by [`validate_reject`](crate::control::validate_reject).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) when a rule is broken.
    pub fn build_for(self, ctx: &CallContext) -> Result<(RejectRequestBody, Report)> {
        let body = self.build();
        let report = checked("reject", validate_reject(&body, ctx))?;
        Ok((body, report))
    }
}

/// The body of `POST /communications/calls/{id}/redirect`: the targets that ring instead of the
/// bot, an optional `timeout` (15 to 90 seconds) and `callbackUri`.
///
/// ```
/// use graph_comms_transfer::{control::{Redirect, Target}, CallContext, Guid};
///
/// let user: Guid = "98da8a1a-1b87-452c-a713-65d3f10b1253".parse()?;
/// let (body, _) = Redirect::to(Target::teams_user(user, None)).timeout(30).build_for(&CallContext::peer())?;
/// assert_eq!(body.targets.len(), 1);
/// assert!(Redirect::to(Target::teams_user(user, None)).timeout(5).build_for(&CallContext::peer()).is_err());
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Redirect {
    targets: Vec<Target>,
    timeout: Option<i32>,
    callback_uri: Option<String>,
}

impl Redirect {
    /// Redirects to `target`.
    pub fn to(target: Target) -> Self {
        Self {
            targets: vec![target],
            timeout: None,
            callback_uri: None,
        }
    }

    /// Adds a target (they ring at once; the first to answer takes the call).
    pub fn also(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    /// Sets `timeout`, in seconds (15 to 90).
    pub fn timeout(mut self, seconds: i32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// Sets `callbackUri`.
    pub fn callback_uri(mut self, uri: impl Into<String>) -> Self {
        self.callback_uri = Some(uri.into());
        self
    }

    /// The request body.
    pub fn build(self) -> RedirectRequestBody {
        RedirectRequestBody {
            targets: self.targets.into_iter().map(Target::into_inner).collect(),
            timeout: self.timeout,
            callback_uri: self.callback_uri,
            additional_data: serde_json::Map::new(),
        }
    }

    /// The request body, checked by [`validate_redirect`](crate::control::validate_redirect).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) when a rule is broken.
    pub fn build_for(self, ctx: &CallContext) -> Result<(RedirectRequestBody, Report)> {
        let body = self.build();
        let report = checked("redirect", validate_redirect(&body, ctx))?;
        Ok((body, report))
    }
}
