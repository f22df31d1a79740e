//! The transfer state machine: what one notification does to one transfer's record.
//!
//! Everything here is a pure function of a [`TransferRecord`] (plain data) and a
//! [`NotificationEvent`]: no clocks, no wakers, no I/O. The tracker applies it inside the store's
//! read-modify-write ([`TransferStore::update`](crate::TransferStore::update)) and then wakes
//! whoever waits on the transfer from the [`Step`] it returns. Because the outcome depends only on
//! which notifications a transfer received (the property tests show that the orders Graph can
//! produce, and duplicates, don't change it), any store that can keep a record and run this
//! function atomically on it can back the tracker.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use graph_comms_model::CallState;

use crate::event::{normalize_call_id, EventKind, NotificationEvent};
use crate::outcome::TransferOutcome;
use crate::store::TransferRecord;
use crate::tracker::Applied;

/// Whether an event can matter to a transfer: a transfer step, or the call's end.
pub(crate) fn is_relevant(event: &NotificationEvent) -> bool {
    event.kind != EventKind::Other || event.is_call_end()
}

/// Identifies a final event, to recognise a retried delivery of it.
pub(crate) fn fingerprint(event: &NotificationEvent) -> u64 {
    let mut h = DefaultHasher::new();
    event.kind.hash(&mut h);
    event.state.hash(&mut h);
    event.change_type.hash(&mut h);
    event.result_code.hash(&mut h);
    event.result_subcode.hash(&mut h);
    event.result_message.hash(&mut h);
    event.termination_reason.hash(&mut h);
    event.replaces_context.hash(&mut h);
    h.finish()
}

/// What one event did, before it is reported as [`Applied`].
pub(crate) enum Step {
    Progress,
    Resolved(u64),
    ConsultationEnded,
    Duplicate,
    Late,
    LateResult(u64),
    Ignored,
}

impl Step {
    pub(crate) fn public(&self) -> Applied {
        match self {
            Step::Progress => Applied::Progress,
            Step::Resolved(_) => Applied::Resolved,
            Step::ConsultationEnded => Applied::ConsultationEnded,
            Step::Duplicate => Applied::Duplicate,
            Step::Late => Applied::Late,
            Step::LateResult(_) => Applied::LateResult,
            Step::Ignored => Applied::Ignored,
        }
    }
}

/// Operation ids compare like call ids (the older payloads spell them as bare upper-case GUIDs).
fn same_operation(a: &str, b: &str) -> bool {
    normalize_call_id(a) == normalize_call_id(b)
}

/// What a final (or failing) event means for this transfer, if anything. Progress events and
/// events that say nothing final return `None`.
fn final_outcome(record: &TransferRecord, event: &NotificationEvent) -> Option<TransferOutcome> {
    let code = event.result_code;
    let subcode = event.result_subcode;
    let message = event.result_message.clone();
    let termination_reason = event.termination_reason.clone();
    match &event.kind {
        EventKind::Completed => Some(TransferOutcome::completed_with(
            code,
            subcode,
            message,
            termination_reason,
        )),
        EventKind::Failed {
            code,
            subcode,
            message,
            replaces_context,
        } => Some(TransferOutcome::Failed {
            code: Some(*code),
            subcode: *subcode,
            message: message.clone(),
            replaces_context: replaces_context.clone(),
            termination_reason,
            inferred: false,
            late: false,
        }),
        EventKind::OperationFailed {
            code,
            subcode,
            message,
        } => {
            let ours = match (&record.operation_id, &event.operation_id) {
                (Some(mine), Some(theirs)) => same_operation(mine, theirs),
                _ => false,
            };
            ours.then(|| TransferOutcome::Failed {
                code: *code,
                subcode: *subcode,
                message: message.clone(),
                replaces_context: None,
                termination_reason,
                inferred: false,
                late: false,
            })
        }
        _ if event.is_bare_delete() => Some(if record.seen_accepted {
            TransferOutcome::completed(true)
        } else {
            TransferOutcome::call_ended(false)
        }),
        _ if event.is_call_end() => Some(TransferOutcome::call_ended_with(
            code,
            subcode,
            message,
            termination_reason,
        )),
        _ => None,
    }
}

/// Notes what a progress event says about the transfer; `true` when it moved it forward.
fn note_progress(record: &mut TransferRecord, event: &NotificationEvent) -> Option<bool> {
    if let (EventKind::Transferring | EventKind::TransferAccepted, Some(op)) =
        (&event.kind, &event.operation_id)
    {
        if record.operation_id.is_none() {
            record.operation_id = Some(op.clone());
        }
    }
    match &event.kind {
        EventKind::Transferring => {
            if record.seen_transferring || record.seen_accepted {
                return Some(false);
            }
            record.seen_transferring = true;
            Some(true)
        }
        EventKind::TransferAccepted => {
            if record.seen_accepted {
                return Some(false);
            }
            record.seen_accepted = true;
            Some(true)
        }
        _ => {
            if event.on_call
                && event.state == Some(CallState::Established)
                && (record.seen_transferring || record.seen_accepted)
            {
                // Back to `established` without a failure code: no outcome by itself (it may be
                // a late notification from before the transfer); reconciliation weighs it.
                record.seen_established = true;
            }
            None
        }
    }
}

/// Applies one event to the transferred call's record. Pure: the record and the event decide,
/// plus `retried`, which tells whether a final event's fingerprint is that of the previous
/// attempt's final event while a retried delivery of it is still expected (see
/// `TrackerConfig::late_window`); it is asked only about a final event before any progress.
pub(crate) fn apply_to_transfer(
    record: &mut TransferRecord,
    event: &NotificationEvent,
    retried: impl FnOnce(u64) -> bool,
) -> Step {
    if record.outcome.is_some() {
        if record.late_until.is_some() {
            // Timed out and remembered: a final result now is this transfer's late outcome.
            if note_progress(record, event).is_some() {
                return Step::Duplicate;
            }
            let Some(outcome) = final_outcome(record, event) else {
                return Step::Ignored;
            };
            record.outcome = Some(Box::new(outcome.into_late()));
            return Step::LateResult(fingerprint(event));
        }
        // Only waiting for the consultation call's end; the transfer itself is over.
        return if is_relevant(event) {
            Step::Late
        } else {
            Step::Ignored
        };
    }
    match note_progress(record, event) {
        Some(true) => return Step::Progress,
        Some(false) => return Step::Duplicate,
        None => {}
    }
    let Some(outcome) = final_outcome(record, event) else {
        return Step::Ignored;
    };
    let fp = fingerprint(event);
    // A retried delivery of the previous attempt's final event must not end this attempt.
    let fresh = record.seen_transferring || record.seen_accepted;
    if !fresh && retried(fp) {
        return Step::Late;
    }
    record.outcome = Some(Box::new(outcome));
    Step::Resolved(fp)
}

/// Applies one event to the record through its consultation call. Pure, as
/// [`apply_to_transfer`].
pub(crate) fn apply_to_consultation(
    record: &mut TransferRecord,
    event: &NotificationEvent,
) -> Step {
    if !event.is_call_end() {
        return Step::Ignored;
    }
    if record.consultation_ended {
        return Step::Duplicate;
    }
    record.consultation_ended = true;
    Step::ConsultationEnded
}
