//! Consultative transfer, orchestrated: hold the caller, call the target, transfer with
//! `replacesCallId`, or put the caller back.
//!
//! Graph's consultative transfer (`transferTarget.replacesCallId`) assumes the bot has already
//! placed a second call to the target and that the target agreed. [`Consultation::run`] does the
//! whole dance in one call:
//!
//! | step | Graph request | when it goes wrong |
//! |---|---|---|
//! | hold the caller | `POST .../participants/{id}/startHoldMusic` | an error: nothing else was done |
//! | call the target | `POST /communications/calls` | hold stopped; an error |
//! | wait for the answer (bounded) | notifications of the new call | declined, busy, no answer: [`ConsultOutcome::RolledBack`] |
//! | the bot's hook | (the bot's code) | [`Proceed::RollBack`]: rolled back |
//! | transfer | `POST .../transfer` with `replacesCallId` | refused (e.g. 8523 in a meeting), 500/7700, timed out: rolled back |
//! | done | Graph ends both legs (the consultation call with `AppTransferred`) | |
//!
//! Rolling back stops the hold music and hangs up the consultation call if it is still up. If
//! the caller hangs up at any point, the consultation call is hung up and the outcome is
//! [`ConsultOutcome::CallEnded`].
//!
//! **Cancel safety.** Once the consultation call is placed, a guard owns it: dropping the future
//! returned by [`Consultation::run`] (a timeout around it, a `select!`, a task aborted) spawns, on
//! the current Tokio runtime, a `DELETE` of the consultation call and a `stopHoldMusic` for the
//! caller, so no consultation call is left up.
//!
//! **What it supports.** Peer calls, the usual case of a bot that answered a caller. In a group
//! call, give the transfer a transferee ([`Transfer::transferee`]); Graph may still refuse a
//! transfer there, and always refuses it in a meeting (`403`, code 8523 "Cannot do transfer for
//! meeting mode"): the flow reports that refusal as [`RollbackReason::TransferRefused`] with the
//! code, after putting the caller back. It offers no fallback (inviting the target into the
//! meeting with `replacesCallId`, then removing the transferee) because that is a different
//! operation (`participants/invite`) with other permissions and other outcomes, which the client
//! does not implement.

use std::future::Future;
use std::time::Duration;

use graph_comms_model::{Call, StartHoldMusicRequestBody};
use graph_comms_notify::{
    CallEnd, CallFollower, CallLifecycle, CallPhase, TrackOptions, TransferOutcome,
    TransferProgress, TransferTracker,
};
use graph_comms_transfer::{CallId, HoldMusic, Transfer};
use graph_comms_transport::GraphCommsClient;

use crate::error::{Error, Result};
use crate::reconcile::{reconcile_handle, ReconcileOptions};

/// How long each bounded step of a [`Consultation`] may take.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsultOptions {
    /// How long the target has to answer the consultation call (default 30 s); then the call is
    /// hung up and the consultation [`RollbackReason::NoAnswer`].
    pub answer_timeout: Duration,
    /// How long the bot's hook may take (default 5 minutes); then the consultation is rolled back
    /// ([`RollbackReason::HookTimedOut`]).
    pub hook_timeout: Duration,
    /// How long the transfer has to reach an outcome (default 60 s) before Graph is asked
    /// ([`reconcile_handle`]).
    pub transfer_timeout: Duration,
    /// How long, after a completed transfer, Graph has to end the consultation call itself
    /// (default 10 s) before the flow hangs it up.
    pub consultation_end_grace: Duration,
    /// Reconciliation of a transfer that timed out.
    pub reconcile: ReconcileOptions,
}

impl Default for ConsultOptions {
    fn default() -> Self {
        Self {
            answer_timeout: Duration::from_secs(30),
            hook_timeout: Duration::from_secs(300),
            transfer_timeout: Duration::from_secs(60),
            consultation_end_grace: Duration::from_secs(10),
            reconcile: ReconcileOptions::default(),
        }
    }
}

impl ConsultOptions {
    /// Sets [`answer_timeout`](Self::answer_timeout).
    #[must_use]
    pub fn with_answer_timeout(mut self, timeout: Duration) -> Self {
        self.answer_timeout = timeout;
        self
    }

    /// Sets [`transfer_timeout`](Self::transfer_timeout).
    #[must_use]
    pub fn with_transfer_timeout(mut self, timeout: Duration) -> Self {
        self.transfer_timeout = timeout;
        self
    }

    /// Sets [`hook_timeout`](Self::hook_timeout).
    #[must_use]
    pub fn with_hook_timeout(mut self, timeout: Duration) -> Self {
        self.hook_timeout = timeout;
        self
    }

    /// Sets [`reconcile`](Self::reconcile).
    #[must_use]
    pub fn with_reconcile(mut self, reconcile: ReconcileOptions) -> Self {
        self.reconcile = reconcile;
        self
    }
}

/// What the bot's hook decides once the target has answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proceed {
    /// Transfer the caller to the target.
    Transfer,
    /// Put the caller back (the target refused, ...); the reason is reported.
    RollBack(String),
}

/// Why a consultation was rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RollbackReason {
    /// The target declined the consultation call (e.g. 603).
    Declined,
    /// The target was busy (486).
    Busy,
    /// The target did not answer: Graph said so (408, 480) or [`ConsultOptions::answer_timeout`]
    /// passed.
    NoAnswer,
    /// The consultation call ended before the transfer (the target hung up).
    ConsultationEnded,
    /// The bot's hook said [`Proceed::RollBack`].
    Hook(String),
    /// The bot's hook took longer than [`ConsultOptions::hook_timeout`].
    HookTimedOut,
    /// Graph refused the transfer request (e.g. 403 with 8523 in a meeting, 7505); the code is
    /// Graph's `error.code` when numeric.
    TransferRefused,
    /// The transfer failed (e.g. 500/7700, the consultative transfer failed).
    TransferFailed,
    /// The transfer reached no outcome, even after asking Graph.
    TransferTimedOut,
}

impl RollbackReason {
    /// A short name for logs and JSON (`"declined"`, `"noAnswer"`, `"transferFailed"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Declined => "declined",
            Self::Busy => "busy",
            Self::NoAnswer => "noAnswer",
            Self::ConsultationEnded => "consultationEnded",
            Self::Hook(_) => "hook",
            Self::HookTimedOut => "hookTimedOut",
            Self::TransferRefused => "transferRefused",
            Self::TransferFailed => "transferFailed",
            Self::TransferTimedOut => "transferTimedOut",
        }
    }
}

impl std::fmt::Display for RollbackReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Declined => f.write_str("the target declined the consultation call"),
            Self::Busy => f.write_str("the target was busy"),
            Self::NoAnswer => f.write_str("the target did not answer"),
            Self::ConsultationEnded => {
                f.write_str("the consultation call ended before the transfer")
            }
            Self::Hook(why) => write!(f, "the bot rolled back: {why:?}"),
            Self::HookTimedOut => f.write_str("the bot's hook timed out"),
            Self::TransferRefused => f.write_str("Graph refused the transfer"),
            Self::TransferFailed => f.write_str("the transfer failed"),
            Self::TransferTimedOut => f.write_str("the transfer reached no outcome in time"),
        }
    }
}

/// How a [`Consultation`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsultOutcome {
    /// The caller was transferred to the target; both of the bot's legs ended.
    Completed {
        /// The consultation call's id.
        consultation_call_id: String,
        /// The transfer's outcome, with its codes.
        transfer: TransferOutcome,
    },
    /// The caller is back with the bot: hold music stopped, consultation call hung up.
    RolledBack {
        /// Why.
        reason: RollbackReason,
        /// Graph's code for it (`resultInfo.code`, or a refusal's `error.code`), when known.
        code: Option<i64>,
        /// Graph's sub-code, when known.
        subcode: Option<i64>,
        /// The consultation call's id, when it was placed.
        consultation_call_id: Option<String>,
    },
    /// The caller's call ended (they hung up); the consultation call was hung up too.
    CallEnded {
        /// `resultInfo.code`, when known.
        code: Option<i64>,
        /// `resultInfo.subcode`, when known.
        subcode: Option<i64>,
    },
}

impl ConsultOutcome {
    /// `"completed"`, `"rolledBack"` or `"callEnded"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Completed { .. } => "completed",
            Self::RolledBack { .. } => "rolledBack",
            Self::CallEnded { .. } => "callEnded",
        }
    }

    /// Whether the caller was transferred.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Completed { .. })
    }

    /// Graph's code for the outcome, when known.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Completed { transfer, .. } => transfer.code(),
            Self::RolledBack { code, .. } | Self::CallEnded { code, .. } => *code,
        }
    }

    /// Graph's sub-code for the outcome, when known.
    pub fn subcode(&self) -> Option<i64> {
        match self {
            Self::Completed { transfer, .. } => transfer.subcode(),
            Self::RolledBack { subcode, .. } | Self::CallEnded { subcode, .. } => *subcode,
        }
    }
}

impl std::fmt::Display for ConsultOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codes = |code: Option<i64>, subcode: Option<i64>| match (code, subcode) {
            (Some(c), Some(s)) => format!(" ({c}/{s})"),
            (Some(c), None) => format!(" ({c})"),
            _ => String::new(),
        };
        match self {
            Self::Completed { .. } => f.write_str("transferred"),
            Self::RolledBack {
                reason,
                code,
                subcode,
                ..
            } => write!(f, "rolled back: {reason}{}", codes(*code, *subcode)),
            Self::CallEnded { code, subcode } => {
                write!(f, "the caller's call ended{}", codes(*code, *subcode))
            }
        }
    }
}

/// A step of a consultation, reported as it happens (for live views and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsultStep {
    /// The caller is on hold (`startHoldMusic` accepted).
    HoldStarted,
    /// The consultation call was placed.
    ConsultationPlaced {
        /// Its id.
        call_id: String,
    },
    /// The target answered.
    TargetAnswered,
    /// The transfer request was accepted (`202`).
    TransferSent,
    /// A step of the transfer.
    Transfer(TransferProgress),
    /// The consultation is being rolled back, and why.
    RollingBack(RollbackReason),
    /// The hold music was stopped (rolling back).
    HoldStopped,
    /// The flow hung up the consultation call.
    ConsultationHungUp,
}

/// A consultative transfer to orchestrate: the caller's call, the caller's participant, the
/// consultation call to place, and the transfer target. See the [module](self) documentation.
#[derive(Debug, Clone)]
pub struct Consultation {
    call_id: String,
    participant_id: String,
    consultation_call: Call,
    transfer: Transfer,
    hold: StartHoldMusicRequestBody,
    tenant_id: Option<String>,
    options: ConsultOptions,
}

impl Consultation {
    /// Transfers the caller `participant_id` of `call_id` to `transfer`'s target after consulting
    /// it with `consultation_call` (build it with `graph_comms_transfer::OutgoingCall`, the bot's
    /// callback URL in it). `transfer` must not set `replacesCallId`: the flow sets it to the
    /// consultation call.
    pub fn new(
        call_id: impl Into<String>,
        participant_id: impl Into<String>,
        consultation_call: Call,
        transfer: Transfer,
    ) -> Self {
        Self {
            call_id: call_id.into(),
            participant_id: participant_id.into(),
            consultation_call,
            transfer,
            hold: HoldMusic::start().build(),
            tenant_id: None,
            options: ConsultOptions::default(),
        }
    }

    /// Plays this hold prompt instead of Graph's default music (`startHoldMusic` body).
    #[must_use]
    pub fn hold(mut self, hold: StartHoldMusicRequestBody) -> Self {
        self.hold = hold;
        self
    }

    /// The tenant the caller's call belongs to (the transfer is tracked for it).
    #[must_use]
    pub fn tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Sets the timeouts.
    #[must_use]
    pub fn options(mut self, options: ConsultOptions) -> Self {
        self.options = options;
        self
    }

    /// [`run_with`](Self::run_with) with no hook: the transfer follows the target's answer.
    ///
    /// # Errors
    /// As [`run_with`](Self::run_with).
    pub async fn run(
        self,
        client: &GraphCommsClient,
        tracker: &TransferTracker,
        lifecycle: &CallLifecycle,
        on_step: impl FnMut(ConsultStep) + Send,
    ) -> Result<ConsultOutcome> {
        self.run_with(client, tracker, lifecycle, on_step, |_| async {
            Proceed::Transfer
        })
        .await
    }

    /// Runs the consultation. `tracker` and `lifecycle` must be fed the bot's notifications
    /// (the receiver's tracker, and a handler passing each delivery's events to
    /// [`CallLifecycle::apply`]); `on_step` sees each step; `hook` runs once the target has
    /// answered, with the consultation call's id, and decides whether to transfer.
    ///
    /// # Errors
    /// [`Error::Action`] when Graph refuses to put the caller on hold or to place the
    /// consultation call (the hold is stopped again first), [`Error::Track`] when the
    /// transfer cannot be tracked (it is not sent), [`Error::Graph`] when a timed-out transfer
    /// cannot be reconciled. Once the consultation call is placed, every other failure is a
    /// [`ConsultOutcome::RolledBack`].
    pub async fn run_with<F, Fut>(
        self,
        client: &GraphCommsClient,
        tracker: &TransferTracker,
        lifecycle: &CallLifecycle,
        mut on_step: impl FnMut(ConsultStep) + Send,
        hook: F,
    ) -> Result<ConsultOutcome>
    where
        F: FnOnce(String) -> Fut + Send,
        Fut: Future<Output = Proceed> + Send,
    {
        let call_id = self.call_id.clone();
        let mut caller = lifecycle.follow(&call_id);
        if let CallPhase::Ended(end) = caller.phase() {
            return Ok(call_ended(&end));
        }

        // 1. Hold the caller.
        client
            .start_hold_music(&call_id, &self.participant_id, &self.hold)
            .await
            .map_err(|source| Error::Action {
                action: "startHoldMusic",
                call_id: call_id.clone(),
                source,
            })?;
        on_step(ConsultStep::HoldStarted);
        let mut guard = Guard {
            client: client.clone(),
            call_id: call_id.clone(),
            participant_id: self.participant_id.clone(),
            held: true,
            consultation: None,
        };

        // 2. Call the target.
        let placed = match client.create_call(&self.consultation_call).await {
            Ok(r) => r.value.and_then(|c| c.id),
            Err(source) => {
                guard.roll_back(&mut on_step, None).await;
                return Err(Error::Action {
                    action: "create call",
                    call_id: call_id.clone(),
                    source,
                });
            }
        };
        let Some(consult_id) = placed else {
            guard.roll_back(&mut on_step, None).await;
            return Err(Error::NoCallId);
        };
        guard.consultation = Some(consult_id.clone());
        on_step(ConsultStep::ConsultationPlaced {
            call_id: consult_id.clone(),
        });
        let mut target = lifecycle.follow(&consult_id);

        // 3. Wait, bounded, for the answer (or for the caller to hang up).
        let answered = tokio::select! {
            r = tokio::time::timeout(self.options.answer_timeout, target.established()) => r,
            end = caller.ended() => {
                guard.roll_back(&mut on_step, Some(&target)).await;
                return Ok(call_ended(&end));
            }
        };
        match answered {
            Ok(Ok(())) => on_step(ConsultStep::TargetAnswered),
            Ok(Err(end)) => {
                let (reason, code, subcode) = refused_by(&end);
                return Ok(guard
                    .give_up(&mut on_step, &target, reason, code, subcode, consult_id)
                    .await);
            }
            Err(_elapsed) => {
                let reason = RollbackReason::NoAnswer;
                return Ok(guard
                    .give_up(&mut on_step, &target, reason, None, None, consult_id)
                    .await);
            }
        }

        // 4. The bot's hook, while either side may still hang up.
        let reason = tokio::select! {
            d = tokio::time::timeout(self.options.hook_timeout, hook(consult_id.clone())) => match d {
                Ok(Proceed::Transfer) => None,
                Ok(Proceed::RollBack(why)) => Some(RollbackReason::Hook(why)),
                Err(_elapsed) => Some(RollbackReason::HookTimedOut),
            },
            end = caller.ended() => {
                guard.roll_back(&mut on_step, Some(&target)).await;
                return Ok(call_ended(&end));
            }
            _ = target.ended() => Some(RollbackReason::ConsultationEnded),
        };
        if let Some(reason) = reason {
            return Ok(guard
                .give_up(&mut on_step, &target, reason, None, None, consult_id)
                .await);
        }

        // 5. Transfer, replacing the consultation call; track before sending.
        let replaces = match CallId::parse(&consult_id) {
            Ok(id) => id,
            Err(e) => {
                guard.roll_back(&mut on_step, Some(&target)).await;
                return Err(Error::BadCallId {
                    call_id: consult_id,
                    reason: e.to_string(),
                });
            }
        };
        let body = self.transfer.clone().consultative(replaces).build();
        let mut track = TrackOptions::consultative(consult_id.clone())
            .with_timeout(self.options.transfer_timeout);
        if let Some(t) = &self.tenant_id {
            track = track.with_tenant(t.clone());
        }
        let handle = match tracker.track_with(call_id.clone(), track) {
            Ok(h) => h,
            Err(source) => {
                guard.roll_back(&mut on_step, Some(&target)).await;
                return Err(Error::Track {
                    call_id: call_id.clone(),
                    source,
                });
            }
        };
        let mut progress = handle.progress();
        if let Err(e) = client.transfer(&call_id, &body).await {
            let (code, subcode) = refusal_code(&e);
            let reason = if e.is_outcome_unknown() {
                RollbackReason::TransferTimedOut
            } else {
                RollbackReason::TransferRefused
            };
            return Ok(guard
                .give_up(&mut on_step, &target, reason, code, subcode, consult_id)
                .await);
        }
        on_step(ConsultStep::TransferSent);
        while let Some(step) = progress.next().await {
            let done = matches!(step, TransferProgress::Finished(_));
            on_step(ConsultStep::Transfer(step));
            if done {
                break;
            }
        }
        let outcome = reconcile_handle(client, &handle, &self.options.reconcile).await?;

        // 6. Done, or put the caller back.
        match outcome {
            TransferOutcome::Completed { .. } => {
                // Graph ends the consultation call itself (`AppTransferred`); if it does not in
                // time, the flow hangs it up.
                let grace = self.options.consultation_end_grace;
                if tokio::time::timeout(grace, target.ended()).await.is_ok() {
                    guard.consultation = None;
                }
                guard.held = false;
                guard.roll_back(&mut on_step, Some(&target)).await;
                Ok(ConsultOutcome::Completed {
                    consultation_call_id: consult_id,
                    transfer: outcome,
                })
            }
            TransferOutcome::CallEnded { code, subcode, .. } => {
                guard.held = false;
                guard.roll_back(&mut on_step, Some(&target)).await;
                Ok(ConsultOutcome::CallEnded { code, subcode })
            }
            TransferOutcome::TimedOut => {
                let reason = RollbackReason::TransferTimedOut;
                Ok(guard
                    .give_up(&mut on_step, &target, reason, None, None, consult_id)
                    .await)
            }
            other => {
                let (code, subcode) = (other.code(), other.subcode());
                let reason = RollbackReason::TransferFailed;
                Ok(guard
                    .give_up(&mut on_step, &target, reason, code, subcode, consult_id)
                    .await)
            }
        }
    }
}

fn call_ended(end: &CallEnd) -> ConsultOutcome {
    let (code, subcode) = match end {
        CallEnd::Declined { code, subcode, .. } => (Some(*code), *subcode),
        CallEnd::Terminated { code, subcode, .. } => (*code, *subcode),
        _ => (None, None),
    };
    ConsultOutcome::CallEnded { code, subcode }
}

/// Why the consultation call did not connect, from how it ended.
fn refused_by(end: &CallEnd) -> (RollbackReason, Option<i64>, Option<i64>) {
    match end {
        CallEnd::Declined { code, subcode, .. } => {
            let reason = match code {
                486 => RollbackReason::Busy,
                408 | 480 => RollbackReason::NoAnswer,
                _ => RollbackReason::Declined,
            };
            (reason, Some(*code), *subcode)
        }
        CallEnd::Removed => (RollbackReason::Declined, None, None),
        CallEnd::Terminated { code, subcode, .. } => {
            (RollbackReason::ConsultationEnded, *code, *subcode)
        }
        _ => (RollbackReason::ConsultationEnded, None, None),
    }
}

/// A refusal's numeric `error.code` (e.g. 8523), else the HTTP status.
fn refusal_code(e: &graph_comms_transport::Error) -> (Option<i64>, Option<i64>) {
    let status = e.status().map(|s| i64::from(s.as_u16()));
    match e.code().and_then(|c| c.parse::<i64>().ok()) {
        Some(code) => (status, Some(code)),
        None => (status, None),
    }
}

/// Owns what a consultation has set up: the caller's hold and the consultation call. Rolling
/// back undoes both; dropping it without rolling back undoes them from a spawned task.
struct Guard {
    client: GraphCommsClient,
    call_id: String,
    participant_id: String,
    held: bool,
    consultation: Option<String>,
}

impl Guard {
    /// Reports [`ConsultStep::RollingBack`], rolls back, and says so.
    async fn give_up(
        &mut self,
        on_step: &mut (impl FnMut(ConsultStep) + Send),
        target: &CallFollower,
        reason: RollbackReason,
        code: Option<i64>,
        subcode: Option<i64>,
        consult_id: String,
    ) -> ConsultOutcome {
        on_step(ConsultStep::RollingBack(reason.clone()));
        self.roll_back(on_step, Some(target)).await;
        ConsultOutcome::RolledBack {
            reason,
            code,
            subcode,
            consultation_call_id: Some(consult_id),
        }
    }

    /// Stops the hold music and hangs up the consultation call (unless `target` shows it has
    /// ended); errors are ignored (the caller may be gone, the call already over). Disarms.
    async fn roll_back(
        &mut self,
        on_step: &mut (impl FnMut(ConsultStep) + Send),
        target: Option<&CallFollower>,
    ) {
        if let Some(consult) = self.consultation.take() {
            let up = target.is_none_or(|t| !matches!(t.phase(), CallPhase::Ended(_)));
            if up && self.client.hang_up(&consult).await.is_ok() {
                on_step(ConsultStep::ConsultationHungUp);
            }
        }
        if std::mem::take(&mut self.held) {
            let stop = HoldMusic::stop(None::<String>);
            if self
                .client
                .stop_hold_music(&self.call_id, &self.participant_id, &stop)
                .await
                .is_ok()
            {
                on_step(ConsultStep::HoldStopped);
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.consultation.is_none() && !self.held {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = self.client.clone();
        let consultation = self.consultation.take();
        let held = std::mem::take(&mut self.held);
        let (call_id, participant_id) = (self.call_id.clone(), self.participant_id.clone());
        runtime.spawn(async move {
            if let Some(consult) = consultation {
                let _ = client.hang_up(&consult).await;
            }
            if held {
                let stop = HoldMusic::stop(None::<String>);
                let _ = client
                    .stop_hold_music(&call_id, &participant_id, &stop)
                    .await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declined(code: i64) -> CallEnd {
        CallEnd::Declined {
            code,
            subcode: None,
            message: None,
        }
    }

    #[test]
    fn how_the_consultation_call_ended_names_the_rollback() {
        let check = |end: CallEnd| refused_by(&end).0;
        assert_eq!(check(declined(603)), RollbackReason::Declined);
        assert_eq!(check(declined(486)), RollbackReason::Busy);
        assert_eq!(check(declined(408)), RollbackReason::NoAnswer);
        assert_eq!(check(declined(480)), RollbackReason::NoAnswer);
        assert_eq!(check(CallEnd::Removed), RollbackReason::Declined);
        assert_eq!(
            refused_by(&CallEnd::Terminated {
                code: Some(200),
                subcode: Some(5001),
                message: None,
                termination_reason: None,
                was_established: true,
            }),
            (RollbackReason::ConsultationEnded, Some(200), Some(5001))
        );
    }

    #[test]
    fn outcomes_read_as_their_names_and_reasons() {
        let rolled = ConsultOutcome::RolledBack {
            reason: RollbackReason::Busy,
            code: Some(486),
            subcode: None,
            consultation_call_id: None,
        };
        assert_eq!(rolled.name(), "rolledBack");
        assert_eq!(rolled.to_string(), "rolled back: the target was busy (486)");
        let hook = RollbackReason::Hook("no \"thanks\"\n".into());
        // The bot's text is quoted and escaped.
        assert_eq!(
            hook.to_string(),
            r#"the bot rolled back: "no \"thanks\"\n""#
        );
        assert_eq!(
            ConsultOutcome::CallEnded {
                code: Some(200),
                subcode: Some(5001)
            }
            .to_string(),
            "the caller's call ended (200/5001)"
        );
    }
}
