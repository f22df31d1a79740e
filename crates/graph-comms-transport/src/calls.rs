//! Call control through [`GraphCommsClient`]: place a call, answer, reject or redirect an
//! incoming one, hang up, play a prompt, hold music, list participants.
//!
//! Every action goes through the transfer's send path: a token for the client's tenant, a
//! `client-request-id` per logical request (kept across its retries), retries only where Graph
//! did not act (429, 503, a connection that failed before sending), so none of them is ever sent
//! twice; a 504, a timeout or a connection lost after sending is [`Error::OutcomeUnknown`]. Graph's
//! refusals are typed with its `request-id`.
//!
//! The permissions each action needs are listed on the `impl` block below ([`GraphCommsClient`]'s
//! documentation).

use bytes::Bytes;
use graph_comms_model::{
    AnswerRequestBody, Call, Participant, PlayPromptOperation, PlayPromptRequestBody,
    RedirectRequestBody, RejectRequestBody, StartHoldMusicOperation, StartHoldMusicRequestBody,
    StopHoldMusicOperation, StopHoldMusicRequestBody,
};
use http::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use crate::client::{Accepted, GraphCommsClient};
use crate::error::{Error, Result};
use crate::pipeline::Idempotency;

/// Graph's answer to an action that returns a resource: the ids of the exchange and the resource
/// (`None` when Graph sent no body).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Replied<T> {
    /// The status and ids, as for a `202`.
    pub accepted: Accepted,
    /// The resource Graph returned: the new call, or the operation it started.
    pub value: Option<T>,
}

/// # Call control
///
/// The application permissions each action needs, as Graph's `call` and `participant` pages list
/// them (any one of those listed; a 403 usually means a missing one):
///
/// | method | Graph request | answer | permission |
/// |---|---|---|---|
/// | [`create_call`](GraphCommsClient::create_call) | `POST /communications/calls` | 201 + `call` | `Calls.Initiate.All` (a peer call), `Calls.InitiateGroupCall.All` (a group call), `Calls.JoinGroupCall.All` or `Calls.JoinGroupCallAsGuest.All` (a meeting) |
/// | [`answer`](GraphCommsClient::answer) | `POST .../calls/{id}/answer` | 202 | `Calls.JoinGroupCall.All` or `Calls.JoinGroupCallAsGuest.All` |
/// | [`reject`](GraphCommsClient::reject) | `POST .../calls/{id}/reject` | 202 | `Calls.Initiate.All` or `Calls.AccessMedia.All` |
/// | [`redirect`](GraphCommsClient::redirect) | `POST .../calls/{id}/redirect` | 202 | `Calls.Initiate.All` |
/// | [`hang_up`](GraphCommsClient::hang_up) | `DELETE .../calls/{id}` | 204 | `Calls.Initiate.All` or `Calls.AccessMedia.All` |
/// | [`play_prompt`](GraphCommsClient::play_prompt) | `POST .../calls/{id}/playPrompt` | 200 + `playPromptOperation` | `Calls.Initiate.All` or `Calls.AccessMedia.All` |
/// | [`start_hold_music`](GraphCommsClient::start_hold_music), [`stop_hold_music`](GraphCommsClient::stop_hold_music) | `POST .../participants/{id}/startHoldMusic`, `stopHoldMusic` | 200 + operation | `Calls.JoinGroupCall.All` or `Calls.JoinGroupCallAsGuest.All` (not only `Calls.Initiate.All`) |
/// | [`list_participants`](GraphCommsClient::list_participants) | `GET .../calls/{id}/participants` | 200 + list | `Calls.JoinGroupCall.All` or `Calls.JoinGroupCallAsGuest.All` |
/// | [`transfer`](GraphCommsClient::transfer) | `POST .../calls/{id}/transfer` | 202 | `Calls.Initiate.All` |
///
/// An action answered with an operation ([`play_prompt`](GraphCommsClient::play_prompt), hold
/// music) returns it; the operation's completion arrives later as a notification (`resourceUrl`
/// `.../operations/{id}`, a `commsOperation` with `status` `completed` or `failed`), which
/// `graph_comms_notify`'s `CallLifecycle` follows.
impl GraphCommsClient {
    /// The URL of `call_id` followed by `suffix` segments (each percent-encoded).
    fn call_action_url(&self, call_id: &str, suffix: &[&str]) -> Result<Url> {
        let mut relative = crate::cloud::encode_call_id(call_id)?;
        for seg in suffix {
            let encoded =
                graph_comms_transfer::call_path_segment(seg).map_err(|e| Error::InvalidUrl {
                    url: format!("{}{relative}", self.base_url().calls()),
                    reason: format!("path segment {seg:?}: {e}"),
                })?;
            relative.push('/');
            relative.push_str(&encoded);
        }
        self.base_url().resolve(&relative)
    }

    /// `{base}/communications/calls` (or the legacy calls path the base URL names).
    fn calls_url(&self) -> Result<Url> {
        let mut url = self.base_url().calls().clone();
        url.path_segments_mut()
            .map_err(|()| Error::InvalidUrl {
                url: self.base_url().as_str().to_owned(),
                reason: "the base URL cannot have path segments".to_owned(),
            })?
            .pop_if_empty();
        Ok(url)
    }

    async fn post_action<B: Serialize + ?Sized>(&self, url: Url, body: &B) -> Result<Accepted> {
        let json = Bytes::from(graph_comms_transfer::to_json_vec(body)?);
        let (accepted, _) = self
            .send_raw(Method::POST, url, Some(json), Idempotency::Unsafe)
            .await?;
        Ok(accepted)
    }

    async fn post_for<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        url: Url,
        body: &B,
    ) -> Result<Replied<T>> {
        let json = Bytes::from(graph_comms_transfer::to_json_vec(body)?);
        let (accepted, bytes) = self
            .send_raw(Method::POST, url, Some(json), Idempotency::Unsafe)
            .await?;
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(serde_json::from_slice(&bytes).map_err(Error::Decode)?)
        };
        Ok(Replied { accepted, value })
    }

    /// Places a call: `POST {base}/communications/calls` with `call` (build it with
    /// `graph_comms_transfer::OutgoingCall`). Graph answers `201 Created` with the call, whose
    /// `id` the bot then follows (for a consultative transfer, the `replacesCallId`).
    ///
    /// # Errors
    /// As [`transfer`](Self::transfer); after a success, [`Error::Decode`] when the returned call
    /// is not JSON (Graph has acted: do not place the call again).
    pub async fn create_call(&self, call: &Call) -> Result<Replied<Call>> {
        let url = self.calls_url()?;
        self.post_for(url, call).await
    }

    /// Answers the incoming call `call_id` (`202 Accepted`); build the body with
    /// `graph_comms_transfer::Answer`.
    ///
    /// # Errors
    /// As [`transfer`](Self::transfer).
    pub async fn answer(&self, call_id: &str, body: &AnswerRequestBody) -> Result<Accepted> {
        let url = self.call_action_url(call_id, &["answer"])?;
        self.post_action(url, body).await
    }

    /// Rejects the incoming call `call_id` (`202 Accepted`); Graph then sends a bare `deleted`
    /// notification.
    ///
    /// # Errors
    /// As [`transfer`](Self::transfer).
    pub async fn reject(&self, call_id: &str, body: &RejectRequestBody) -> Result<Accepted> {
        let url = self.call_action_url(call_id, &["reject"])?;
        self.post_action(url, body).await
    }

    /// Redirects the incoming call `call_id` to other targets (`202 Accepted`).
    ///
    /// # Errors
    /// As [`transfer`](Self::transfer).
    pub async fn redirect(&self, call_id: &str, body: &RedirectRequestBody) -> Result<Accepted> {
        let url = self.call_action_url(call_id, &["redirect"])?;
        self.post_action(url, body).await
    }

    /// Hangs up: `DELETE {base}/communications/calls/{id}` (`204 No Content`). Never repeated
    /// after Graph may have acted, like every action.
    ///
    /// # Errors
    /// As [`transfer`](Self::transfer).
    pub async fn hang_up(&self, call_id: &str) -> Result<Accepted> {
        let url = self.base_url().call_url(call_id)?;
        let (accepted, _) = self
            .send_raw(Method::DELETE, url, None, Idempotency::Unsafe)
            .await?;
        Ok(accepted)
    }

    /// Plays prompts on the call `call_id`; Graph answers with the `playPromptOperation` it
    /// started (`status` `running`), which completes later in a notification.
    ///
    /// # Errors
    /// As [`create_call`](Self::create_call).
    pub async fn play_prompt(
        &self,
        call_id: &str,
        body: &PlayPromptRequestBody,
    ) -> Result<Replied<PlayPromptOperation>> {
        let url = self.call_action_url(call_id, &["playPrompt"])?;
        self.post_for(url, body).await
    }

    /// Puts the participant `participant_id` of the call `call_id` on hold with music; needs
    /// `Calls.JoinGroupCall.All` or `Calls.JoinGroupCallAsGuest.All`.
    ///
    /// # Errors
    /// As [`create_call`](Self::create_call).
    pub async fn start_hold_music(
        &self,
        call_id: &str,
        participant_id: &str,
        body: &StartHoldMusicRequestBody,
    ) -> Result<Replied<StartHoldMusicOperation>> {
        let url =
            self.call_action_url(call_id, &["participants", participant_id, "startHoldMusic"])?;
        self.post_for(url, body).await
    }

    /// Takes the participant `participant_id` off hold.
    ///
    /// # Errors
    /// As [`create_call`](Self::create_call).
    pub async fn stop_hold_music(
        &self,
        call_id: &str,
        participant_id: &str,
        body: &StopHoldMusicRequestBody,
    ) -> Result<Replied<StopHoldMusicOperation>> {
        let url =
            self.call_action_url(call_id, &["participants", participant_id, "stopHoldMusic"])?;
        self.post_for(url, body).await
    }

    /// Lists the participants of the call `call_id` (`GET .../participants`, the first page).
    /// Reads are safe to repeat, so they are also retried after timeouts and 5xx.
    ///
    /// # Errors
    /// As [`get_call`](Self::get_call).
    pub async fn list_participants(&self, call_id: &str) -> Result<Vec<Participant>> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            value: Vec<Participant>,
        }
        let url = self.call_action_url(call_id, &["participants"])?;
        let (_, body) = self
            .send_raw(Method::GET, url, None, Idempotency::Safe)
            .await?;
        let page: Page = serde_json::from_slice(&body).map_err(Error::Decode)?;
        Ok(page.value)
    }
}
