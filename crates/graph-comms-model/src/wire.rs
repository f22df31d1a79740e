//! Wire helpers shared by the generated code: object keys, field errors that name the JSON path,
//! unknown fields kept, lenient enums, and [`WireInt`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, MapAccess};

/// An object key, borrowed from the input when it has no escapes.
#[derive(Debug)]
pub(crate) struct Key<'de>(Cow<'de, str>);

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Reads the value of field `name`; an error names the JSON path (`transferTarget.identity...`).
pub(crate) fn field<'de, A, T>(map: &mut A, name: &str) -> Result<T, A::Error>
where
    A: MapAccess<'de>,
    T: de::Deserialize<'de>,
{
    map.next_value().map_err(|e| prefix_path(name, e))
}

/// Keeps an unknown field's value in `additional_data`.
pub(crate) fn keep<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: Key<'de>,
    additional_data: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), A::Error> {
    let value: serde_json::Value = map.next_value().map_err(|e| prefix_path(key.as_str(), e))?;
    additional_data.insert(key.0.into_owned(), value);
    Ok(())
}

/// The messages serde gives data errors (wrong type, value or shape), as opposed to syntax errors.
const DATA_ERRORS: &[&str] = &[
    "invalid type",
    "invalid value",
    "invalid length",
    "unknown variant",
    "unknown field",
    "missing field",
    "duplicate field",
    "a number that is not finite",
];

/// `name: message`, or `name.inner.path: message` when the inner message already names a path.
///
/// Only data errors get a path: a syntax error (broken JSON) is passed through untouched so that
/// it stays a syntax error, with its line and column, for the caller to report as such.
fn prefix_path<E: de::Error>(name: &str, inner: E) -> E {
    let msg = inner.to_string();
    let names_path = msg
        .split_once(": ")
        .is_some_and(|(head, _)| !head.is_empty() && !head.contains([' ', '`', '"']));
    if names_path {
        E::custom(format_args!("{name}.{msg}"))
    } else if DATA_ERRORS.iter().any(|p| msg.starts_with(p)) {
        E::custom(format_args!("{name}: {msg}"))
    } else {
        inner
    }
}

/// Deserializes an extensible enum from its wire string; unknown strings are kept.
pub(crate) fn deserialize_enum<'de, D, T>(
    deserializer: D,
    what: &'static str,
) -> Result<T, D::Error>
where
    D: de::Deserializer<'de>,
    T: for<'a> From<&'a str> + From<String>,
{
    struct V<T>(&'static str, std::marker::PhantomData<T>);
    impl<T: for<'a> From<&'a str> + From<String>> de::Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a {} value (a string)", self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            Ok(T::from(v))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
            Ok(T::from(v))
        }
    }
    deserializer.deserialize_str(V(what, std::marker::PhantomData))
}

/// An integer as Graph puts it on the wire: a JSON number (`500`) or a string holding one
/// (`"500"`). Both forms are kept as they came, so a round trip writes back the same JSON.
///
/// ```
/// use graph_comms_model::WireInt;
/// let n: WireInt = serde_json::from_str("7015").unwrap();
/// let s: WireInt = serde_json::from_str("\"7015\"").unwrap();
/// assert_eq!(n.value(), Some(7015));
/// assert_eq!(s.value(), Some(7015));
/// assert_eq!(serde_json::to_string(&s).unwrap(), "\"7015\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WireInt {
    /// A JSON number (any JSON number is kept, even one that is not an integer).
    Number(serde_json::Number),
    /// A JSON string, kept verbatim; [`WireInt::value`] reads it when it holds a decimal integer.
    Text(String),
}

impl WireInt {
    /// The integer, when the number is an integer that fits `i64` or the string is exactly one
    /// (an optional `-` and ASCII digits, nothing else).
    pub fn value(&self) -> Option<i64> {
        match self {
            Self::Number(n) => n.as_i64(),
            Self::Text(s) => parse_decimal(s),
        }
    }
}

/// Parses an optional `-` followed by ASCII digits; no spaces, no `+`, no other characters.
pub(crate) fn parse_decimal(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl From<i64> for WireInt {
    fn from(v: i64) -> Self {
        Self::Number(v.into())
    }
}

impl fmt::Display for WireInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => n.fmt(f),
            Self::Text(s) => f.write_str(s),
        }
    }
}

impl serde::Serialize for WireInt {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Number(n) => n.serialize(serializer),
            Self::Text(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> de::Deserialize<'de> for WireInt {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = WireInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer, or a string holding one")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireInt, E> {
                Ok(WireInt::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireInt, E> {
                Ok(WireInt::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WireInt, E> {
                serde_json::Number::from_f64(v)
                    .map(WireInt::Number)
                    .ok_or_else(|| E::custom("a number that is not finite"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireInt, E> {
                Ok(WireInt::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<WireInt, E> {
                Ok(WireInt::Text(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}
