//! The routing decode's fast path: one pass over the body that checks the JSON grammar as
//! serde_json's validate-only pass (`IgnoredAny`) does and reads the routed members in place,
//! without serde's visitor protocol (a visitor call per object key was most of the routing
//! decode's cost over the validate-only pass).
//!
//! It answers only when it is sure to give what the serde visitors give. Everything else returns
//! `None` and the caller decodes the body again with the visitors, which then give the answer or
//! the error (with its line and column): every error, an escape in an object key or a routed
//! string (the visitors resolve and check those), a routed number that is not a non-negative
//! integer of at most 18 digits (the visitors parse floats and range-check them), and nesting
//! deeper than [`MAX_DEPTH`].

use std::borrow::Cow;

use super::{
    RoutingBatch, RoutingCall, RoutingCode, RoutingData, RoutingNotification, RoutingResultInfo,
};

/// How deep a skipped value may nest before the scan leaves it to the serde visitors.
const MAX_DEPTH: u32 = 128;

/// The routing decode of `text`, or `None` when the serde visitors must decide.
pub(super) fn batch(text: &str) -> Option<RoutingBatch<'_>> {
    let value = batch_with(text, &mut std::mem::take)?;
    Some(RoutingBatch { value })
}

/// The `value` of `text` with each notification mapped by `f` as it is read (no `Vec` of
/// notifications in between), or `None` when the serde visitors must decide.
pub(super) fn map_batch<'a, T>(
    text: &'a str,
    f: &mut impl FnMut(&RoutingNotification<'a>) -> T,
) -> Option<Option<Vec<T>>> {
    batch_with(text, &mut |n| f(n))
}

/// The body's `value`, each notification given to `f` where it was read (the notifications,
/// about 300 bytes each, are filled in place rather than moved).
fn batch_with<'a, T>(
    text: &'a str,
    f: &mut impl FnMut(&mut RoutingNotification<'a>) -> T,
) -> Option<Option<Vec<T>>> {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    s.ws();
    if s.peek()? != b'{' {
        return None;
    }
    s.i += 1;
    let mut value = None;
    s.members(Keys::Read, |s, key| {
        if key == b"value" {
            value = s.notifications(f)?;
            Some(())
        } else {
            s.skip_value(MAX_DEPTH)
        }
    })?;
    s.ws();
    (s.i == s.b.len()).then_some(value)
}

/// Whether an object's keys are read (compared with member names: an escape hands the body to the
/// serde visitors) or only checked (the object is skipped).
#[derive(Clone, Copy, PartialEq)]
enum Keys {
    Read,
    Skip,
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// The members of an object whose `{` was just consumed: `member` is called with each key and
    /// must consume its value.
    #[inline]
    fn members(
        &mut self,
        keys: Keys,
        mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
    ) -> Option<()> {
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            if self.peek()? != b'"' {
                return None;
            }
            self.i += 1;
            let key = match keys {
                Keys::Read => self.plain_str()?,
                Keys::Skip => {
                    self.skip_str()?;
                    &[]
                }
            };
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            self.ws();
            member(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The elements of an array whose `[` was just consumed: `element` must consume each.
    #[inline]
    fn elements(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            element(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The index of the next `"`, `\` or control character from `self.i` (the length when there
    /// is none), eight bytes at a time as serde_json does.
    #[inline]
    fn string_end(&self) -> usize {
        const ONES: u64 = u64::MAX / 255;
        let rest = self.b.get(self.i..).unwrap_or_default();
        let (chunks, tail) = rest.as_chunks::<8>();
        for (n, chunk) in chunks.iter().enumerate() {
            let v = u64::from_le_bytes(*chunk);
            let ctrl = v.wrapping_sub(ONES * 0x20) & !v;
            let q = v ^ (ONES * u64::from(b'"'));
            let quote = q.wrapping_sub(ONES) & !q;
            let bs = v ^ (ONES * u64::from(b'\\'));
            let backslash = bs.wrapping_sub(ONES) & !bs;
            let hit = (ctrl | quote | backslash) & (ONES << 7);
            if hit != 0 {
                return self.i + n * 8 + hit.trailing_zeros() as usize / 8;
            }
        }
        let base = self.i + chunks.len() * 8;
        base + tail
            .iter()
            .position(|c| matches!(c, b'"' | b'\\') || *c < 0x20)
            .unwrap_or(tail.len())
    }

    /// The bytes of a string whose `"` was just consumed, when it holds no escape.
    #[inline]
    fn plain_str(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        let end = self.string_end();
        if self.b.get(end) != Some(&b'"') {
            return None;
        }
        self.i = end + 1;
        self.b.get(start..end)
    }

    /// [`plain_str`](Self::plain_str) as text, borrowed from the body.
    #[inline]
    fn plain_text(&mut self) -> Option<&'a str> {
        let start = self.i;
        self.plain_str()?;
        self.text.get(start..self.i - 1)
    }

    /// Checks a string whose `"` was just consumed, escapes included.
    fn skip_str(&mut self) -> Option<()> {
        loop {
            self.i = self.string_end();
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => {
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            let hex = self.b.get(self.i + 1..self.i + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 5;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// Checks `word` (`true`, `false`, `null`) at the current position.
    #[inline]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    #[inline]
    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// Checks a number; its value when it is a non-negative integer of at most 18 digits.
    fn number(&mut self) -> Option<Option<i64>> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let start = self.i;
        match self.peek()? {
            b'0' => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return None;
                }
            }
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        let int = self.b.get(start..self.i)?;
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            integral = false;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            integral = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        if !integral || negative || int.len() > 18 {
            return Some(None);
        }
        Some(Some(
            int.iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0')),
        ))
    }

    /// Checks any value (after whitespace), nesting at most `depth` deep.
    fn skip_value(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.skip_str()
            }
            b'{' if depth > 0 => {
                self.i += 1;
                self.members(Keys::Skip, |s, _| s.skip_value(depth - 1))
            }
            b'[' if depth > 0 => {
                self.i += 1;
                self.elements(|s| s.skip_value(depth - 1))
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => None,
        }
    }

    /// A value in a routed member whose content is not read: objects and arrays are checked as the
    /// serde visitors read them (keys compared, values skipped), a number must be a plain integer
    /// (the visitors parse it).
    fn skip_routed(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => {
                self.i += 1;
                self.members(Keys::Read, |s, _| s.skip_value(MAX_DEPTH))
            }
            b'[' => {
                self.i += 1;
                self.elements(|s| s.skip_value(MAX_DEPTH))
            }
            b'"' => {
                self.i += 1;
                self.plain_str().map(drop)
            }
            b'-' | b'0'..=b'9' => self.number()?.map(drop),
            _ => self.skip_value(0),
        }
    }

    /// `value`: `null`, or an array of notification objects, each mapped by `f`.
    fn notifications<T>(
        &mut self,
        f: &mut impl FnMut(&mut RoutingNotification<'a>) -> T,
    ) -> Option<Option<Vec<T>>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        if self.peek()? != b'[' {
            return None;
        }
        self.i += 1;
        // A batch usually holds one notification.
        let mut out = Vec::with_capacity(1);
        let mut n = RoutingNotification::default();
        self.elements(|s| {
            s.notification(&mut n)?;
            out.push(f(&mut n));
            Some(())
        })?;
        Some(Some(out))
    }

    /// A notification object, read into `n` (whose members are all reset first).
    fn notification(&mut self, n: &mut RoutingNotification<'a>) -> Option<()> {
        if self.peek()? != b'{' {
            return None;
        }
        self.i += 1;
        // Every member named, so that a member added to the struct must be reset here too.
        let RoutingNotification {
            change_type,
            resource_url,
            resource,
            resource_data,
        } = n;
        *change_type = None;
        *resource_url = None;
        *resource = None;
        *resource_data = RoutingData::Absent;
        self.members(Keys::Read, |s, key| {
            match key {
                b"changeType" => n.change_type = s.lenient_str()?,
                b"resourceUrl" => n.resource_url = s.lenient_str()?,
                b"resource" => n.resource = s.lenient_str()?,
                b"resourceData" => s.data(&mut n.resource_data)?,
                _ => s.skip_value(MAX_DEPTH)?,
            }
            Some(())
        })
    }

    /// A string member: its text, or `None` for any other value.
    fn lenient_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.peek()? == b'"' {
            self.i += 1;
            return Some(Some(Cow::Borrowed(self.plain_text()?)));
        }
        self.skip_routed()?;
        Some(None)
    }

    /// `resourceData`, into `out`.
    fn data(&mut self, out: &mut RoutingData<'a>) -> Option<()> {
        match self.peek()? {
            b'{' => {
                self.i += 1;
                // Filled in place: a `RoutingCall` is most of a notification's size.
                *out = RoutingData::Call(RoutingCall::default());
                let RoutingData::Call(call) = out else {
                    return None;
                };
                self.members(Keys::Read, |s, key| {
                    match key {
                        b"state" => call.state = s.lenient_str()?,
                        b"resultInfo" => call.result_info = s.result_info()?,
                        b"terminationReason" => call.termination_reason = s.lenient_str()?,
                        b"replacesContext" => call.replaces_context = s.lenient_str()?,
                        b"status" => call.status = s.lenient_str()?,
                        b"@odata.type" => call.odata_type = s.lenient_str()?,
                        _ => s.skip_value(MAX_DEPTH)?,
                    }
                    Some(())
                })
            }
            b'[' => {
                self.i += 1;
                let mut len = 0;
                self.elements(|s| {
                    len += 1;
                    s.skip_value(MAX_DEPTH)
                })?;
                *out = RoutingData::Array(len);
                Some(())
            }
            b'n' => {
                self.literal(b"null")?;
                *out = RoutingData::Absent;
                Some(())
            }
            _ => {
                self.skip_routed()?;
                *out = RoutingData::Other;
                Some(())
            }
        }
    }

    /// `resultInfo`: an object's routed members, or `None` for any other value.
    fn result_info(&mut self) -> Option<Option<RoutingResultInfo<'a>>> {
        if self.peek()? != b'{' {
            self.skip_routed()?;
            return Some(None);
        }
        self.i += 1;
        let mut info = RoutingResultInfo::default();
        self.members(Keys::Read, |s, key| {
            match key {
                b"code" => info.code = s.code()?,
                b"subcode" => info.subcode = s.code()?,
                b"subCode" => info.sub_code = s.code()?,
                b"message" => info.message = s.lenient_str()?,
                _ => s.skip_value(MAX_DEPTH)?,
            }
            Some(())
        })?;
        Some(Some(info))
    }

    /// A result code: a plain integer or a string; `null` is `None`, anything else
    /// [`RoutingCode::Other`].
    fn code(&mut self) -> Option<Option<RoutingCode<'a>>> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                Some(Some(RoutingCode::Str(Cow::Borrowed(self.plain_text()?))))
            }
            b'-' | b'0'..=b'9' => Some(Some(RoutingCode::Int(self.number()??))),
            b'n' => {
                self.literal(b"null")?;
                Some(None)
            }
            _ => {
                self.skip_routed()?;
                Some(Some(RoutingCode::Other))
            }
        }
    }
}
