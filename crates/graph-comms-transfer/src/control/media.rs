//! Media on a call the bot has: [`PlayPrompt`] plays audio files, [`HoldMusic`] puts a
//! participant on hold (with Graph's music or a custom prompt) and takes them off.

use graph_comms_model::{
    PlayPromptRequestBody, Prompt, StartHoldMusicRequestBody, StopHoldMusicRequestBody,
};

use crate::context::CallContext;
use crate::control::checked;
use crate::control::rules::{validate_play_prompt, validate_start_hold_music};
use crate::error::{Report, Result};

/// The body of `POST /communications/calls/{id}/playPrompt`: media prompts played in order.
///
/// ```
/// use graph_comms_transfer::{control::PlayPrompt, CallContext};
///
/// let (body, _) = PlayPrompt::media("https://cdn.contoso.com/beep.wav").build_for(&CallContext::peer())?;
/// assert_eq!(
///     serde_json::to_value(&body).unwrap(),
///     serde_json::json!({"prompts": [{
///         "@odata.type": "#microsoft.graph.mediaPrompt",
///         "mediaInfo": {"uri": "https://cdn.contoso.com/beep.wav"}
///     }]})
/// );
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct PlayPrompt {
    body: PlayPromptRequestBody,
}

impl PlayPrompt {
    /// Plays the audio file at `uri` (an https URL Graph can fetch).
    pub fn media(uri: impl Into<String>) -> Self {
        Self {
            body: PlayPromptRequestBody {
                prompts: vec![Prompt::media(uri)],
                ..Default::default()
            },
        }
    }

    /// Plays another file after the previous ones.
    pub fn then(mut self, uri: impl Into<String>) -> Self {
        self.body.prompts.push(Prompt::media(uri));
        self
    }

    /// Sets `clientContext` (echoed in the operation and its notifications).
    pub fn client_context(mut self, context: impl Into<String>) -> Self {
        self.body.client_context = Some(context.into());
        self
    }

    /// The request body.
    pub fn build(self) -> PlayPromptRequestBody {
        self.body
    }

    /// The request body, checked by [`validate_play_prompt`](crate::control::validate_play_prompt).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) when a rule is broken.
    pub fn build_for(self, ctx: &CallContext) -> Result<(PlayPromptRequestBody, Report)> {
        let body = self.build();
        let report = checked("playPrompt", validate_play_prompt(&body, ctx))?;
        Ok((body, report))
    }
}

/// The bodies of `POST /communications/calls/{id}/participants/{id}/startHoldMusic` and
/// `.../stopHoldMusic`.
///
/// ```
/// use graph_comms_transfer::{control::HoldMusic, CallContext};
///
/// let (start, _) = HoldMusic::start()
///     .custom_prompt("https://bot.contoso.com/onHold.wav")
///     .build_for(&CallContext::peer())?;
/// assert!(start.custom_prompt.is_some());
/// let stop = HoldMusic::stop(Some("d45324c1"));
/// assert_eq!(serde_json::to_string(&stop).unwrap(), r#"{"clientContext":"d45324c1"}"#);
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct HoldMusic {
    body: StartHoldMusicRequestBody,
}

impl HoldMusic {
    /// Starts Graph's hold music.
    pub fn start() -> Self {
        Self::default()
    }

    /// Plays the audio file at `uri` instead of Graph's music.
    pub fn custom_prompt(mut self, uri: impl Into<String>) -> Self {
        self.body.custom_prompt = Some(Prompt::media(uri));
        self
    }

    /// Sets `clientContext`.
    pub fn client_context(mut self, context: impl Into<String>) -> Self {
        self.body.client_context = Some(context.into());
        self
    }

    /// The `startHoldMusic` body.
    pub fn build(self) -> StartHoldMusicRequestBody {
        self.body
    }

    /// The `startHoldMusic` body, checked by
    /// [`validate_start_hold_music`](crate::control::validate_start_hold_music).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) when a rule is broken.
    pub fn build_for(self, ctx: &CallContext) -> Result<(StartHoldMusicRequestBody, Report)> {
        let body = self.build();
        let report = checked("startHoldMusic", validate_start_hold_music(&body, ctx))?;
        Ok((body, report))
    }

    /// The `stopHoldMusic` body, with an optional `clientContext`.
    pub fn stop(client_context: Option<impl Into<String>>) -> StopHoldMusicRequestBody {
        StopHoldMusicRequestBody {
            client_context: client_context.map(Into::into),
            ..Default::default()
        }
    }
}
