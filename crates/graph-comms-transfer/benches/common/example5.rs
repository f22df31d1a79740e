//! Example 5 of the `call: transfer` page (group call, corrected form; the largest of the five
//! bodies), built as the transfer bench and `examples/control_cost.rs` both time it.

use graph_comms_model::{EndpointType, TransferRequestBody};
use graph_comms_transfer::{Guid, Transfer, Transferee};

/// Example 5 with these ids.
pub(crate) fn example5(target: Guid, tenant: Guid, transferee: Guid) -> TransferRequestBody {
    Transfer::to_teams_user(target, tenant)
        .display_name("Heidi Steen")
        .endpoint_type(EndpointType::Default)
        .language_id("languageId-value")
        .region("region-value")
        .transferee(Transferee::teams_user(
            transferee,
            tenant,
            "909c6581-5130-43e9-88f3-fcb3582cde37",
        ))
        .build()
}
