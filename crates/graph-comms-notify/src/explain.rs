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
/// assert!(explain_subcode(7505).is_some_and(|e| e.contains("tenant")));
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
        "the transfer completed: the caller is with the target and the bot's leg has ended; \
         nothing more to do for this call",
    ),
    (
        7000,
        "the target did not take the transfer (declined, unreachable or not answering); the \
         caller is still connected to the bot: tell them, then retry, transfer elsewhere or keep \
         handling the call",
    ),
    (
        7700,
        "the consultative transfer failed; the caller is still connected to the bot and the \
         consultation call may still be up: end or reuse it, then retry or keep handling the call",
    ),
    (
        7505,
        "Graph refused the transfer because the bot, the call and the target are not in the same \
         tenant; transfer to a target of the call's tenant",
    ),
    (
        8523,
        "Graph cannot transfer a call that became a meeting (group) call; invite the target and \
         remove the bot instead",
    ),
];
