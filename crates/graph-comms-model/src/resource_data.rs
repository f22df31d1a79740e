//! [`ResourceData`]: the `resourceData` of a notification, whose shape depends on the resource.

use serde::de::{self, Deserialize as _};

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
/// when every element reads as a [`Participant`]. An object is read in one pass as a call, so a
/// member that a call declares with another JSON type (`"state": 5`) is an error naming the path;
/// everything else that does not fit is kept.
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
        deserializer.deserialize_any(ResourceDataVisitor)
    }
}

/// Reads `resourceData` in one pass: an object straight into a [`Call`] (whose unknown members
/// are kept), then re-typed by its `@odata.type`; an array into participants; anything else kept.
struct ResourceDataVisitor;

impl<'de> de::Visitor<'de> for ResourceDataVisitor {
    type Value = ResourceData;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a resource (any JSON value)")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ResourceData, A::Error> {
        let call = crate::generated::CallVisitor.visit_map(map)?;
        if is_call_type(call.odata_type.as_deref()) {
            return Ok(ResourceData::Call(Box::new(call)));
        }
        // Not a call: read what was kept as the type it names (rare; costs a second pass).
        let value = serde_json::to_value(&call).map_err(de::Error::custom)?;
        Ok(ResourceData::from_value(value))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ResourceData, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<serde_json::Value>()? {
            items.push(item);
        }
        Ok(ResourceData::from_value(serde_json::Value::Array(items)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ResourceData, E> {
        Ok(ResourceData::Other(v.into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ResourceData, E> {
        Ok(ResourceData::Other(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ResourceData, E> {
        Ok(ResourceData::Other(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ResourceData, E> {
        Ok(ResourceData::Other(v.into()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ResourceData, E> {
        Ok(ResourceData::Other(v.into()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<ResourceData, E> {
        Ok(ResourceData::Other(serde_json::Value::Null))
    }
}

impl ResourceData {
    /// Classifies a JSON value; never fails (what does not fit is [`ResourceData::Other`]).
    pub fn from_value(value: serde_json::Value) -> Self {
        match &value {
            serde_json::Value::Object(map) => {
                let odata = map.get("@odata.type").and_then(|t| t.as_str());
                if is_call_type(odata) {
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

/// An absent `@odata.type`, or one naming `microsoft.graph.call`.
fn is_call_type(odata_type: Option<&str>) -> bool {
    odata_type.is_none_or(|t| {
        t.trim_start_matches('#')
            .eq_ignore_ascii_case("microsoft.graph.call")
    })
}
