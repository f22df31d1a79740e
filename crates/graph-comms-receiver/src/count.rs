//! Counting a body's notifications before decoding it: one pass over the bytes, no allocation, no
//! recursion, stopping as soon as the limit is passed.
//!
//! The decode turns each notification into an event of a few hundred bytes, so a 1 MiB body of
//! 349 518 empty objects (`{},{},…`) would cost some 190 MB. Counting first bounds the events a
//! body can produce by the receiver's notifications limit.
//!
//! The count is an upper bound of what the decoder would produce: it counts the top-level elements
//! of every top-level `value` member (keys compared after unescaping, so `"\u0076alue"` counts
//! too). A body that is not JSON is left for the decoder to refuse.

/// Whether the body holds more than `limit` notifications.
pub(crate) fn exceeds(body: &[u8], limit: usize) -> bool {
    // Every element counted takes at least two bytes of the body: itself, and a comma or the
    // `"value":[` of its array. A body too short to hold more than `limit` needs no scan.
    if body.len() / 2 <= limit {
        return false;
    }
    let mut scanner = Scanner::default();
    let mut at = 0;
    while at < body.len() {
        // Most of a notification is string contents that only a quote or a backslash ends or
        // changes: jump to the next one instead of stepping byte by byte.
        if scanner.in_plain_string() {
            match memchr::memchr2(b'"', b'\\', &body[at..]) {
                Some(skip) => at += skip,
                None => return false,
            }
        }
        if scanner.step(body[at]) > limit {
            return true;
        }
        at += 1;
    }
    false
}

#[derive(Default)]
struct Scanner {
    /// Nesting depth: 1 inside the top-level object.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// At depth 1: the next string is a key (after `{` or `,`).
    expect_key: bool,
    /// At depth 1: the current key is (possibly) `value`.
    key: KeyMatch,
    /// The last complete key at depth 1 was `value`.
    key_is_value: bool,
    /// Inside a `value` array (at depth 2 while it is open).
    in_value_array: bool,
    /// The `value` array being scanned has an element so far.
    element_started: bool,
    count: usize,
}

/// Matching a key against `value` while it streams by, escapes included.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum KeyMatch {
    #[default]
    NotKey,
    /// The first `n` characters match `value`.
    Prefix(usize),
    /// Inside a `\uXXXX` escape: the characters matched so far, hex digits read, the code unit.
    Unicode(usize, u8, u32),
    /// After a backslash.
    Escape(usize),
    Mismatch,
}

const VALUE: &[u8] = b"value";

impl KeyMatch {
    fn push_char(self, matched: usize, c: u32) -> KeyMatch {
        if matched < VALUE.len() && c == u32::from(VALUE[matched]) {
            KeyMatch::Prefix(matched + 1)
        } else {
            KeyMatch::Mismatch
        }
    }

    fn step(self, byte: u8) -> KeyMatch {
        match self {
            KeyMatch::NotKey | KeyMatch::Mismatch => self,
            KeyMatch::Prefix(n) if byte == b'\\' => KeyMatch::Escape(n),
            KeyMatch::Prefix(n) => self.push_char(n, u32::from(byte)),
            KeyMatch::Escape(n) => match byte {
                b'u' => KeyMatch::Unicode(n, 0, 0),
                // `\"`, `\\`, `\/`, `\b`… are never letters of `value`.
                _ => KeyMatch::Mismatch,
            },
            KeyMatch::Unicode(n, digits, unit) => {
                let Some(digit) = (byte as char).to_digit(16) else {
                    return KeyMatch::Mismatch;
                };
                let unit = unit * 16 + digit;
                if digits == 3 {
                    self.push_char(n, unit)
                } else {
                    KeyMatch::Unicode(n, digits + 1, unit)
                }
            }
        }
    }

    fn is_value(self) -> bool {
        self == KeyMatch::Prefix(VALUE.len())
    }
}

impl Scanner {
    /// Inside a string that is not a key being matched, and not after a backslash: every byte
    /// but `"` and `\` would leave the scanner as it is.
    fn in_plain_string(&self) -> bool {
        self.in_string && !self.escaped && !(self.depth == 1 && self.expect_key)
    }

    /// Consumes one byte; returns the count so far.
    fn step(&mut self, byte: u8) -> usize {
        if self.in_string {
            if self.depth == 1 && self.expect_key {
                if self.escaped {
                    self.escaped = false;
                    self.key = self.key.step(byte);
                } else if byte == b'"' {
                    self.in_string = false;
                    self.expect_key = false;
                    self.key_is_value = self.key.is_value();
                    self.key = KeyMatch::NotKey;
                } else {
                    if byte == b'\\' {
                        self.escaped = true;
                    }
                    self.key = self.key.step(byte);
                }
            } else if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
            }
            return self.count;
        }
        if byte.is_ascii_whitespace() {
            return self.count;
        }
        // A value starting directly inside the `value` array is an element.
        if self.in_value_array && self.depth == 2 && !self.element_started && byte != b']' {
            self.element_started = true;
            self.count += 1;
        }
        match byte {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.expect_key {
                    self.key = KeyMatch::Prefix(0);
                }
            }
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth == 1 {
                    self.expect_key = byte == b'{';
                } else if self.depth == 2 && byte == b'[' && self.key_is_value {
                    self.in_value_array = true;
                    self.element_started = false;
                }
            }
            b'}' | b']' => {
                if self.depth == 2 && self.in_value_array {
                    self.in_value_array = false;
                }
                self.depth = self.depth.saturating_sub(1);
            }
            b',' => {
                if self.depth == 1 {
                    self.expect_key = true;
                    self.key_is_value = false;
                } else if self.depth == 2 && self.in_value_array {
                    self.element_started = false;
                }
            }
            _ => {}
        }
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(body: &str) -> usize {
        let mut scanner = Scanner::default();
        body.bytes().map(|b| scanner.step(b)).last().unwrap_or(0)
    }

    /// `exceeds` jumps over string contents; it must agree with stepping through every byte.
    #[test]
    fn exceeds_agrees_with_the_byte_by_byte_count() {
        let bodies = [
            r#"{"value":[{"s":"],[,{\"}"},{}]}"#,
            r#"{"value":[{"a":"\\"},{"b":"\\\""},"x\"",{}]}"#,
            r#"{"\u0076alue":[{},{}],"note":"\"value\":[{},{}]"}"#,
            r#"{"value":["unterminated"#,
            r#"{"value":[{},{}],"value":["a\"","b"]}"#,
            r#"{"k":"\"","value":[1,2,3,"\\",{"value":[1]}]}"#,
        ];
        for body in bodies {
            let n = count(body);
            assert!(n <= body.len() / 2, "the bound `exceeds` relies on: {body}");
            for limit in 0..=n + 1 {
                assert_eq!(
                    exceeds(body.as_bytes(), limit),
                    n > limit,
                    "{body} with limit {limit}"
                );
            }
        }
    }

    #[test]
    fn counts_the_elements_of_value_only() {
        assert_eq!(count(r#"{"value":[]}"#), 0);
        assert_eq!(count(r#"{"value":[{}]}"#), 1);
        assert_eq!(
            count(r#"{ "value" : [ {} , {"a":[1,2,3]} ,{"value":[{},{}]} ] }"#),
            3
        );
        assert_eq!(
            count(r#"{"x":[{},{},{}],"value":[{}],"y":{"value":[{},{}]}}"#),
            1
        );
        assert_eq!(count(r#"{"value":[{"s":"],[,{\"}"},{}]}"#), 2);
        assert_eq!(count(r#"{"valu":[{},{}],"values":[{}],"\"value":[{}]}"#), 0);
        // Escaped keys are what the decoder sees after unescaping.
        assert_eq!(count(r#"{"\u0076alue":[{},{}]}"#), 2);
        assert_eq!(count(r#"{"va\u006Cue":[{},{},{}]}"#), 3);
        assert_eq!(count(r#"{"v\nalue":[{}]}"#), 0);
        // Duplicated keys add up (an upper bound whichever one the decoder keeps).
        assert_eq!(count(r#"{"value":[{}],"value":[{},{}]}"#), 3);
        // Non-objects count too (the decoder refuses them anyway).
        assert_eq!(count(r#"{"value":[1,"a",null,[]]}"#), 4);
    }

    #[test]
    fn stops_past_the_limit() {
        let body = format!("{{\"value\":[{}{{}}]}}", "{},".repeat(349_517));
        assert!(exceeds(body.as_bytes(), 1_000));
        assert!(!exceeds(body.as_bytes(), 349_518));
        assert!(exceeds(body.as_bytes(), 349_517));
        let deep = format!(
            "{{\"value\":[{}{}]}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(!exceeds(deep.as_bytes(), 1));
        assert!(!exceeds(b"not json at all ]]]]}}}}", 0));
    }
}
