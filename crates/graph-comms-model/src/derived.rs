//! The derived types that `@odata.type` tells apart inside one merged struct: a [`MediaConfig`]
//! is service-hosted or app-hosted, a [`Prompt`] is a media prompt.
//!
//! `mediaConfig` and `prompt` are abstract in Graph's metadata, so a request must say which
//! derived type it sends: the constructors here always set `@odata.type`, and [`MediaConfig::kind`]
//! reads it back (falling back on the fields when a payload leaves it out).

use crate::{MediaConfig, MediaInfo, Prompt};

/// The `@odata.type` of a service-hosted media configuration.
pub const SERVICE_HOSTED_MEDIA_CONFIG: &str = "#microsoft.graph.serviceHostedMediaConfig";
/// The `@odata.type` of an app-hosted media configuration.
pub const APP_HOSTED_MEDIA_CONFIG: &str = "#microsoft.graph.appHostedMediaConfig";
/// The `@odata.type` of a media prompt.
pub const MEDIA_PROMPT: &str = "#microsoft.graph.mediaPrompt";

/// Which derived type a [`MediaConfig`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaConfigKind {
    /// `serviceHostedMediaConfig`: Graph plays prompts and records; the bot sees no media.
    ServiceHosted,
    /// `appHostedMediaConfig`: the bot hosts the media (a `blob` from the media SDK).
    AppHosted,
    /// An `@odata.type` this model does not know, kept verbatim.
    Other(String),
}

impl MediaConfig {
    /// A service-hosted media configuration (`@odata.type` set), optionally with media to
    /// pre-fetch.
    pub fn service_hosted() -> Self {
        MediaConfig {
            odata_type: Some(SERVICE_HOSTED_MEDIA_CONFIG.to_owned()),
            ..Default::default()
        }
    }

    /// An app-hosted media configuration carrying the media SDK's `blob`.
    pub fn app_hosted(blob: impl Into<String>) -> Self {
        MediaConfig {
            odata_type: Some(APP_HOSTED_MEDIA_CONFIG.to_owned()),
            blob: Some(blob.into()),
            ..Default::default()
        }
    }

    /// Which derived type this is: `@odata.type` decides; without it, a `blob` means app-hosted
    /// and anything else service-hosted (the only other derived type).
    pub fn kind(&self) -> MediaConfigKind {
        match self.odata_type.as_deref() {
            Some(SERVICE_HOSTED_MEDIA_CONFIG) => MediaConfigKind::ServiceHosted,
            Some(APP_HOSTED_MEDIA_CONFIG) => MediaConfigKind::AppHosted,
            Some(other) => MediaConfigKind::Other(other.to_owned()),
            None if self.blob.is_some() => MediaConfigKind::AppHosted,
            None => MediaConfigKind::ServiceHosted,
        }
    }
}

impl Prompt {
    /// A media prompt (`@odata.type` set) that plays the audio file at `uri`.
    pub fn media(uri: impl Into<String>) -> Self {
        Prompt {
            odata_type: Some(MEDIA_PROMPT.to_owned()),
            media_info: Some(MediaInfo {
                uri: Some(uri.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_odata_type_decides_and_the_fields_break_a_tie() {
        assert_eq!(
            MediaConfig::service_hosted().kind(),
            MediaConfigKind::ServiceHosted
        );
        assert_eq!(
            MediaConfig::app_hosted("b").kind(),
            MediaConfigKind::AppHosted
        );
        let bare_blob = MediaConfig {
            blob: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(bare_blob.kind(), MediaConfigKind::AppHosted);
        assert_eq!(
            MediaConfig::default().kind(),
            MediaConfigKind::ServiceHosted
        );
        let other = MediaConfig {
            odata_type: Some("#microsoft.graph.futureMediaConfig".into()),
            ..Default::default()
        };
        assert_eq!(
            other.kind(),
            MediaConfigKind::Other("#microsoft.graph.futureMediaConfig".into())
        );
    }

    #[test]
    fn a_media_prompt_names_its_type_and_uri() {
        let json = serde_json::to_value(Prompt::media("https://cdn/p.wav")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"@odata.type": MEDIA_PROMPT, "mediaInfo": {"uri": "https://cdn/p.wav"}})
        );
    }
}
