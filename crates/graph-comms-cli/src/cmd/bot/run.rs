//! The bot at run time: answers each call the receiver is offered, greets, walks the matched
//! rule's chain, and ends with its last resort; one stderr line and one JSON line per call.
//!
//! With a shared store (`--store`), an offered call is taken by the one instance that claims it
//! (`store::claim_after`, before Graph is answered): that instance answers it (or rejects it)
//! with its own callback URI, so the call's later notifications come to it; the others leave it
//! alone. Each blind attempt (a target of the chain, a last resort) is registered in the store
//! before it is sent and awaited through it, as an attempt of the call: whichever instance
//! receives its notifications records them, and a previous attempt's late results do not leak
//! into the next. A consultative attempt is followed by this instance's own tracker (the
//! consultation call it places posts to its own callback URI too).

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graph_comms_flow::{ConsultOptions, ConsultOutcome, Consultation, ReconcileOptions};
use graph_comms_model::{EndpointType, TransferRequestBody};
use graph_comms_notify::{
    normalize_call_id, CallFollower, CallLifecycle, CallPhase, EventKind, IncomingCall,
    SharedTracker, TrackOptions, TransferOutcome, TransferTracker,
};
use graph_comms_receiver::{Delivery, NotificationHandler};
use graph_comms_transfer::control::Target as CallTarget;
use graph_comms_transfer::{Answer, Guid, OutgoingCall, PlayPrompt, Reject, Transfer};
use graph_comms_transport::GraphCommsClient;
use jiff::Timestamp;
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch, Semaphore};

use super::ops::{AttemptOutcome, LogSink, Metrics, Refusal};
use super::rules::{CallFacts, LastResort, Rule, Rules, Target, TargetKind};
use crate::cmd::store;

/// How long an answered call may take to be established.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a prompt may play before the bot goes on.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything a call's task needs; shared by the receiver's handler and the shutdown.
#[derive(Debug)]
pub(crate) struct Bot {
    pub(crate) client: GraphCommsClient,
    pub(crate) tracker: TransferTracker,
    /// The fleet's shared store (`--store`): offers are claimed and blind attempts registered
    /// and awaited through it.
    pub(crate) shared: Option<SharedTracker>,
    pub(crate) lifecycle: Arc<CallLifecycle>,
    pub(crate) rules: Rules,
    pub(crate) callback_uri: String,
    /// A fixed clock for time-of-day rules (`--now`), else the system's.
    pub(crate) now: Option<Timestamp>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) log: LogSink,
    /// One permit per call in progress (`--max-calls`).
    pub(crate) slots: Arc<Semaphore>,
    /// Set at the drain deadline: chains stop and calls get their last resort.
    pub(crate) cutoff: watch::Sender<bool>,
    pub(crate) transfer_timeout: Duration,
    /// Print one line per call on stderr (the demo shows its own view instead).
    pub(crate) live: bool,
    /// The calls in progress (ids as compared), so that an offer Graph delivers twice is
    /// answered once; at most `--max-calls` entries.
    pub(crate) active: Mutex<HashSet<String>>,
}

/// The receiver's handler: feeds the lifecycle and starts a task per incoming call.
#[derive(Debug)]
pub(crate) struct Handler(pub(crate) Arc<Bot>);

impl NotificationHandler for Handler {
    fn on_notifications(&self, delivery: &Delivery<'_>) {
        store::queue(delivery);
        for e in delivery.events {
            self.0.lifecycle.apply(e);
        }
    }

    fn on_incoming_call(&self, call: &IncomingCall, _: &Delivery<'_>) {
        let bot = Arc::clone(&self.0);
        bot.metrics.offered.fetch_add(1, Ordering::Relaxed);
        let info = CallInfo::of(call);
        // With a store, the instance whose claim wins takes the call (answers or rejects it).
        let claim = bot
            .shared
            .as_ref()
            .map(|_| store::claim_after(&info.call_id, &bot.callback_uri));
        let refuse = |why: Refusal, claim: Option<oneshot::Receiver<bool>>| {
            let (bot, info) = (Arc::clone(&bot), info.clone());
            tokio::spawn(async move {
                if bot.taken(&info, claim).await {
                    bot.metrics.rejected(why);
                    bot.reject(info, why).await;
                }
            });
        };
        if bot.metrics.draining.load(Ordering::Relaxed) {
            return refuse(Refusal::Draining, claim);
        }
        let Ok(permit) = Arc::clone(&bot.slots).try_acquire_owned() else {
            return refuse(Refusal::Busy, claim);
        };
        let now = bot.now.unwrap_or_else(Timestamp::now);
        let Some(rule) = bot.rules.find(&info.facts, now).cloned() else {
            return refuse(Refusal::NoRule, claim);
        };
        let key = normalize_call_id(&info.call_id).into_owned();
        if !bot.active().insert(key.clone()) {
            return; // the same offer again (Graph delivers at least once): already answering
        }
        // Before answering: the callbacks may beat the answer's 202.
        let follower = bot.lifecycle.follow(&info.call_id);
        bot.metrics.in_progress.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            if bot.taken(&info, claim).await {
                bot.handle(info, rule, follower).await;
            }
            bot.metrics.in_progress.fetch_sub(1, Ordering::Relaxed);
            bot.active().remove(&key);
            drop(permit);
        });
    }
}

/// What the bot knows of an incoming call.
#[derive(Debug, Clone)]
pub(crate) struct CallInfo {
    call_id: String,
    /// The caller as shown in logs: number, display name or id (attacker-controlled).
    caller: Option<String>,
    tenant: Option<String>,
    facts: CallFacts,
}

impl CallInfo {
    fn of(call: &IncomingCall) -> CallInfo {
        let mut callee = Vec::new();
        if let Some(set) = &call.callee {
            for identity in [&set.application_instance, &set.phone, &set.application]
                .into_iter()
                .flatten()
            {
                if let Some(id) = &identity.id {
                    callee.push(id.clone());
                }
            }
        }
        let caller_tenant = call
            .caller
            .as_ref()
            .and_then(|s| s.user.as_ref())
            .and_then(|u| u.tenant_id.clone());
        let caller_id = call
            .caller
            .as_ref()
            .and_then(|s| s.user.as_ref().or(s.application.as_ref()))
            .and_then(|i| i.id.clone());
        CallInfo {
            call_id: call.call_id.clone(),
            caller: call
                .caller_phone()
                .or(call.caller_display_name())
                .map(str::to_owned)
                .or(caller_id),
            tenant: call.tenant_id.clone(),
            facts: CallFacts {
                callee,
                caller_phone: call.caller_phone().map(str::to_owned),
                caller_tenant,
            },
        }
    }

    fn tenant_guid(&self) -> Option<Guid> {
        self.tenant.as_deref().and_then(|t| Guid::parse(t).ok())
    }
}

/// One attempt of a call, for its JSON line.
#[derive(Debug)]
struct Attempt {
    target: String,
    mode: &'static str,
    outcome: Option<AttemptOutcome>,
    reason: Option<String>,
    code: Option<i64>,
    subcode: Option<i64>,
    started: Instant,
    duration: Duration,
}

impl Attempt {
    /// An attempt starting now, its outcome still unknown.
    fn start(target: String, mode: &'static str) -> Attempt {
        Attempt {
            target,
            mode,
            outcome: None,
            reason: None,
            code: None,
            subcode: None,
            started: Instant::now(),
            duration: Duration::ZERO,
        }
    }

    fn json(&self) -> Value {
        json!({
            "target": self.target,
            "mode": self.mode,
            "outcome": self.outcome.unwrap_or(AttemptOutcome::Interrupted).name(),
            "reason": self.reason,
            "resultCode": self.code,
            "resultSubcode": self.subcode,
            "durationMs": u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

/// What an attempt reports.
struct Ended {
    outcome: AttemptOutcome,
    reason: Option<String>,
    code: Option<i64>,
    subcode: Option<i64>,
}

impl Ended {
    fn new(outcome: AttemptOutcome) -> Self {
        Ended {
            outcome,
            reason: None,
            code: None,
            subcode: None,
        }
    }

    fn because(outcome: AttemptOutcome, reason: impl std::fmt::Display) -> Self {
        Ended {
            reason: Some(reason.to_string()),
            ..Ended::new(outcome)
        }
    }
}

/// How the chain ended.
enum ChainEnd {
    Transferred,
    CallEnded,
    Exhausted,
}

impl Bot {
    /// Whether this instance takes the offered call: always without a store; with one, when its
    /// claim won (another instance has the call, or the store failed and Graph offers it again).
    async fn taken(&self, info: &CallInfo, claim: Option<oneshot::Receiver<bool>>) -> bool {
        let Some(claim) = claim else {
            return true;
        };
        let why = match claim.await {
            Ok(true) => return true,
            Ok(false) => "taken by another instance",
            Err(_) => "not claimed (the store failed; Graph offers it again)",
        };
        if self.live {
            eprintln!(
                "graph-comms: call {:?} from {:?}: {why}",
                info.call_id,
                info.caller.as_deref().unwrap_or("-"),
            );
        }
        false
    }

    /// The calls in progress.
    fn active(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rejects a call the bot will not answer, and logs it.
    async fn reject(&self, info: CallInfo, why: Refusal) {
        let body = Reject::busy().build();
        let error = self.client.reject(&info.call_id, &body).await.err();
        eprintln!(
            "graph-comms: call {:?} from {:?}: rejected ({}){}",
            info.call_id,
            info.caller.as_deref().unwrap_or("-"),
            why.name(),
            error
                .as_ref()
                .map(|e| format!(": reject failed: {:?}", e.to_string()))
                .unwrap_or_default()
        );
        self.log.line(&json!({
            "callId": info.call_id,
            "caller": info.caller,
            "callee": info.facts.callee,
            "rule": null,
            "result": "rejected",
            "reason": why.name(),
            "attempts": [],
            "durationMs": 0,
        }));
    }

    /// Answers, greets, walks the chain, and ends with the last resort if needed.
    async fn handle(&self, info: CallInfo, rule: Rule, mut follower: CallFollower) {
        let started = Instant::now();
        let mut attempts: Vec<Attempt> = Vec::new();
        let result = match self.answer(&info, &rule, &mut follower).await {
            Err(result) => result,
            Ok(()) => {
                let mut cutoff = self.cutoff.subscribe();
                let end = tokio::select! {
                    end = self.chain(&info, &rule, &mut attempts) => Some(end),
                    _ = cutoff.wait_for(|c| *c) => None,
                };
                if let Some(last) = attempts.last_mut() {
                    if last.outcome.is_none() {
                        last.outcome = Some(AttemptOutcome::Interrupted);
                        last.reason = Some("shutdown deadline".to_owned());
                        last.duration = last.started.elapsed();
                        self.metrics.attempt(AttemptOutcome::Interrupted);
                    }
                }
                match end {
                    Some(ChainEnd::Transferred) => "transferred",
                    Some(ChainEnd::CallEnded) => "callEnded",
                    Some(ChainEnd::Exhausted) | None => {
                        self.last_resort(&info, &rule.last_resort, &mut attempts)
                            .await
                    }
                }
            }
        };
        let summary: Vec<String> = attempts
            .iter()
            .map(|a| {
                format!(
                    "{} {}",
                    a.target,
                    a.outcome.unwrap_or(AttemptOutcome::Interrupted).name()
                )
            })
            .collect();
        if self.live {
            eprintln!(
                "graph-comms: call {:?} from {:?} rule {:?}: {} -> {result} ({:.1} s)",
                info.call_id,
                info.caller.as_deref().unwrap_or("-"),
                rule.name,
                if summary.is_empty() {
                    "no attempt".to_owned()
                } else {
                    summary.join(", ")
                },
                started.elapsed().as_secs_f64(),
            );
        }
        self.log.line(&json!({
            "callId": info.call_id,
            "caller": info.caller,
            "callee": info.facts.callee,
            "rule": rule.name,
            "result": result,
            "attempts": attempts.iter().map(Attempt::json).collect::<Vec<_>>(),
            "durationMs": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }));
    }

    /// Answers the call, waits for it to be established, plays the rule's prompt.
    async fn answer(
        &self,
        info: &CallInfo,
        rule: &Rule,
        follower: &mut CallFollower,
    ) -> Result<(), &'static str> {
        let body = Answer::new(&self.callback_uri).build();
        if let Err(e) = self.client.answer(&info.call_id, &body).await {
            eprintln!(
                "graph-comms: call {:?}: answer refused: {:?}",
                info.call_id,
                e.to_string()
            );
            return Err("answerRefused");
        }
        match tokio::time::timeout(ESTABLISH_TIMEOUT, follower.established()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err("callEnded"),
            Err(_) => {
                let _ = self.client.hang_up(&info.call_id).await;
                return Err("notEstablished");
            }
        }
        self.metrics.answered.fetch_add(1, Ordering::Relaxed);
        if let Some(prompt) = &rule.prompt {
            self.play(&info.call_id, prompt).await;
        }
        Ok(())
    }

    /// Plays a prompt and waits (bounded) until it has played.
    async fn play(&self, call_id: &str, uri: &str) {
        let body = PlayPrompt::media(uri).build();
        match self.client.play_prompt(call_id, &body).await {
            Ok(replied) => {
                if let Some(id) = replied.value.and_then(|op| op.id) {
                    let mut op = self.lifecycle.follow_operation(&id);
                    let _ = tokio::time::timeout(PROMPT_TIMEOUT, op.finished()).await;
                }
            }
            Err(e) => eprintln!(
                "graph-comms: call {call_id:?}: prompt refused: {:?}",
                e.to_string()
            ),
        }
    }

    /// Tries each target in order until one puts the caller through or the caller is gone (the
    /// shutdown deadline cuts it short from outside, in `handle`).
    async fn chain(&self, info: &CallInfo, rule: &Rule, attempts: &mut Vec<Attempt>) -> ChainEnd {
        for target in &rule.targets {
            if matches!(self.lifecycle.phase(&info.call_id), CallPhase::Ended(_)) {
                return ChainEnd::CallEnded;
            }
            let mode = if target.consult { "consult" } else { "blind" };
            attempts.push(Attempt::start(target.kind.label(), mode));
            let ended = if target.consult {
                self.consult(info, target).await
            } else {
                self.blind(info, transfer_to(&target.kind, info.tenant_guid()))
                    .await
            };
            let outcome = ended.outcome;
            record(attempts, ended, &self.metrics);
            match outcome {
                AttemptOutcome::Completed => return ChainEnd::Transferred,
                AttemptOutcome::CallEnded => return ChainEnd::CallEnded,
                _ => {}
            }
        }
        ChainEnd::Exhausted
    }

    /// A blind transfer, tracked from before the request; reconciled when it times out.
    async fn blind(&self, info: &CallInfo, body: TransferRequestBody) -> Ended {
        let mut options = TrackOptions::default().with_timeout(self.transfer_timeout);
        if let Some(t) = &info.tenant {
            options = options.with_tenant(t.clone());
        }
        if let Some(shared) = &self.shared {
            return self.blind_shared(shared, info, body, options).await;
        }
        let mut handle = match self.tracker.track_with(info.call_id.clone(), options) {
            Ok(h) => h,
            Err(e) => return Ended::because(AttemptOutcome::Refused, e),
        };
        if let Err(e) = self.client.transfer(&info.call_id, &body).await {
            return Ended::because(AttemptOutcome::Refused, e);
        }
        let mut outcome = (&mut handle).await;
        if outcome == TransferOutcome::TimedOut {
            if let Ok(o) =
                graph_comms_flow::reconcile_handle(&self.client, &handle, &self.reconcile()).await
            {
                outcome = o;
            }
        }
        ended(&outcome)
    }

    /// A blind transfer as an attempt in the shared store: registered before the request (the
    /// store refuses it while another attempt on the call is in flight), awaited through the
    /// store whichever instance records its notifications, reconciled when it times out.
    async fn blind_shared(
        &self,
        shared: &SharedTracker,
        info: &CallInfo,
        body: TransferRequestBody,
        options: TrackOptions,
    ) -> Ended {
        let record = match shared.register(&info.call_id, &options).await {
            Ok(r) => r,
            Err(e) => return Ended::because(AttemptOutcome::Refused, e),
        };
        if let Err(e) = self.client.transfer(&info.call_id, &body).await {
            // Graph refused it (or it could not be sent): the attempt ends here, so that the next
            // one may register.
            let _ = shared
                .store()
                .record_outcome(&record.call_id, &TransferOutcome::failed(true))
                .await;
            return Ended::because(AttemptOutcome::Refused, e);
        }
        let mut outcome = match store::wait(shared, &record.call_id, record.deadline).await {
            Ok(o) => o,
            Err(e) => return Ended::because(AttemptOutcome::TimedOut, e),
        };
        if outcome == TransferOutcome::TimedOut {
            let accepted = match shared.store().log(&record.call_id).await {
                Ok(Some(t)) => t.log.iter().any(|e| e.kind == EventKind::TransferAccepted),
                _ => false,
            };
            if let Ok(o) = graph_comms_flow::reconcile(
                &self.client,
                &info.call_id,
                accepted,
                &self.reconcile(),
            )
            .await
            {
                if o != TransferOutcome::TimedOut {
                    // Kept as the attempt's late result, for whoever reads it.
                    let _ = shared.store().record_outcome(&record.call_id, &o).await;
                }
                outcome = o;
            }
        }
        ended(&outcome)
    }

    fn reconcile(&self) -> ReconcileOptions {
        ReconcileOptions::default().with_grace(self.transfer_timeout.min(Duration::from_secs(30)))
    }

    /// A consultative transfer: the caller on hold, the target called, the transfer once they
    /// answer; rolled back (the caller back with the bot) on anything else.
    async fn consult(&self, info: &CallInfo, target: &Target) -> Ended {
        let TargetKind::User(user) = &target.kind else {
            return Ended::because(AttemptOutcome::Refused, "only a user can be consulted");
        };
        let participants = match self.client.list_participants(&info.call_id).await {
            Ok(p) => p,
            Err(e) => return Ended::because(AttemptOutcome::Refused, e),
        };
        let Some(caller) = crate::cmd::consult::caller(&participants) else {
            return Ended::because(AttemptOutcome::Refused, "no participant to transfer");
        };
        let tenant = info.tenant_guid();
        let mut call = OutgoingCall::to(&self.callback_uri, CallTarget::teams_user(*user, tenant));
        if let Some(t) = &tenant {
            call = call.tenant(*t);
        }
        let mut consultation = Consultation::new(
            info.call_id.clone(),
            caller,
            call.build(),
            Transfer::to_teams_user(*user, tenant),
        )
        .options(
            ConsultOptions::default()
                .with_answer_timeout(Duration::from_secs(target.answer_timeout))
                .with_transfer_timeout(self.transfer_timeout),
        );
        if let Some(t) = &info.tenant {
            consultation = consultation.tenant(t.clone());
        }
        let outcome = consultation
            .run(&self.client, &self.tracker, &self.lifecycle, |_| {})
            .await;
        match outcome {
            Err(e) => Ended::because(AttemptOutcome::Refused, e),
            Ok(o) => {
                let (kind, reason) = match &o {
                    ConsultOutcome::Completed { .. } => (AttemptOutcome::Completed, None),
                    ConsultOutcome::RolledBack { reason, .. } => {
                        (AttemptOutcome::RolledBack, Some(reason.name().to_owned()))
                    }
                    ConsultOutcome::CallEnded { .. } => (AttemptOutcome::CallEnded, None),
                    _ => (AttemptOutcome::Failed, None),
                };
                Ended {
                    outcome: kind,
                    reason,
                    code: o.code(),
                    subcode: o.subcode(),
                }
            }
        }
    }

    /// The chain's end: a queue, a voicemail, or a prompt and a hang-up; a transfer that does
    /// not put the caller through ends in a hang-up too, so that no caller is left in silence.
    async fn last_resort(
        &self,
        info: &CallInfo,
        last: &LastResort,
        attempts: &mut Vec<Attempt>,
    ) -> &'static str {
        if matches!(self.lifecycle.phase(&info.call_id), CallPhase::Ended(_)) {
            return "callEnded";
        }
        let body = match last {
            LastResort::Queue(q) => Some(Transfer::to_application_instance(*q).build()),
            LastResort::Voicemail(u) => Some(
                Transfer::to_teams_user(*u, info.tenant_guid())
                    .endpoint_type(EndpointType::Voicemail)
                    .build(),
            ),
            LastResort::HangUp { .. } => None,
        };
        let mode = match last {
            LastResort::Queue(_) => "queue",
            LastResort::Voicemail(_) => "voicemail",
            LastResort::HangUp { .. } => "hangUp",
        };
        attempts.push(Attempt::start(last.label(), mode));
        if let Some(body) = body {
            let ended = self.blind(info, body).await;
            let outcome = ended.outcome;
            record(attempts, ended, &self.metrics);
            match outcome {
                AttemptOutcome::Completed => return "lastResort",
                AttemptOutcome::CallEnded => return "callEnded",
                _ => {}
            }
            attempts.push(Attempt::start("hangUp".to_owned(), "hangUp"));
        } else if let LastResort::HangUp {
            prompt: Some(prompt),
        } = last
        {
            self.play(&info.call_id, prompt).await;
        }
        let ended = match self.client.hang_up(&info.call_id).await {
            Ok(_) => Ended::new(AttemptOutcome::HungUp),
            Err(e) => Ended::because(AttemptOutcome::Refused, e),
        };
        record(attempts, ended, &self.metrics);
        if mode == "hangUp" {
            "lastResort"
        } else {
            "hungUp"
        }
    }
}

/// What a blind attempt's outcome reports.
fn ended(outcome: &TransferOutcome) -> Ended {
    let kind = match outcome {
        TransferOutcome::Completed { .. } => AttemptOutcome::Completed,
        TransferOutcome::Failed { .. } => AttemptOutcome::Failed,
        TransferOutcome::CallEnded { .. } => AttemptOutcome::CallEnded,
        _ => AttemptOutcome::TimedOut,
    };
    Ended {
        outcome: kind,
        // Why it did not put the caller through (Graph's codes explained).
        reason: (kind != AttemptOutcome::Completed)
            .then(|| outcome.explanation().map(str::to_owned))
            .flatten(),
        code: outcome.code(),
        subcode: outcome.subcode(),
    }
}

/// Fills in the last attempt and counts it.
fn record(attempts: &mut [Attempt], ended: Ended, metrics: &Metrics) {
    metrics.attempt(ended.outcome);
    if let Some(a) = attempts.last_mut() {
        a.outcome = Some(ended.outcome);
        a.reason = ended.reason;
        a.code = ended.code;
        a.subcode = ended.subcode;
        a.duration = a.started.elapsed();
    }
}

/// A blind transfer's body to a chain target.
fn transfer_to(kind: &TargetKind, tenant: Option<Guid>) -> TransferRequestBody {
    match kind {
        TargetKind::User(u) => Transfer::to_teams_user(*u, tenant).build(),
        TargetKind::Phone(p) => Transfer::to_phone(p.clone()).build(),
        TargetKind::Instance(i) => Transfer::to_application_instance(*i).build(),
    }
}
