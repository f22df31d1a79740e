//! Call control beside the transfer: place a call, answer, reject or redirect an incoming one,
//! play a prompt, hold music. Each builder gives the model's body for one Graph action, and
//! `build_for` checks it against the [`CallContext`](crate::CallContext) as
//! [`Transfer::build_for`](crate::Transfer::build_for) does: every violation with its JSON path,
//! in the same [`Report`].
//!
//! | Graph request | builder | body | rules |
//! |---|---|---|---|
//! | `POST /communications/calls` | [`OutgoingCall`] | [`Call`](graph_comms_model::Call) | [`validate_call`] |
//! | `POST .../calls/{id}/answer` | [`Answer`] | [`AnswerRequestBody`](graph_comms_model::AnswerRequestBody) | [`validate_answer`] |
//! | `POST .../calls/{id}/reject` | [`Reject`] | [`RejectRequestBody`](graph_comms_model::RejectRequestBody) | [`validate_reject`] |
//! | `POST .../calls/{id}/redirect` | [`Redirect`] | [`RedirectRequestBody`](graph_comms_model::RedirectRequestBody) | [`validate_redirect`] |
//! | `POST .../calls/{id}/playPrompt` | [`PlayPrompt`] | [`PlayPromptRequestBody`](graph_comms_model::PlayPromptRequestBody) | [`validate_play_prompt`] |
//! | `POST .../participants/{id}/startHoldMusic` | [`HoldMusic`] | [`StartHoldMusicRequestBody`](graph_comms_model::StartHoldMusicRequestBody) | [`validate_start_hold_music`] |
//! | `POST .../participants/{id}/stopHoldMusic` | [`HoldMusic::stop`] | [`StopHoldMusicRequestBody`](graph_comms_model::StopHoldMusicRequestBody) | [`validate_stop_hold_music`] |
//!
//! ```
//! use graph_comms_transfer::control::{Answer, Redirect, Reject, Target};
//! use graph_comms_transfer::{CallContext, Guid};
//!
//! let ctx = CallContext::peer();
//! let (answer, _) = Answer::new("https://bot.contoso.com/api/calls").build_for(&ctx)?;
//! let reject = Reject::busy().build();
//! let user: Guid = "98da8a1a-1b87-452c-a713-65d3f10b1253".parse()?;
//! let (redirect, _) = Redirect::to(Target::teams_user(user, None)).build_for(&ctx)?;
//!
//! // The same error style as the transfer's: JSON paths and the rule broken.
//! let err = Answer::new("http://bot.contoso.com/api/calls").build_for(&ctx).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "the answer request breaks 1 rule: callbackUri: \"http://bot.contoso.com/api/calls\" is not an absolute https URL (Graph reaches only https URLs)"
//! );
//! # let _ = (answer, reject, redirect);
//! # Ok::<(), graph_comms_transfer::Error>(())
//! ```

mod create;
mod incoming;
mod media;
mod rules;
mod target;

pub use create::OutgoingCall;
pub use incoming::{Answer, Redirect, Reject};
pub use media::{HoldMusic, PlayPrompt};
pub use rules::{
    validate_answer, validate_call, validate_play_prompt, validate_redirect, validate_reject,
    validate_start_hold_music, validate_stop_hold_music, REDIRECT_TIMEOUT_SECS,
};
pub use target::Target;

use crate::error::{Error, Report, Result};

/// `Ok(report)` when it holds no error, else [`Error::InvalidRequest`] for `action`.
pub(crate) fn checked(action: &'static str, report: Report) -> Result<Report> {
    if report.has_errors() {
        Err(Error::InvalidRequest { action, report })
    } else {
        Ok(report)
    }
}
