//! The routing-only decode: the few fields of a `commsNotifications` body a bot routes on, borrowed
//! from the input.
//!
//! The lossless model types keep every field of a notification. Most of a bot's work, though, only
//! needs to know *which call* a notification is about and *what happened*: `resourceUrl` (or the
//! legacy `resource`), `changeType`, and from `resourceData` the call `state`, `resultInfo`,
//! `terminationReason` and `replacesContext` (and an operation's `status` and `@odata.type`). This
//! module reads exactly those and skips everything else, in one pass over the bytes that checks
//! the JSON as serde_json's validate-only pass ([`serde::de::IgnoredAny`]) does, so it costs
//! little more than validating the JSON. Nearly every body needs nothing more; the rest
//! (escaped keys, unusual numbers, every error) go through serde's visitors, which give the same
//! result or the error with its line and column.
//!
//! Strings borrow from the input ([`Cow::Borrowed`]) unless the JSON escapes force a copy.
//!
//! The decode is lenient about everything that is not the envelope itself: a `resourceData` that is
//! an array (a participant roster), a string or absent, fields of an unexpected JSON type, result
//! codes given as numbers, numeric strings or non-numeric strings (`"subCode": "transferring"` in
//! Graph's 2019 examples) all decode without error. Only a body that is not JSON, not an object,
//! whose `value` is not an array, or whose `value` holds something other than objects, fails.
//!
//! ```
//! use graph_comms_model::routing::{self, RoutingData};
//!
//! let body = br#"{"value":[{"changeType":"deleted",
//!   "resourceUrl":"/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b",
//!   "resourceData":{"state":"terminated",
//!     "resultInfo":{"code":0,"subcode":"7015","message":"GracefulTransferCompleted"}}}]}"#;
//! let batch = routing::from_slice(body)?;
//! let n = &batch.notifications()[0];
//! assert_eq!(n.call_id(), Some("341a0500-d4bf-4224-8b19-1581168d328b"));
//! let RoutingData::Call(call) = &n.resource_data else { unreachable!() };
//! assert_eq!(call.state.as_deref(), Some("terminated"));
//! let info = call.result_info.as_ref().expect("resultInfo");
//! assert_eq!((info.code_value(), info.subcode_value()), (Some(0), Some(7015)));
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

mod scan;

/// Decodes a `commsNotifications` body from bytes.
///
/// The whole body must be UTF-8 (JSON is): the members this decode skips are not read, so it checks
/// the encoding first rather than let invalid bytes pass unseen.
///
/// # Errors
/// A [`serde_json::Error`] (with line and column) when the body is not UTF-8, not JSON, not an
/// object, its `value` is not an array, or an element of `value` is not an object.
pub fn from_slice(body: &[u8]) -> Result<RoutingBatch<'_>, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => from_str(text),
        Err(e) => Err(invalid_utf8(body, e.valid_up_to())),
    }
}

/// Decodes a `commsNotifications` body from a string. See [`from_slice`].
///
/// # Errors
/// As [`from_slice`].
pub fn from_str(body: &str) -> Result<RoutingBatch<'_>, serde_json::Error> {
    // One pass over the bytes answers nearly every body; the serde visitors below decide the
    // rest (escaped keys, unusual numbers, and every error, with its line and column).
    if let Some(batch) = scan::batch(body) {
        return Ok(batch);
    }
    from_str_visitors(body)
}

/// Decodes a `commsNotifications` body and maps each notification of its `value` with `f`, in
/// order, without collecting the notifications first: `Ok(None)` when the body has no `value`
/// (or it is `null`).
///
/// This is [`from_slice`] followed by `value.iter().map(f).collect()`, with the same result and
/// errors, but each notification is handed to `f` where it is read (no `Vec` of notifications).
/// `f` may be called more than once for the same notification (when the fast path hands a body
/// to serde's visitors after reading part of it; the first results are then dropped), so it
/// should have no side effects beyond building its result.
///
/// ```
/// use graph_comms_model::routing;
///
/// let body = br#"{"value":[{"resourceUrl":"/communications/calls/a"},{"resource":"/app/calls/b"}]}"#;
/// let ids = routing::map_slice(body, |n| n.call_id().map(str::to_owned))?;
/// assert_eq!(ids, Some(vec![Some("a".to_owned()), Some("b".to_owned())]));
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// # Errors
/// As [`from_slice`].
pub fn map_slice<'a, T>(
    body: &'a [u8],
    mut f: impl FnMut(&RoutingNotification<'a>) -> T,
) -> Result<Option<Vec<T>>, serde_json::Error> {
    let text = std::str::from_utf8(body).map_err(|e| invalid_utf8(body, e.valid_up_to()))?;
    if let Some(mapped) = scan::map_batch(text, &mut f) {
        return Ok(mapped);
    }
    let batch = from_str_visitors(text)?;
    Ok(batch.value.map(|v| v.iter().map(f).collect()))
}

/// [`from_str`] through serde's visitors alone (the reference the fast path is tested against).
fn from_str_visitors(body: &str) -> Result<RoutingBatch<'_>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(body);
    let batch = <RoutingBatch<'_> as de::Deserialize>::deserialize(&mut de)?;
    de.end()?;
    Ok(batch)
}

/// The error for a body whose byte at `offset` starts an invalid UTF-8 sequence, with its line and
/// column as serde_json counts them (column in bytes, from 1).
fn invalid_utf8(body: &[u8], offset: usize) -> serde_json::Error {
    let before = &body[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = offset
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    <serde_json::Error as de::Error>::custom(format_args!(
        "invalid UTF-8 at line {line} column {column}"
    ))
}

/// A `commsNotifications` body, reduced to its notifications' routing fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingBatch<'a> {
    /// The `value` array, or `None` when the body has no `value` member (or it is `null`).
    pub value: Option<Vec<RoutingNotification<'a>>>,
}

impl<'a> RoutingBatch<'a> {
    /// The notifications of the batch (empty when `value` is absent).
    pub fn notifications(&self) -> &[RoutingNotification<'a>] {
        self.value.as_deref().unwrap_or(&[])
    }
}

/// One `commsNotification`: where it points and what its resource says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingNotification<'a> {
    /// `changeType` (`created`, `updated`, `deleted`, or anything newer), as given.
    pub change_type: Option<Cow<'a, str>>,
    /// `resourceUrl`, e.g. `/communications/calls/{id}` or `/communications/calls/{id}/participants`.
    pub resource_url: Option<Cow<'a, str>>,
    /// The legacy `resource` member (2019 payloads, some answer and invite examples), e.g.
    /// `/app/calls/{id}`.
    pub resource: Option<Cow<'a, str>>,
    /// What `resourceData` holds.
    pub resource_data: RoutingData<'a>,
}

impl RoutingNotification<'_> {
    /// The call id: from `resourceUrl` when it names a call, else from the legacy `resource`.
    ///
    /// Both `/communications/calls/{id}…` and the deprecated `/app/calls/{id}…` are recognised, with
    /// or without a scheme and host before them.
    pub fn call_id(&self) -> Option<&str> {
        self.resource_url
            .as_deref()
            .and_then(call_id_from_url)
            .or_else(|| self.resource.as_deref().and_then(call_id_from_url))
    }

    /// The call fields of `resourceData` when it is an object.
    pub fn call(&self) -> Option<&RoutingCall<'_>> {
        match &self.resource_data {
            RoutingData::Call(call) => Some(call),
            _ => None,
        }
    }
}

/// Extracts the call id from a resource path such as `/communications/calls/{id}/participants` or
/// `/app/calls/{id}`. Returns `None` when the path names no call or the id segment is empty.
///
/// ```
/// use graph_comms_model::routing::call_id_from_url;
/// assert_eq!(call_id_from_url("/communications/calls/abc/operations/1"), Some("abc"));
/// assert_eq!(call_id_from_url("https://graph.microsoft.com/beta/app/calls/X9"), Some("X9"));
/// assert_eq!(call_id_from_url("/communications/onlineMeetings/abc"), None);
/// ```
pub fn call_id_from_url(url: &str) -> Option<&str> {
    call_path(url).map(|(id, _)| id)
}

/// Splits a resource path into the call id and what follows it (`""`, `"/participants"`, …).
///
/// ```
/// use graph_comms_model::routing::call_path;
/// assert_eq!(call_path("/communications/calls/a/participants"), Some(("a", "/participants")));
/// assert_eq!(call_path("/app/calls/b"), Some(("b", "")));
/// ```
pub fn call_path(url: &str) -> Option<(&str, &str)> {
    const PREFIXES: [&str; 2] = ["/communications/calls/", "/app/calls/"];
    // Graph sends paths that start with the prefix; absolute URLs take the slower search.
    let start = PREFIXES
        .iter()
        .find(|p| url.starts_with(**p))
        .map(|p| p.len())
        .or_else(|| {
            PREFIXES
                .iter()
                .find_map(|p| url.find(p).map(|at| at + p.len()))
        })?;
    let rest = url.get(start..)?;
    // `/`, `?` and `#` are ASCII, so the split is on a character boundary.
    let (id, tail) = rest.split_at_checked(segment_end(rest.as_bytes()))?;
    (!id.is_empty()).then_some((id, tail))
}

/// The index of the first `/`, `?` or `#` in `b` (its length when there is none), eight bytes at a
/// time (a call id is a 36-byte GUID).
fn segment_end(b: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    #[inline]
    fn zero_bytes(v: u64, c: u8) -> u64 {
        let x = v ^ (ONES * u64::from(c));
        x.wrapping_sub(ONES) & !x
    }
    let (chunks, tail) = b.as_chunks::<8>();
    for (n, chunk) in chunks.iter().enumerate() {
        let v = u64::from_le_bytes(*chunk);
        let hit = (zero_bytes(v, b'/') | zero_bytes(v, b'?') | zero_bytes(v, b'#')) & (ONES << 7);
        if hit != 0 {
            // The lowest flagged byte is the first match (a borrow only reaches higher bytes).
            return n * 8 + hit.trailing_zeros() as usize / 8;
        }
    }
    chunks.len() * 8
        + tail
            .iter()
            .position(|c| matches!(c, b'/' | b'?' | b'#'))
            .unwrap_or(tail.len())
}

/// The shape of a notification's `resourceData`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
// An object is the common case: boxing it would allocate once per notification.
#[allow(clippy::large_enum_variant)]
pub enum RoutingData<'a> {
    /// No `resourceData` member, or `null`.
    #[default]
    Absent,
    /// An object: a `call` (or another resource such as a `commsOperation`), reduced to the
    /// routing fields.
    Call(RoutingCall<'a>),
    /// An array (participant roster updates); holds the number of elements.
    Array(usize),
    /// A string, number or boolean.
    Other,
}

/// The routing fields of a `resourceData` object.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RoutingCall<'a> {
    /// The call `state` (`establishing`, `established`, `transferring`, `transferAccepted`,
    /// `terminated`, …), as given.
    pub state: Option<Cow<'a, str>>,
    /// `resultInfo`, when it is an object.
    pub result_info: Option<RoutingResultInfo<'a>>,
    /// `terminationReason` (e.g. `AppTransferred`).
    pub termination_reason: Option<Cow<'a, str>>,
    /// `replacesContext`, sent with a failed consultative transfer.
    pub replaces_context: Option<Cow<'a, str>>,
    /// `status`, on an operation (`commsOperation`: `running`, `completed`, `failed`).
    pub status: Option<Cow<'a, str>>,
    /// `@odata.type` (e.g. `#microsoft.graph.commsOperation`), as given.
    pub odata_type: Option<Cow<'a, str>>,
}

/// The routing fields of a `resultInfo` object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingResultInfo<'a> {
    /// `code`.
    pub code: Option<RoutingCode<'a>>,
    /// `subcode` (the CSDL spelling).
    pub subcode: Option<RoutingCode<'a>>,
    /// `subCode` (the spelling of the transfer-failed and 2019 examples).
    pub sub_code: Option<RoutingCode<'a>>,
    /// `message`.
    pub message: Option<Cow<'a, str>>,
}

impl RoutingResultInfo<'_> {
    /// `code` as an integer, when it is one or a string holding one.
    pub fn code_value(&self) -> Option<i64> {
        self.code.as_ref().and_then(RoutingCode::value)
    }

    /// The sub-code as an integer, from `subcode` or else `subCode`, when it is one or a string
    /// holding one.
    pub fn subcode_value(&self) -> Option<i64> {
        self.subcode
            .as_ref()
            .and_then(RoutingCode::value)
            .or_else(|| self.sub_code.as_ref().and_then(RoutingCode::value))
    }
}

/// A result code as the wire gives it: a number, or a string (numeric or not).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RoutingCode<'a> {
    /// An integer.
    Int(i64),
    /// A number with a fraction or out of `i64` range.
    Float(f64),
    /// A string, e.g. `"200"` or `"transferring"`.
    Str(Cow<'a, str>),
    /// A boolean, object or array (kept only so that decoding never fails on it).
    Other,
}

impl RoutingCode<'_> {
    /// The code as an integer: an integer, an integral float, or a string holding an integer.
    pub fn value(&self) -> Option<i64> {
        match self {
            RoutingCode::Int(v) => Some(*v),
            RoutingCode::Float(f) => {
                let in_range = f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64;
                #[allow(clippy::cast_possible_truncation)]
                in_range.then_some(*f as i64)
            }
            RoutingCode::Str(s) => s.trim().parse().ok(),
            RoutingCode::Other => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deserialization through serde's visitors: strings borrow, unknown members are skipped with
// IgnoredAny, and member values of an unexpected type never fail. The fast path (`scan`) gives
// the same results; these visitors decide every body it defers.

/// Reads the routed members of an object from `map` into their places and skips every other
/// member: `"name" => place: Type,` where `Type` is one of the lenient readers below.
macro_rules! read_members {
    ($map:ident { $($name:literal => $place:expr, $reader:ty;)+ }) => {
        while let Some(key) = $map.next_key_seed(FieldSeed(&[$($name),+]))? {
            match key {
                $(Some($name) => $place = Lenient::into_value($map.next_value::<$reader>()?),)+
                _ => {
                    $map.next_value::<IgnoredAny>()?;
                }
            }
        }
    };
}

/// Visitor methods for the JSON values a lenient reader does not read: each returns `$value`
/// (after skipping the content of a map or a sequence).
macro_rules! other_values {
    ($value:expr; $($kind:ident),+) => {
        $(other_values!(@one $value; $kind);)+
    };
    (@one $value:expr; unit) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@one $value:expr; str) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@one $value:expr; map) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
    (@one $value:expr; seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
    (@one $value:expr; bool) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@one $value:expr; i64) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@one $value:expr; u64) => {
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@one $value:expr; f64) => {
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// `Deserialize` for a routing type through a visitor of its own:
/// `Type: deserialize_method, expecting "what"; visit methods`. The visitor's other methods keep
/// serde's defaults (an "invalid type" error that says what it expects).
macro_rules! deserialize_with_visitor {
    ($target:ident: $method:ident, expecting $expecting:literal; $($visit:tt)*) => {
        impl<'de> de::Deserialize<'de> for $target<'de> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ValueVisitor;
                impl<'de> Visitor<'de> for ValueVisitor {
                    type Value = $target<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    $($visit)*
                }
                deserializer.$method(ValueVisitor)
            }
        }
    };
}

/// A lenient reader: a member that tolerates any JSON value, read into the `Option<Value>` it
/// stores in its place. `Name(Value); visit methods` gives the newtype over `Option<Value>`, its
/// `Lenient` impl and its `Deserialize` (`deserialize_any`, expecting "any JSON value"); the
/// visit methods list every JSON value, those it does not read through `other_values!`.
macro_rules! lenient_reader {
    ($(#[$doc:meta])* $name:ident($value:ty); $($visit:tt)*) => {
        $(#[$doc])*
        struct $name<'de>(Option<$value>);

        impl<'de> Lenient for $name<'de> {
            type Value = Option<$value>;
            fn into_value(self) -> Self::Value {
                self.0
            }
        }

        deserialize_with_visitor! {
            $name: deserialize_any, expecting "any JSON value";
            $($visit)*
        }
    };
}

/// A lenient reader's result, as stored in its place.
trait Lenient {
    type Value;
    fn into_value(self) -> Self::Value;
}

deserialize_with_visitor! {
    RoutingBatch: deserialize_map, expecting "a commsNotifications object at $";
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut batch = RoutingBatch::default();
        read_members!(map {
            "value" => batch.value, Option<NotificationList<'de>>;
        });
        Ok(batch)
    }
}

/// The `value` array.
struct NotificationList<'a>(Vec<RoutingNotification<'a>>);

impl<'a> Lenient for Option<NotificationList<'a>> {
    type Value = Option<Vec<RoutingNotification<'a>>>;
    fn into_value(self) -> Self::Value {
        self.map(|l| l.0)
    }
}

deserialize_with_visitor! {
    NotificationList: deserialize_seq, expecting "an array of commsNotification objects at $.value";
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(64));
        while let Some(n) = seq.next_element_seed(NotificationSeed(out.len()))? {
            out.push(n);
        }
        Ok(NotificationList(out))
    }
}

/// One element of `value`, with its index for error messages.
struct NotificationSeed(usize);

impl<'de> DeserializeSeed<'de> for NotificationSeed {
    type Value = RoutingNotification<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for NotificationSeed {
    type Value = RoutingNotification<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a commsNotification object at $.value[{}]", self.0)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut n = RoutingNotification::default();
        read_members!(map {
            "changeType" => n.change_type, LenientStr<'de>;
            "resourceUrl" => n.resource_url, LenientStr<'de>;
            "resource" => n.resource, LenientStr<'de>;
            "resourceData" => n.resource_data, RoutingData<'de>;
        });
        Ok(n)
    }
}

impl<'a> Lenient for RoutingData<'a> {
    type Value = Self;
    fn into_value(self) -> Self {
        self
    }
}

deserialize_with_visitor! {
    RoutingData: deserialize_any, expecting "any JSON value";
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut call = RoutingCall::default();
        read_members!(map {
            "state" => call.state, LenientStr<'de>;
            "resultInfo" => call.result_info, LenientResultInfo<'de>;
            "terminationReason" => call.termination_reason, LenientStr<'de>;
            "replacesContext" => call.replaces_context, LenientStr<'de>;
            "status" => call.status, LenientStr<'de>;
            "@odata.type" => call.odata_type, LenientStr<'de>;
        });
        Ok(RoutingData::Call(call))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut len = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            len += 1;
        }
        Ok(RoutingData::Array(len))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RoutingData::Absent)
    }
    other_values!(RoutingData::Absent; unit);
    other_values!(RoutingData::Other; bool, i64, u64, f64, str);
}

/// An object key, looked up in a list of the member names we read: `Some(name)`, or `None` for
/// a member we skip. The key is read as raw bytes (escapes resolved, no UTF-8 check, nothing
/// allocated unless it has escapes): it is only compared with ASCII names, and serde_json's
/// validate-only pass does not check UTF-8 inside strings either.
struct FieldSeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Option<&'static str>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed {
    type Value = Option<&'static str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(self.0.iter().find(|name| name.as_bytes() == v).copied())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.visit_bytes(v.as_bytes())
    }
}

lenient_reader! {
    /// A string member that tolerates any JSON value: strings are kept, everything else is `None`.
    LenientStr(Cow<'de, str>);
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(LenientStr(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(LenientStr(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(LenientStr(Some(Cow::Owned(v))))
    }
    other_values!(LenientStr(None); unit, bool, i64, u64, f64, map, seq);
}

lenient_reader! {
    /// A `resultInfo` member that tolerates any JSON value: objects are read, everything else is
    /// `None`.
    LenientResultInfo(RoutingResultInfo<'de>);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut info = RoutingResultInfo::default();
        read_members!(map {
            "code" => info.code, LenientCode<'de>;
            "subcode" => info.subcode, LenientCode<'de>;
            "subCode" => info.sub_code, LenientCode<'de>;
            "message" => info.message, LenientStr<'de>;
        });
        Ok(LenientResultInfo(Some(info)))
    }
    other_values!(LenientResultInfo(None); seq, unit, bool, i64, u64, f64, str);
}

lenient_reader! {
    /// A code member: numbers and strings are kept, `null` is `None`, anything else is
    /// [`RoutingCode::Other`].
    LenientCode(RoutingCode<'de>);
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(LenientCode(Some(RoutingCode::Int(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(LenientCode(Some(match i64::try_from(v) {
            Ok(v) => RoutingCode::Int(v),
            #[allow(clippy::cast_precision_loss)]
            Err(_) => RoutingCode::Float(v as f64),
        })))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(LenientCode(Some(RoutingCode::Float(v))))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(LenientCode(Some(RoutingCode::Str(Cow::Borrowed(v)))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(LenientCode(Some(RoutingCode::Str(Cow::Owned(v.to_owned())))))
    }
    other_values!(LenientCode(None); unit);
    other_values!(LenientCode(Some(RoutingCode::Other)); bool, map, seq);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &str) -> RoutingNotification<'_> {
        let batch = from_str(body).expect("decodes");
        assert_eq!(batch.notifications().len(), 1);
        batch.value.expect("value").remove(0)
    }

    #[test]
    fn borrows_plain_strings_and_copies_escaped_ones() {
        let n = one(
            r#"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/a\u0062c",
            "resourceData":{"state":"established","replacesContext":"x"}}]}"#,
        );
        assert!(matches!(n.change_type, Some(Cow::Borrowed("updated"))));
        assert!(matches!(n.resource_url, Some(Cow::Owned(_))));
        assert_eq!(n.call_id(), Some("abc"));
        let call = n.call().expect("object");
        assert!(matches!(call.state, Some(Cow::Borrowed("established"))));
    }

    #[test]
    fn escaped_keys_are_recognised() {
        let n = one(r#"{"\u0076alue":[{"resourceD\u0061ta":{"\u0073tate":"terminated"}}]}"#);
        assert_eq!(
            n.call().and_then(|c| c.state.as_deref()),
            Some("terminated")
        );
    }

    #[test]
    fn roster_arrays_strings_and_odd_types_never_fail() {
        let n = one(
            r#"{"value":[{"resourceUrl":"/communications/calls/c/participants","resourceData":[{"a":1},2]}]}"#,
        );
        assert_eq!(n.resource_data, RoutingData::Array(2));
        assert_eq!(n.call_id(), Some("c"));
        let n = one(r#"{"value":[{"resourceData":"x","changeType":5}]}"#);
        assert_eq!(n.resource_data, RoutingData::Other);
        assert_eq!(n.change_type, None);
        let n = one(
            r#"{"value":[{"resourceData":{"state":{"x":[1]},"resultInfo":[1],"terminationReason":7}}]}"#,
        );
        assert_eq!(n.call(), Some(&RoutingCall::default()));
        let n = one(r#"{"value":[{"resourceData":null}]}"#);
        assert_eq!(n.resource_data, RoutingData::Absent);
    }

    #[test]
    fn codes_as_numbers_strings_and_both_spellings() {
        let n = one(
            r#"{"value":[{"resourceData":{"resultInfo":{"code":"200","subCode":"transferring"}}}]}"#,
        );
        let info = n.call().and_then(|c| c.result_info.clone()).expect("info");
        assert_eq!(info.code_value(), Some(200));
        assert_eq!(info.subcode_value(), None);
        let n = one(r#"{"value":[{"resourceData":{"resultInfo":{"code":500.0,"subCode":7700}}}]}"#);
        let info = n.call().and_then(|c| c.result_info.clone()).expect("info");
        assert_eq!(
            (info.code_value(), info.subcode_value()),
            (Some(500), Some(7700))
        );
        let n =
            one(r#"{"value":[{"resourceData":{"resultInfo":{"code":true,"subcode":"5001"}}}]}"#);
        let info = n.call().and_then(|c| c.result_info.clone()).expect("info");
        assert_eq!(
            (info.code_value(), info.subcode_value()),
            (None, Some(5001))
        );
    }

    #[test]
    fn envelope_errors_carry_line_and_column() {
        let e = from_str("[1]").expect_err("not an object");
        assert_eq!(e.line(), 1);
        assert!(e.to_string().contains("commsNotifications object"), "{e}");
        let e = from_str("{\n \"value\": {}}").expect_err("value not an array");
        assert_eq!(e.line(), 2);
        assert!(e.to_string().contains("$.value"), "{e}");
        let e = from_str(r#"{"value":[{}, 3]}"#).expect_err("element not an object");
        assert!(e.to_string().contains("$.value[1]"), "{e}");
        let e = from_str(r#"{"value":[]} x"#).expect_err("trailing characters");
        assert_eq!(e.column(), 14);
        assert_eq!(
            from_str(r#"{"value":null}"#).expect("null value").value,
            None
        );
    }

    /// Every JSON body of the spec fixtures and the shared corpus.
    fn bodies() -> Vec<String> {
        let mut files = graph_comms_testkit::files_with_suffix(
            &graph_comms_testkit::fixtures_dir().join("spec"),
            ".json",
        );
        if let Some(shared) = graph_comms_testkit::shared_dir() {
            files.extend(
                graph_comms_testkit::corpus_files(&shared)
                    .into_iter()
                    .filter(|f| f.is_valid_notification())
                    .map(|f| f.path),
            );
        }
        files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .collect()
    }

    /// The fast path either defers or gives exactly what the serde visitors give.
    fn same_as_visitors(body: &str) -> bool {
        match scan::batch(body) {
            Some(fast) => {
                assert_eq!(
                    from_str_visitors(body).as_ref().ok(),
                    Some(&fast),
                    "fast path differs on {body:?}"
                );
                true
            }
            None => false,
        }
    }

    #[test]
    fn fast_path_answers_every_real_notification_as_the_visitors_do() {
        let bodies = bodies();
        assert!(bodies.len() > 20, "fixtures found: {}", bodies.len());
        let mut answered = 0;
        for body in &bodies {
            let notification = from_str_visitors(body).is_ok_and(|b| b.value.is_some());
            if same_as_visitors(body) {
                answered += 1;
            } else {
                assert!(!notification, "fast path deferred a notification: {body}");
            }
        }
        assert!(answered > 20, "{answered} answered");
    }

    #[test]
    fn fast_path_never_accepts_what_the_visitors_reject() {
        // Every body of the fixtures, cut short at every byte and with bytes replaced: whatever
        // the fast path answers, the visitors answer the same.
        const SWAPS: &[u8] = b"\"{}[],:0-.eE+tfn\\ u\x01x9";
        let mut answered = 0;
        for body in bodies().iter().take(12) {
            let bytes = body.as_bytes();
            for at in 0..bytes.len() {
                if let Some(cut) = body.get(..at) {
                    answered += usize::from(same_as_visitors(cut));
                }
                for swap in SWAPS {
                    let mut b = bytes.to_vec();
                    b[at] = *swap;
                    if let Ok(text) = std::str::from_utf8(&b) {
                        answered += usize::from(same_as_visitors(text));
                    }
                }
            }
        }
        assert!(answered > 1000, "{answered} answered");
    }

    #[test]
    fn whitespace_runs_of_any_length_and_kind() {
        // Every run of 0 to 20 spaces (across the eight-byte steps), then tabs, CR/LF and a
        // non-breaking space (not JSON whitespace), between every token and at the body's end.
        let tokens = [
            "{",
            "\"value\"",
            ":",
            "[",
            "{",
            "\"resourceUrl\"",
            ":",
            "\"/app/calls/a\"",
            ",",
            "\"resourceData\"",
            ":",
            "{",
            "\"state\"",
            ":",
            "\"terminated\"",
            "}",
            "}",
            "]",
            "}",
        ];
        let mut runs: Vec<String> = (0..=20).map(|n| " ".repeat(n)).collect();
        runs.extend(["\t\t", "\r\n        ", "\n\t \r", "\u{a0}"].map(str::to_owned));
        for run in &runs {
            let body = tokens.join(run) + run;
            let visitors = from_str_visitors(&body);
            match scan::batch(&body) {
                Some(fast) => assert_eq!(visitors.ok(), Some(fast), "{body:?}"),
                None => assert!(visitors.is_err(), "deferred {body:?}"),
            }
            if !run.contains('\u{a0}') {
                let batch = from_str(&body).expect("whitespace is allowed");
                assert_eq!(batch.notifications()[0].call_id(), Some("a"));
            }
        }
    }

    #[test]
    fn fast_path_defers_what_it_does_not_resolve() {
        for body in [
            r#"{"\u0076alue":[]}"#,
            r#"{"value":[{"changeType":"upd\u0061ted"}]}"#,
            r#"{"value":[{"resourceData":{"resultInfo":{"code":-1}}}]}"#,
            r#"{"value":[{"resourceData":{"resultInfo":{"code":1.5}}}]}"#,
            r#"{"value":[{"resourceData":{"resultInfo":{"code":1234567890123456789}}}]}"#,
            r#"{"value":[{"resourceData":1e999}]}"#,
            r#"{"value":[{"x":{"\ud800":1}}]} x"#,
        ] {
            assert!(scan::batch(body).is_none(), "{body}");
        }
        let deep = format!(
            r#"{{"value":[{{"x":{}1{}}}]}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(scan::batch(&deep).is_none());
        assert_eq!(from_str(&deep).expect("deep skip").notifications().len(), 1);
        let skipped = r#"{"value":[{"x":{"\ud800":[1.5e3,-0,true,null,"\n\u00e9"]},"resourceData":[{}, []]}]}"#;
        assert!(same_as_visitors(skipped), "{skipped}");
    }

    /// [`map_slice`] gives what [`from_slice`] and a `map` give, for every body and for the bodies
    /// the fast path defers (escapes, unusual numbers, errors).
    #[test]
    fn map_slice_is_from_slice_then_map() {
        let mut bodies = bodies();
        bodies.extend(
            [
                r#"{"\u0076alue":[{"resourceUrl":"/app/calls/a"},{"resource":"/app/calls/b"}]}"#,
                r#"{"value":[{"resourceUrl":"/communications/calls/a"},{"resourceData":{"resultInfo":{"code":1.5}}}]}"#,
                r#"{"value":null}"#,
                r#"{"other":1}"#,
                r#"{"value":[{"resourceUrl":"/app/calls/a"},]}"#,
                r#"{"value":[1]}"#,
                "[]",
            ]
            .map(str::to_owned),
        );
        for body in &bodies {
            let summary = |n: &RoutingNotification<'_>| {
                (
                    n.call_id().map(str::to_owned),
                    n.call().cloned().map(|c| format!("{c:?}")),
                )
            };
            let expected = from_slice(body.as_bytes())
                .map(|b| b.value.map(|v| v.iter().map(summary).collect::<Vec<_>>()));
            let mapped = map_slice(body.as_bytes(), summary);
            match (&expected, &mapped) {
                (Ok(e), Ok(m)) => assert_eq!(e, m, "{body}"),
                (Err(e), Err(m)) => assert_eq!(e.to_string(), m.to_string(), "{body}"),
                _ => panic!("map_slice differs on {body}: {mapped:?}"),
            }
        }
        let invalid = b"{\"value\":[{\"resource\":\"\xff\"}]}";
        assert_eq!(
            map_slice(invalid, |_| ()).map_err(|e| e.to_string()),
            from_slice(invalid).map(|_| None).map_err(|e| e.to_string())
        );
    }

    #[test]
    fn segment_end_finds_the_first_separator() {
        let reference = |b: &[u8]| {
            b.iter()
                .position(|c| matches!(c, b'/' | b'?' | b'#'))
                .unwrap_or(b.len())
        };
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"57dab8b1-894c-409a-b240-bd8beae78896".to_vec(),
            "\u{e9}\u{ff}\u{80}abc/def".as_bytes().to_vec(),
        ];
        // Every separator at every position of ids up to 40 bytes, with other bytes around it
        // (including the bytes one above and below each separator and non-ASCII bytes).
        for len in 0..40 {
            for at in 0..len {
                for sep in [b'/', b'?', b'#', b'.', b'0', b'@', b'$', 0x80, 0xaf, 0xbf] {
                    let mut v = vec![b'a'; len];
                    v[at] = sep;
                    if let Some(after) = v.get_mut(at + 1) {
                        *after = b'/';
                    }
                    cases.push(v);
                }
            }
        }
        for case in &cases {
            assert_eq!(segment_end(case), reference(case), "{case:?}");
        }
    }

    #[test]
    fn call_ids_from_paths() {
        assert_eq!(call_id_from_url("/communications/calls/"), None);
        assert_eq!(call_id_from_url("/communications/calls/x?y"), Some("x"));
        assert_eq!(
            call_id_from_url("/app/calls/57DAB8B1/operations/0F"),
            Some("57DAB8B1")
        );
    }
}
