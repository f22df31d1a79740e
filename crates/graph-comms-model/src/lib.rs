//! Serde types for Microsoft Graph cloud-communications call transfer, generated from Graph's CSDL
//! metadata.

pub mod routing;
