//! Compact JSON for [`to_json`](crate::to_json), byte for byte what `serde_json` writes, with the
//! string scan done eight bytes at a time.
//!
//! `serde_json` looks up every byte of every string (keys included) in its escape table; in a
//! transfer body nearly every byte is in a string and none needs escaping. Here a string is
//! checked a `u64` at a time and copied in one piece when nothing in it needs escaping.
//!
//! Only what a JSON writer needs for the model's types is handled: strings, numbers (written by
//! `serde_json` itself), booleans, null, sequences, maps with string keys, structs, options,
//! unit and newtype variants. Anything else (bytes, tuple and struct variants, a map key that is
//! not a string, a `RawValue`, an error raised by a `Serialize` impl) stops the writer with
//! [`Unsupported`], and the caller writes the value with `serde_json` instead, so the output (or
//! the error) is always `serde_json`'s.

use std::fmt;

use serde::ser::{self, Serialize};

/// The value needs `serde_json` itself (see the module's documentation).
#[derive(Debug)]
pub(crate) struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value the compact writer leaves to serde_json")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Unsupported
    }
}

type Res = std::result::Result<(), Unsupported>;

/// Appends the compact JSON of `value` to `out`; on [`Unsupported`], `out` holds a partial write.
pub(crate) fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Res {
    value.serialize(&mut Writer { out, key: false })
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    /// Writing a map key: only strings (and what `serde_json` writes as one) are taken.
    key: bool,
}

impl Writer<'_> {
    /// Refuses anything but a string where a map key is written.
    fn not_key(&self) -> Res {
        if self.key {
            Err(Unsupported)
        } else {
            Ok(())
        }
    }

    /// A number or float, written by `serde_json` (`itoa`, `ryu`, `null` for non-finite floats).
    fn number<T: Serialize>(&mut self, v: T) -> Res {
        self.not_key()?;
        serde_json::to_writer(&mut *self.out, &v).map_err(|_| Unsupported)
    }
}

/// The struct name through which `serde_json` writes a `RawValue`.
const RAW_VALUE: &str = "$serde_json::private::RawValue";

/// The top bit of each of eight bytes.
const TOP: u64 = u64::from_ne_bytes([0x80; 8]);

const fn lanes(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// Whether any of the eight bytes of `w` is below 0x20, `"` or `\` (the bytes JSON escapes).
fn needs_escape(w: u64) -> bool {
    // The classic zero-byte test: a top bit is set in the result iff some byte of `x` is below
    // `n` (exact as to whether any is; `x` may hold any bytes).
    let below = |x: u64, n: u8| x.wrapping_sub(lanes(n)) & !x & TOP;
    below(w, 0x20) | below(w ^ lanes(b'"'), 1) | below(w ^ lanes(b'\\'), 1) != 0
}

/// The bytes of `tail` (fewer than eight) in one word, some read twice, the rest spaces (which
/// need no escape): one to three bytes as first, middle and last; four to seven as the first
/// four and the last four, overlapping.
fn tail_word(tail: &[u8]) -> u64 {
    let n = tail.len();
    match tail {
        [] => lanes(b' '),
        [first, ..] if n < 4 => {
            let (middle, last) = (tail[n / 2], tail[n - 1]);
            u64::from_ne_bytes([*first, middle, last, b' ', b' ', b' ', b' ', b' '])
        }
        _ => {
            let word = |at: usize| {
                let mut four = [0; 4];
                four.copy_from_slice(&tail[at..at + 4]);
                u64::from(u32::from_ne_bytes(four))
            };
            (word(0) << 32) | word(n - 4)
        }
    }
}

/// Whether no byte of `bytes` needs an escape, eight at a time.
fn clean(bytes: &[u8]) -> bool {
    let word = |chunk: &[u8]| {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        u64::from_ne_bytes(word)
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in chunks.by_ref() {
        if needs_escape(word(chunk)) {
            return false;
        }
    }
    let tail = chunks.remainder();
    if tail.is_empty() {
        true
    } else if let Some(last) = bytes.len().checked_sub(8) {
        // The last eight bytes, overlapping the chunks already checked.
        !needs_escape(word(&bytes[last..]))
    } else {
        !needs_escape(tail_word(tail))
    }
}

/// Appends `s` as a JSON string, escaped as `serde_json` escapes: copied in one piece when no
/// byte needs an escape (nearly always), byte by byte otherwise.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.push(b'"');
    if clean(bytes) {
        out.extend_from_slice(bytes);
    } else {
        write_escaped(out, bytes);
    }
    out.push(b'"');
}

/// Appends `bytes` escaped, one byte at a time (for strings that need an escape).
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// A sequence, map or struct being written: whether its first member is still to come.
struct Compound<'a, 'b> {
    w: &'b mut Writer<'a>,
    first: bool,
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.w.out.push(b',');
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.comma();
        value.serialize(&mut *self.w)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Res {
        self.comma();
        write_str(self.w.out, key);
        self.w.out.push(b':');
        value.serialize(&mut *self.w)
    }

    fn close(self, end: u8) -> Res {
        self.w.out.push(end);
        Ok(())
    }
}

impl<'a, 'b> ser::Serializer for &'b mut Writer<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a, 'b>;
    type SerializeTuple = Compound<'a, 'b>;
    type SerializeTupleStruct = Compound<'a, 'b>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Compound<'a, 'b>;
    type SerializeStruct = Compound<'a, 'b>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Res {
        self.not_key()?;
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Res {
        self.number(v)
    }
    fn serialize_i16(self, v: i16) -> Res {
        self.number(v)
    }
    fn serialize_i32(self, v: i32) -> Res {
        self.number(v)
    }
    fn serialize_i64(self, v: i64) -> Res {
        self.number(v)
    }
    fn serialize_i128(self, v: i128) -> Res {
        self.number(v)
    }
    fn serialize_u8(self, v: u8) -> Res {
        self.number(v)
    }
    fn serialize_u16(self, v: u16) -> Res {
        self.number(v)
    }
    fn serialize_u32(self, v: u32) -> Res {
        self.number(v)
    }
    fn serialize_u64(self, v: u64) -> Res {
        self.number(v)
    }
    fn serialize_u128(self, v: u128) -> Res {
        self.number(v)
    }
    fn serialize_f32(self, v: f32) -> Res {
        self.number(v)
    }
    fn serialize_f64(self, v: f64) -> Res {
        self.number(v)
    }
    fn serialize_char(self, v: char) -> Res {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Res {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Res {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Res {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Res {
        self.not_key()?;
        value.serialize(self)
    }
    fn serialize_unit(self) -> Res {
        self.not_key()?;
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Res {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Res {
        write_str(self.out, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Res {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Res {
        self.not_key()?;
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(
        self,
        _len: Option<usize>,
    ) -> std::result::Result<Compound<'a, 'b>, Unsupported> {
        self.not_key()?;
        self.out.push(b'[');
        Ok(Compound {
            w: self,
            first: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> std::result::Result<Compound<'a, 'b>, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> std::result::Result<Compound<'a, 'b>, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(
        self,
        _len: Option<usize>,
    ) -> std::result::Result<Compound<'a, 'b>, Unsupported> {
        self.not_key()?;
        self.out.push(b'{');
        Ok(Compound {
            w: self,
            first: true,
        })
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> std::result::Result<Compound<'a, 'b>, Unsupported> {
        // `serde_json::value::RawValue` (the `raw_value` feature) is written through a struct
        // of this name, which serde_json writes as the raw text.
        if name == RAW_VALUE {
            return Err(Unsupported);
        }
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

/// The sequence-like serializers: each element after a comma, closed by `]`.
macro_rules! sequences {
    ($($serializer:ident::$element:ident),*) => {$(
        impl ser::$serializer for Compound<'_, '_> {
            type Ok = ();
            type Error = Unsupported;
            fn $element<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
                self.element(value)
            }
            fn end(self) -> Res {
                self.close(b']')
            }
        }
    )*};
}

sequences!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Res {
        self.comma();
        self.w.key = true;
        let written = key.serialize(&mut *self.w);
        self.w.key = false;
        written
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.w.out.push(b':');
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Res {
        self.close(b'}')
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Res {
        self.field(key, value)
    }
    fn end(self) -> Res {
        self.close(b'}')
    }
}
