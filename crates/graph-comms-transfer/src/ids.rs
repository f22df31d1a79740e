//! Validated identifiers: [`E164`] phone numbers, [`Guid`]s, Graph [`CallId`]s, and the call id
//! that goes into a request URL ([`call_path_segment`], [`CallId::transfer_path`]).
//!
//! Each type is parsed once, strictly and without allocation beyond its own storage (no regex), and
//! trusted afterwards: holding an `E164` means holding a valid E.164 number.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::{Error, Result};

/// Most digits an E.164 number may have (country code included), per ITU-T E.164.
pub const E164_MAX_DIGITS: usize = 15;

/// A phone number in E.164 form: `+`, a country code starting with 1–9, at most 15 digits in all,
/// and nothing else (no spaces, dashes, parentheses, or `tel:` prefix).
///
/// Graph's `identity.phone.id` of a PSTN transfer target must be in this form. With serde it is
/// written as its string and read through [`E164::parse`].
///
/// ```
/// use graph_comms_transfer::E164;
///
/// let number: E164 = "+12345678901".parse()?;
/// assert_eq!(number.as_str(), "+12345678901");
/// assert_eq!(number.digits(), "12345678901");
///
/// let err = E164::parse("+1 234 567 8901").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#""+1 234 567 8901" is not E.164 (a space at character 3; only ASCII digits may follow '+')"#
/// );
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

impl E164 {
    /// Parses `s` strictly as an E.164 number.
    ///
    /// # Errors
    /// [`Error::InvalidE164`] naming the first problem found.
    pub fn parse(s: &str) -> Result<Self> {
        match e164_problem(s) {
            None => Ok(Self(s.to_owned())),
            Some(reason) => Err(Error::InvalidE164 {
                value: s.to_owned(),
                reason,
            }),
        }
    }

    /// The number as written, `+` included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits after the `+`.
    pub fn digits(&self) -> &str {
        // The first byte is the ASCII '+', so slicing at 1 is on a char boundary.
        &self.0[1..]
    }

    /// The number as a `String`, `+` included.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Why `s` is not E.164, or `None` when it is. Shared by [`E164::parse`] and the validator.
pub(crate) fn e164_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".to_owned());
    }
    if s.trim() != s {
        return Some("it has leading or trailing whitespace".to_owned());
    }
    if s.len() >= 4 && s.as_bytes()[..4].eq_ignore_ascii_case(b"tel:") {
        return Some("a tel: URI; send the bare number, e.g. +12345678901".to_owned());
    }
    let Some(digits) = s.strip_prefix('+') else {
        return Some("it must start with '+' and a country code".to_owned());
    };
    if digits.is_empty() {
        return Some("no digits after '+'".to_owned());
    }
    for (i, ch) in digits.chars().enumerate() {
        if !ch.is_ascii_digit() {
            let what = match ch {
                ' ' => "a space".to_owned(),
                '-' => "a dash".to_owned(),
                c if c.is_whitespace() => format!("whitespace {c:?}"),
                c if c.is_numeric() => format!("the non-ASCII digit {c:?}"),
                c => format!("{c:?}"),
            };
            return Some(format!(
                "{what} at character {}; only ASCII digits may follow '+'",
                i + 2
            ));
        }
    }
    if digits.starts_with('0') {
        return Some("country codes start with 1-9, not 0".to_owned());
    }
    if digits.len() > E164_MAX_DIGITS {
        return Some(format!(
            "{} digits; E.164 allows at most {E164_MAX_DIGITS}",
            digits.len()
        ));
    }
    None
}

impl FromStr for E164 {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for E164 {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for E164 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<E164> for String {
    fn from(n: E164) -> String {
        n.0
    }
}

/// A GUID in its hyphenated 8-4-4-4-12 form (`550fae72-d251-43ec-868c-373732c2704f`), as Graph
/// writes user, tenant and application ids. Either case is accepted; braces, `urn:uuid:` and the
/// 32-digit form are not (use [`CallId`] for call ids, which Graph issues in both forms).
///
/// Two `Guid`s are equal when they name the same GUID, whatever the case they were written in;
/// [`Display`](fmt::Display) writes lowercase. With serde it is written as its string and read
/// through [`Guid::parse`].
///
/// ```
/// use graph_comms_transfer::Guid;
///
/// let a: Guid = "72F988BF-86F1-41AF-91AB-2D7CD011DB47".parse()?;
/// let b: Guid = "72f988bf-86f1-41af-91ab-2d7cd011db47".parse()?;
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
/// assert!(Guid::parse("72f988bf86f141af91ab2d7cd011db47").is_err());
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(u128);

impl Guid {
    /// Parses `s` strictly as a hyphenated GUID.
    ///
    /// # Errors
    /// [`Error::InvalidGuid`] naming the problem.
    pub fn parse(s: &str) -> Result<Self> {
        parse_hyphenated(s)
            .map(Self)
            .map_err(|reason| Error::InvalidGuid {
                value: s.to_owned(),
                reason,
            })
    }

    /// The GUID from its 128-bit value (big-endian reading of the 32 hex digits).
    pub const fn from_u128(value: u128) -> Self {
        Self(value)
    }

    /// The 128-bit value (big-endian reading of the 32 hex digits).
    pub const fn as_u128(&self) -> u128 {
        self.0
    }

    /// The GUID in its hyphenated lowercase form, as a `String` (what
    /// [`to_string`](ToString::to_string) gives, without the formatting machinery).
    pub fn to_hyphenated(&self) -> String {
        self.encode(&mut [0; 36]).to_owned()
    }

    fn encode<'a>(&self, out: &'a mut [u8; 36]) -> &'a str {
        // Eight digits at a time (see `hex_digits`), then the 8-4-4-4-12 groups.
        // Two 64-bit halves: shifts of a `u128` cost several instructions each.
        let (high, low) = ((self.0 >> 64) as u64, self.0 as u64);
        let a = hex_digits((high >> 32) as u32);
        let b = hex_digits(high as u32);
        let c = hex_digits((low >> 32) as u32);
        let d = hex_digits(low as u32);
        out[..8].copy_from_slice(&a);
        out[8] = b'-';
        out[9..13].copy_from_slice(&b[..4]);
        out[13] = b'-';
        out[14..18].copy_from_slice(&b[4..]);
        out[18] = b'-';
        out[19..23].copy_from_slice(&c[..4]);
        out[23] = b'-';
        out[24..28].copy_from_slice(&c[4..]);
        out[28..].copy_from_slice(&d);
        // Only ASCII hex digits and dashes were written.
        std::str::from_utf8(out).unwrap_or_default()
    }
}

/// Eight bytes, each `b` repeated.
const fn lanes(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// The eight lowercase hex digits of `x`, most significant first, computed on the eight bytes of
/// one `u64` at once (no per-digit loop or table).
fn hex_digits(x: u32) -> [u8; 8] {
    // Spread the nibbles one per byte, the most significant in the most significant byte.
    let mut n = u64::from(x);
    n = (n | (n << 16)) & 0x0000_ffff_0000_ffff;
    n = (n | (n << 8)) & 0x00ff_00ff_00ff_00ff;
    n = (n | (n << 4)) & lanes(0x0f);
    // A byte holding 10..=15 has bit 4 set once 6 is added (no byte exceeds 21: no carry).
    let letters = ((n + lanes(6)) >> 4) & lanes(1);
    // '0' + n, and 'a' - '0' - 10 = 39 more for the letters (no byte exceeds 'f': no carry).
    (n + lanes(b'0') + letters * 39).to_be_bytes()
}

impl FromStr for Guid {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Guid {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; 36]))
    }
}

impl From<Guid> for String {
    fn from(g: Guid) -> String {
        g.to_string()
    }
}

const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// Reads the hyphenated form; the reason is the message tail of the error ([`Guid::parse`]'s).
pub(crate) fn parse_hyphenated(s: &str) -> std::result::Result<u128, &'static str> {
    if let Ok(b) = <&[u8; 36]>::try_from(s.as_bytes()) {
        if HYPHENS.iter().all(|&i| b[i] == b'-') {
            let digits = [
                be64(&b[..8]),
                (be32(&b[9..13]) << 32) | be32(&b[14..18]),
                (be32(&b[19..23]) << 32) | be32(&b[24..28]),
                be64(&b[28..]),
            ];
            return hex_value_128(digits)
                .ok_or("only hexadecimal digits and the four dashes are allowed");
        }
    }
    if s.is_empty() {
        Err("it is empty")
    } else if s.trim() != s {
        Err("it has leading or trailing whitespace")
    } else if s.len() != 36 {
        Err("expected 36 characters in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    } else {
        Err("expected the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    }
}

/// Reads the 32-hex-digit form without dashes.
fn parse_plain(s: &str) -> std::result::Result<u128, &'static str> {
    let Ok(b) = <&[u8; 32]>::try_from(s.as_bytes()) else {
        return Err("expected 32 hexadecimal digits, or a GUID with dashes");
    };
    let digits = [
        be64(&b[..8]),
        be64(&b[8..16]),
        be64(&b[16..24]),
        be64(&b[24..]),
    ];
    hex_value_128(digits).ok_or("only hexadecimal digits are allowed")
}

/// Eight bytes read as one big-endian `u64` (the first byte the most significant).
fn be64(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(bytes);
    u64::from_be_bytes(word)
}

/// Four bytes read as a big-endian `u32`, widened.
fn be32(bytes: &[u8]) -> u64 {
    let mut word = [0; 4];
    word.copy_from_slice(bytes);
    u64::from(u32::from_be_bytes(word))
}

/// The value of 32 hex digits given as four words of eight ASCII bytes, or `None` when any byte
/// is not a hex digit.
fn hex_value_128([a, b, c, d]: [u64; 4]) -> Option<u128> {
    let (a, b, c, d) = (
        hex_value_8(a),
        hex_value_8(b),
        hex_value_8(c),
        hex_value_8(d),
    );
    // One test for the four words.
    if a.1 | b.1 | c.1 | d.1 != 0 {
        return None;
    }
    let half = |x: u32, y: u32| (u64::from(x) << 32) | u64::from(y);
    Some((u128::from(half(a.0, b.0)) << 64) | u128::from(half(c.0, d.0)))
}

/// The value of the eight hex digits in the bytes of `word` (the most significant byte the first
/// digit), and a mask that is not zero when any byte is not `0-9`, `a-f` or `A-F` (the value is
/// then meaningless).
///
/// All eight are checked at once: when every byte is below 0x80, adding a constant below 0x80 to
/// each byte cannot carry into the next, so the top bit of each byte of a sum says on which side
/// of a bound the byte lies. (When a byte is not below 0x80, the mask says so whatever the sums.)
fn hex_value_8(word: u64) -> (u32, u64) {
    const TOP: u64 = lanes(0x80);
    // Top bit set where the byte is >= lo, resp. <= hi (bytes below 0x80).
    let at_least = |w: u64, lo: u8| w.wrapping_add(lanes(0x80 - lo));
    let at_most = |w: u64, hi: u8| !w.wrapping_add(lanes(0x7f - hi));
    let digit = at_least(word, b'0') & at_most(word, b'9') & TOP;
    // Setting bit 5 maps exactly 'A'..='F' and 'a'..='f' onto 'a'..='f'.
    let lower = word | lanes(0x20);
    let letter = at_least(lower, b'a') & at_most(lower, b'f') & TOP;
    let bad = (word & TOP) | ((digit | letter) ^ TOP);
    // '0'..='9' end in their value, 'a'..='f' and 'A'..='F' in their value - 9.
    let mut n = (word & lanes(0x0f)) + (letter >> 7) * 9;
    // Gather the eight nibbles, the first byte's the most significant.
    n = (n | (n >> 4)) & 0x00ff_00ff_00ff_00ff;
    n = (n | (n >> 8)) & 0x0000_ffff_0000_ffff;
    n = (n | (n >> 16)) & 0x0000_0000_ffff_ffff;
    (n as u32, bad)
}

/// The id of a Graph call: a GUID, which Graph has issued both with dashes
/// (`e5d39592-99bd-4db8-bca8-30fb894ec51d`) and without (`e5d3959299bd4db8bca830fb894ec51d`).
///
/// The id keeps the form it was written in (so it goes back to Graph unchanged), and two ids are
/// equal when they name the same GUID, whatever their form or case. This is the type of a
/// consultative transfer's `replacesCallId`. With serde it is written as written and read through
/// [`CallId::parse`].
///
/// ```
/// use graph_comms_transfer::CallId;
///
/// let dashed: CallId = "e5d39592-99bd-4db8-bca8-30fb894ec51d".parse()?;
/// let plain: CallId = "E5D3959299BD4DB8BCA830FB894EC51D".parse()?;
/// assert_eq!(dashed, plain);
/// assert_eq!(plain.as_str(), "E5D3959299BD4DB8BCA830FB894EC51D");
/// assert_eq!(
///     dashed.transfer_path(),
///     "/communications/calls/e5d39592-99bd-4db8-bca8-30fb894ec51d/transfer"
/// );
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CallId {
    text: String,
    value: u128,
}

impl CallId {
    /// Parses `s` as a call id: a GUID with or without dashes, in either case.
    ///
    /// # Errors
    /// [`Error::InvalidCallId`] naming the problem.
    pub fn parse(s: &str) -> Result<Self> {
        call_id_value(s)
            .map(|value| Self {
                text: s.to_owned(),
                value,
            })
            .map_err(|reason| Error::InvalidCallId {
                value: s.to_owned(),
                reason,
            })
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The GUID the id names.
    pub fn guid(&self) -> Guid {
        Guid(self.value)
    }

    /// The id as a URL path segment, percent-encoded (a valid call id needs no escaping, but the
    /// encoding is applied all the same: nothing is spliced into a URL raw).
    pub fn to_path_segment(&self) -> String {
        utf8_percent_encode(&self.text, PATH_SEGMENT).to_string()
    }

    /// The request path of a transfer of this call, relative to the API base
    /// (`https://graph.microsoft.com/v1.0` or `.../beta`):
    /// `/communications/calls/{id}/transfer`.
    pub fn transfer_path(&self) -> String {
        format!("/communications/calls/{}/transfer", self.to_path_segment())
    }
}

/// The 128-bit value of a call id, or the reason it is not one.
pub(crate) fn call_id_value(s: &str) -> std::result::Result<u128, &'static str> {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.trim() != s {
        return Err("it has leading or trailing whitespace");
    }
    match s.len() {
        36 => parse_hyphenated(s),
        32 => parse_plain(s),
        _ => Err("expected a GUID, with dashes (36 characters) or without (32 hexadecimal digits)"),
    }
}

impl PartialEq for CallId {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for CallId {}

impl std::hash::Hash for CallId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl FromStr for CallId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for CallId {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for CallId {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl From<CallId> for String {
    fn from(c: CallId) -> String {
        c.text
    }
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is escaped.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The call id of a request URL as one percent-encoded path segment.
///
/// Any call id the bot was given is accepted (an emulator or a future Graph may issue ids that are
/// not GUIDs), but never spliced raw: every character outside RFC 3986's unreserved set is
/// percent-encoded, so `/`, `?`, `#`, `%`, spaces and non-ASCII cannot change the URL's shape.
///
/// ```
/// use graph_comms_transfer::call_path_segment;
///
/// assert_eq!(call_path_segment("341a0500-d4bf-4224-8b19-1581168d328b")?, "341a0500-d4bf-4224-8b19-1581168d328b");
/// assert_eq!(call_path_segment("a/b?c")?, "a%2Fb%3Fc");
/// assert!(call_path_segment("").is_err());
/// assert!(call_path_segment("..").is_err());
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidUrlCallId`] when the id is empty or all whitespace, or is `.` or `..` (URL
/// parsers resolve those as dot segments even when percent-encoded, so they would address a
/// different resource).
pub fn call_path_segment(call_id: &str) -> Result<String> {
    if call_id.trim().is_empty() {
        return Err(Error::InvalidUrlCallId {
            value: call_id.to_owned(),
            reason: "it is empty; the URL needs the id of the call to transfer",
        });
    }
    if call_id == "." || call_id == ".." {
        return Err(Error::InvalidUrlCallId {
            value: call_id.to_owned(),
            reason: "a dot segment would make the URL address another resource",
        });
    }
    Ok(utf8_percent_encode(call_id, PATH_SEGMENT).to_string())
}

/// Serde support: each type is written as its string form and read through its strict parser, so
/// a configuration file or a request body cannot smuggle in an invalid value.
macro_rules! serde_as_string {
    ($ty:ty, $what:literal) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(
                &self,
                serializer: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(
                deserializer: D,
            ) -> std::result::Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(
                        self,
                        v: &str,
                    ) -> std::result::Result<$ty, E> {
                        <$ty>::parse(v).map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(V)
            }
        }
    };
}

serde_as_string!(E164, "an E.164 phone number (a string)");
serde_as_string!(Guid, "a GUID (a string)");
serde_as_string!(CallId, "a call id (a string)");
