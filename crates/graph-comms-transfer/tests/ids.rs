//! The validated identifiers and the call id in the URL, data-driven.

use graph_comms_transfer::{call_path_segment, CallId, Error, Guid, E164};

#[test]
fn e164() {
    let ok = ["+1", "+12345678901", "+441632960961", "+123456789012345"];
    for s in ok {
        let n = E164::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(n.as_str(), s);
        assert_eq!(n.digits(), &s[1..]);
        assert_eq!(n.to_string(), s);
    }
    let bad: &[(&str, &str)] = &[
        ("", "it is empty"),
        ("+", "no digits after '+'"),
        ("+0", "country codes start with 1-9, not 0"),
        ("+01234", "country codes start with 1-9, not 0"),
        ("+1234567890123456", "16 digits; E.164 allows at most 15"),
        ("12345678901", "it must start with '+' and a country code"),
        (
            "00441632960961",
            "it must start with '+' and a country code",
        ),
        (
            "++1234",
            "'+' at character 2; only ASCII digits may follow '+'",
        ),
        (
            "TEL:+1234",
            "a tel: URI; send the bare number, e.g. +12345678901",
        ),
        (" +1234", "it has leading or trailing whitespace"),
        ("+1234\n", "it has leading or trailing whitespace"),
        (
            "+1 234",
            "a space at character 3; only ASCII digits may follow '+'",
        ),
        (
            "+1\u{a0}234",
            "whitespace '\\u{a0}' at character 3; only ASCII digits may follow '+'",
        ),
        (
            "+1-234",
            "a dash at character 3; only ASCII digits may follow '+'",
        ),
        (
            "+1(234)",
            "'(' at character 3; only ASCII digits may follow '+'",
        ),
        (
            "+１２３",
            "the non-ASCII digit '１' at character 2; only ASCII digits may follow '+'",
        ),
        (
            "+12x",
            "'x' at character 4; only ASCII digits may follow '+'",
        ),
    ];
    for (s, reason) in bad {
        match E164::parse(s) {
            Err(Error::InvalidE164 { value, reason: got }) => {
                assert_eq!((value.as_str(), got.as_str()), (*s, *reason), "{s:?}")
            }
            other => panic!("{s:?}: expected InvalidE164, got {other:?}"),
        }
    }
}

#[test]
fn guid() {
    let g = Guid::parse("550FAE72-d251-43ec-868c-373732C2704F").expect("a GUID");
    assert_eq!(g.to_string(), "550fae72-d251-43ec-868c-373732c2704f");
    assert_eq!(g.to_hyphenated(), g.to_string());
    assert_eq!(g.as_u128(), 0x550fae72_d251_43ec_868c_373732c2704f);
    assert_eq!(Guid::from_u128(g.as_u128()), g);
    assert_eq!(
        Guid::from_u128(0).to_string(),
        "00000000-0000-0000-0000-000000000000"
    );
    assert_eq!(
        Guid::from_u128(u128::MAX).to_string(),
        "ffffffff-ffff-ffff-ffff-ffffffffffff"
    );
    let bad: &[(&str, &str)] = &[
        ("", "it is empty"),
        (
            " 550fae72-d251-43ec-868c-373732c2704f",
            "it has leading or trailing whitespace",
        ),
        (
            "550fae72d25143ec868c373732c2704f",
            "expected 36 characters in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        ),
        (
            "{550fae72-d251-43ec-868c-373732c2704f}",
            "expected 36 characters in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        ),
        (
            "550fae72-d251-43ec-868c-373732c2704g",
            "only hexadecimal digits and the four dashes are allowed",
        ),
        (
            "550fae72d-251-43ec-868c-373732c2704f",
            "expected the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        ),
        (
            "550fae72-d251-43ec-868c-373732c270é",
            "only hexadecimal digits and the four dashes are allowed",
        ),
    ];
    for (s, reason) in bad {
        match Guid::parse(s) {
            Err(Error::InvalidGuid { reason: got, .. }) => assert_eq!(got, *reason, "{s:?}"),
            other => panic!("{s:?}: expected InvalidGuid, got {other:?}"),
        }
    }
}

/// Every bit of the 128, alone and with its neighbours, lands on its digit in both directions
/// (the encoder and the parser work on two 64-bit halves).
#[test]
fn guid_digits_follow_every_bit() {
    for bit in 0..128 {
        for value in [1u128 << bit, !(1u128 << bit), 0xf << (bit / 4 * 4)] {
            let plain = format!("{value:032x}");
            let hyphenated = format!(
                "{}-{}-{}-{}-{}",
                &plain[..8],
                &plain[8..12],
                &plain[12..16],
                &plain[16..20],
                &plain[20..]
            );
            let g = Guid::from_u128(value);
            assert_eq!(g.to_hyphenated(), hyphenated, "{value:#x}");
            assert_eq!(g.to_string(), hyphenated, "{value:#x}");
            assert_eq!(Guid::parse(&hyphenated).map(|g| g.as_u128()), Ok(value));
            let upper = hyphenated.to_uppercase();
            assert_eq!(Guid::parse(&upper).map(|g| g.as_u128()), Ok(value));
        }
    }
}

#[test]
fn call_id() {
    let dashed = CallId::parse("e5d39592-99bd-4db8-bca8-30fb894ec51d").expect("dashed");
    let plain = CallId::parse("E5D3959299BD4DB8BCA830FB894EC51D").expect("plain");
    assert_eq!(dashed, plain);
    assert_eq!(plain.as_str(), "E5D3959299BD4DB8BCA830FB894EC51D");
    assert_eq!(dashed.guid(), plain.guid());
    assert_eq!(plain.to_path_segment(), "E5D3959299BD4DB8BCA830FB894EC51D");
    for s in [
        "",
        "call-1",
        "e5d39592-99bd-4db8-bca8-30fb894ec51",
        " e5d3959299bd4db8bca830fb894ec51d",
    ] {
        assert!(
            matches!(CallId::parse(s), Err(Error::InvalidCallId { .. })),
            "{s:?}"
        );
    }
}

#[test]
fn call_id_in_the_url_is_percent_encoded() {
    let cases: &[(&str, &str)] = &[
        (
            "341a0500-d4bf-4224-8b19-1581168d328b",
            "341a0500-d4bf-4224-8b19-1581168d328b",
        ),
        ("a/b", "a%2Fb"),
        ("../x", "..%2Fx"),
        ("a?b#c", "a%3Fb%23c"),
        ("50%", "50%25"),
        ("a b", "a%20b"),
        ("ä", "%C3%A4"),
        ("x\r\nHost: evil", "x%0D%0AHost%3A%20evil"),
        ("~_.-", "~_.-"),
        ("...", "..."),
    ];
    for (id, seg) in cases {
        assert_eq!(call_path_segment(id).as_deref(), Ok(*seg), "{id:?}");
    }
    for id in ["", " ", "\t", ".", ".."] {
        assert!(
            matches!(call_path_segment(id), Err(Error::InvalidUrlCallId { .. })),
            "{id:?}"
        );
    }
    insta::assert_snapshot!(
        call_path_segment("").unwrap_err().to_string(),
        @r#"call id in the URL: "" cannot be used (it is empty; the URL needs the id of the call to transfer)"#
    );
}

#[test]
fn serde_goes_through_the_strict_parsers() {
    let g: Guid =
        serde_json::from_str(r#""550FAE72-d251-43ec-868c-373732c2704f""#).expect("a GUID");
    assert_eq!(
        serde_json::to_string(&g).expect("serializes"),
        r#""550fae72-d251-43ec-868c-373732c2704f""#
    );
    let n: E164 = serde_json::from_str(r#""+12345678901""#).expect("E.164");
    assert_eq!(
        serde_json::to_string(&n).expect("serializes"),
        r#""+12345678901""#
    );
    let c: CallId =
        serde_json::from_str(r#""E5D3959299BD4DB8BCA830FB894EC51D""#).expect("a call id");
    assert_eq!(
        serde_json::to_string(&c).expect("serializes"),
        r#""E5D3959299BD4DB8BCA830FB894EC51D""#
    );
    let err = serde_json::from_str::<E164>(r#""+1 234""#).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#""+1 234" is not E.164 (a space at character 3; only ASCII digits may follow '+') at line 1 column 8"#
    );
    assert!(serde_json::from_str::<Guid>("5").is_err());
}

const HYPHEN_AT: [usize; 4] = [8, 13, 18, 23];

/// The digit's value, written out case by case.
fn reference_digit(c: u8) -> Option<u128> {
    match c {
        b'0'..=b'9' => Some(u128::from(c - b'0')),
        b'a'..=b'f' => Some(u128::from(c - b'a' + 10)),
        b'A'..=b'F' => Some(u128::from(c - b'A' + 10)),
        _ => None,
    }
}

/// The GUID parser written the straightforward way: one byte at a time.
fn reference_guid(s: &str) -> Result<u128, &'static str> {
    let b = s.as_bytes();
    if b.len() == 36 && HYPHEN_AT.iter().all(|&i| b[i] == b'-') {
        let mut value = 0;
        for (i, &c) in b.iter().enumerate() {
            if HYPHEN_AT.contains(&i) {
                continue;
            }
            let Some(d) = reference_digit(c) else {
                return Err("only hexadecimal digits and the four dashes are allowed");
            };
            value = (value << 4) | d;
        }
        return Ok(value);
    }
    if s.is_empty() {
        Err("it is empty")
    } else if s.trim() != s {
        Err("it has leading or trailing whitespace")
    } else if b.len() != 36 {
        Err("expected 36 characters in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    } else {
        Err("expected the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    }
}

/// The call-id parser written the straightforward way.
fn reference_call_id(s: &str) -> Result<u128, &'static str> {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.trim() != s {
        return Err("it has leading or trailing whitespace");
    }
    match s.len() {
        36 => reference_guid(s),
        32 => {
            let mut value = 0;
            for &c in s.as_bytes() {
                let Some(d) = reference_digit(c) else {
                    return Err("only hexadecimal digits are allowed");
                };
                value = (value << 4) | d;
            }
            Ok(value)
        }
        _ => Err("expected a GUID, with dashes (36 characters) or without (32 hexadecimal digits)"),
    }
}

/// `Guid::parse` and `CallId::parse` against the references, value or reason.
fn check_against_reference(s: &str) {
    let guid = match Guid::parse(s) {
        Ok(g) => Ok(g.as_u128()),
        Err(Error::InvalidGuid { reason, .. }) => Err(reason),
        Err(other) => panic!("{s:?}: {other:?}"),
    };
    assert_eq!(guid, reference_guid(s), "Guid::parse({s:?})");
    let call = match CallId::parse(s) {
        Ok(c) => Ok(c.guid().as_u128()),
        Err(Error::InvalidCallId { reason, .. }) => Err(reason),
        Err(other) => panic!("{s:?}: {other:?}"),
    };
    assert_eq!(call, reference_call_id(s), "CallId::parse({s:?})");
}

/// Every byte value a `&str` can hold at a position, put there in `template` (a non-ASCII byte
/// with the rest of its character around it), is accepted or refused as the reference does.
/// Returns, per position, which byte values were tried.
fn every_byte_everywhere(template: &str) -> Vec<[bool; 256]> {
    let len = template.len();
    let mut tried = vec![[false; 256]; len];
    // Every character up to U+07FF covers every ASCII byte, every two-byte lead and every
    // continuation byte; one character per lead covers the three- and four-byte leads.
    let chars = (0u32..0x800)
        .chain(
            (0xe0u32..=0xef).map(|lead| ((lead & 0x0f) << 12) | (0x0800 * u32::from(lead == 0xe0))),
        )
        .chain(
            (0xf0u32..=0xf4)
                .map(|lead| ((lead & 0x07) << 18) | (0x1_0000 * u32::from(lead == 0xf0))),
        );
    for c in chars.filter_map(char::from_u32) {
        let mut buf = [0; 4];
        let encoded = c.encode_utf8(&mut buf).as_bytes();
        for at in 0..=len.saturating_sub(encoded.len()) {
            let mut bytes = template.as_bytes().to_vec();
            bytes[at..at + encoded.len()].copy_from_slice(encoded);
            let s = std::str::from_utf8(&bytes).expect("one character replaced by another");
            check_against_reference(s);
            for (i, &b) in encoded.iter().enumerate() {
                tried[at + i][usize::from(b)] = true;
            }
        }
    }
    tried
}

/// What cannot be tried: bytes that never occur in UTF-8, and a lead byte too close to the end
/// for its character.
fn impossible(at: usize, len: usize, byte: u8) -> bool {
    let char_len = match byte {
        0xc0 | 0xc1 | 0xf5..=0xff => return true,
        0x80..=0xbf => return at == 0,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    };
    at + char_len > len
}

#[test]
fn guid_parsers_take_every_byte_as_the_reference_does() {
    for template in [
        "550fae72-d251-43ec-868c-373732C2704F",
        "550FAE72d251943ecA868cf373732c2704f0",
        "550fae72D25143ec868c373732c2704f",
        "AbCdEf0123456789aBcDeF9876543210",
    ] {
        let tried = every_byte_everywhere(template);
        for (at, tried) in tried.iter().enumerate() {
            for byte in 0..=255u8 {
                assert!(
                    tried[usize::from(byte)] || impossible(at, template.len(), byte),
                    "{template:?}: byte {byte:#04x} at {at} was not tried"
                );
            }
        }
    }
}

/// Random strings of the right lengths, hyphens mostly in place, drawn from the hex digits and
/// the bytes around each of their ranges, several changes per string.
#[test]
fn guid_parsers_agree_with_the_reference_on_mixed_strings() {
    const ALPHABET: &[u8] = b"0123456789abcdefABCDEF/:@G`g\x00\x7f -";
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..50_000 {
        let len = if round % 2 == 0 { 36 } else { 32 };
        let mut bytes: Vec<u8> = (0..len)
            .map(|i| {
                if len == 36 && HYPHEN_AT.contains(&i) && next() % 8 != 0 {
                    b'-'
                } else {
                    b"0123456789abcdefABCDEF"[(next() % 22) as usize]
                }
            })
            .collect();
        for _ in 0..next() % 4 {
            let at = (next() % len as u64) as usize;
            bytes[at] = ALPHABET[(next() % ALPHABET.len() as u64) as usize];
        }
        check_against_reference(std::str::from_utf8(&bytes).expect("ASCII"));
    }
}
