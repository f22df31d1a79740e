//! Human explanations for the result sub-codes a transfer can end with.

/// A plain-English explanation of a `resultInfo` sub-code seen around call transfers, or `None`
/// when the code is not one this crate knows. Unknown codes are never an error.
///
/// The table holds codes documented by Microsoft's `call: transfer` page (7015, 7000, 7700) and
/// codes that Graph returns for transfers as reported in Microsoft's own issue trackers (7505,
/// 8523); each entry says where it comes from.
///
/// ```
/// use graph_comms_notify::explain_subcode;
/// assert!(explain_subcode(7505).unwrap().contains("tenant"));
/// assert_eq!(explain_subcode(1), None);
/// ```
pub fn explain_subcode(subcode: i64) -> Option<&'static str> {
    KNOWN_SUBCODES
        .iter()
        .find(|(code, _)| *code == subcode)
        .map(|(_, text)| *text)
}

/// Known sub-codes and their explanations.
///
/// Sources: 7015/7000/7700 — the examples of Microsoft Graph's `call: transfer` page (completed
/// direct transfer; failed direct transfer; failed consultative transfer). 7505 — Graph's
/// "Request authorization tenant mismatch" error, reported for transfers to another tenant's
/// resource account (microsoftgraph/microsoft-graph-comms-samples#295). 8523 — "Cannot do transfer
/// for meeting mode" (microsoftgraph/microsoft-graph-comms-samples#512).
pub const KNOWN_SUBCODES: &[(i64, &str)] = &[
    (
        7015,
        "GracefulTransferCompleted: the transfer completed and the bot's call ended",
    ),
    (
        7000,
        "the transfer failed (the sub-code of the failed direct transfer in Microsoft's \
         call: transfer examples); the call is back in the established state",
    ),
    (
        7700,
        "the consultative transfer failed (the sub-code of the failed consultative transfer in \
         Microsoft's call: transfer examples); the call is back in the established state",
    ),
    (
        7505,
        "request authorization tenant mismatch: the bot, the call and the transfer target must \
         belong to the same tenant",
    ),
    (
        8523,
        "cannot transfer in meeting mode: the call became a group (meeting) call, for example after \
         participants were invited; invite the target and remove the transferee instead",
    ),
];
