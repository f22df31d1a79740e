//! [`ResourceData`]: the `resourceData` of a notification, whose shape depends on the resource.

use serde::de::Deserialize as _;

use crate::{Call, CommsOperation, Participant};

/// The `resourceData` of a `commsNotification`.
///
/// Graph's metadata does not declare it; payloads carry a `call` for call updates, an array of
/// `participant`s for roster updates (`resourceUrl` ending in `/participants`), a `commsOperation`
/// (or a type derived from it) for operation updates, and other resources still. What matches
/// none of these, or does not fit the model, is kept as raw JSON in [`ResourceData::Other`]:
/// a notification never fails to decode because of its `resourceData`.
///
/// Which variant: an object whose `@odata.type` is absent or names `call` is a [`Call`]; one whose
/// `@odata.type` ends in `Operation` is a [`CommsOperation`]; an array is [`ResourceData::Participants`]
/// when every element reads as a [`Participant`].
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceData {
    /// A call resource.
    Call(Box<Call>),
    /// A participant roster.
    Participants(Vec<Participant>),
    /// An operation (`commsOperation` or a type derived from it, such as `playPromptOperation`).
    Operation(Box<CommsOperation>),
    /// Anything else, as received.
    Other(serde_json::Value),
}

impl ResourceData {
    /// The call, when this is a call resource.
    pub fn as_call(&self) -> Option<&Call> {
        match self {
            Self::Call(c) => Some(c),
            _ => None,
        }
    }
}

impl serde::Serialize for ResourceData {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Call(c) => c.serialize(serializer),
            Self::Participants(p) => p.serialize(serializer),
            Self::Operation(o) => o.serialize(serializer),
            Self::Other(v) => v.serialize(serializer),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ResourceData {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Self::from_value(value))
    }
}

impl ResourceData {
    /// Classifies raw JSON; never fails (what does not fit is [`ResourceData::Other`]).
    pub fn from_value(value: serde_json::Value) -> Self {
        match &value {
            serde_json::Value::Object(map) => {
                let odata = map.get("@odata.type").and_then(|t| t.as_str());
                let is_call = match odata {
                    None => true,
                    Some(t) => t.trim_start_matches('#').eq_ignore_ascii_case("microsoft.graph.call"),
                };
                if is_call {
                    if let Ok(call) = Call::deserialize(&value) {
                        return Self::Call(Box::new(call));
                    }
                } else if odata.is_some_and(|t| t.ends_with("Operation")) {
                    if let Ok(op) = CommsOperation::deserialize(&value) {
                        return Self::Operation(Box::new(op));
                    }
                }
                Self::Other(value)
            }
            serde_json::Value::Array(_) => match Vec::<Participant>::deserialize(&value) {
                Ok(p) => Self::Participants(p),
                Err(_) => Self::Other(value),
            },
            _ => Self::Other(value),
        }
    }
}
