#![doc = include_str!("../README.md")]

pub mod derived;
mod generated;
mod resource_data;
mod result_info;
pub mod routing;
mod wire;

pub use derived::MediaConfigKind;
pub use generated::*;
pub use resource_data::ResourceData;
pub use wire::WireInt;
