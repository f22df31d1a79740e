//! Call ids compare as Graph means them: a GUID in any case, dashed or not, is one id.

use std::borrow::Cow;

use graph_comms_notify::normalize_call_id;

#[test]
fn a_lower_case_dashed_guid_is_borrowed_as_it_is() {
    let id = "57dab8b1-894c-409a-b240-bd8beae78896";
    assert!(matches!(normalize_call_id(id), Cow::Borrowed(b) if b == id));
}

#[test]
fn other_spellings_of_a_guid_become_the_lower_case_dashed_one() {
    for id in [
        "57DAB8B1-894C-409A-B240-BD8BEAE78896",
        "57dab8b1-894c-409A-b240-bd8beae78896",
        "57DAB8B1894C409AB240BD8BEAE78896",
        "57dab8b1894c409ab240bd8beae78896",
    ] {
        assert_eq!(
            normalize_call_id(id),
            "57dab8b1-894c-409a-b240-bd8beae78896",
            "{id}"
        );
    }
}

#[test]
fn anything_else_is_kept_as_it_is() {
    for id in [
        "",
        "Call-1",
        // 36 bytes, dashes in place, one letter past f.
        "57dab8b1-894c-409a-b240-bd8beae7889g",
        "57DAB8B1-894C-409A-B240-BD8BEAE7889G",
        // A dash out of place.
        "57dab8b1894c-409a-b240-bd8beae78896-",
        // 37 and 35 bytes.
        "57dab8b1-894c-409a-b240-bd8beae788960",
        "57dab8b1-894c-409a-b240-bd8beae7889",
        // Non-ASCII of the right length.
        "57dab8b1-894c-409a-b240-bd8beae788é",
    ] {
        assert!(
            matches!(normalize_call_id(id), Cow::Borrowed(b) if b == id),
            "{id}"
        );
    }
}
