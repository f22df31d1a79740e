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
