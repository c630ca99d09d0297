use super::*;

#[test]
fn list_is_sorted_for_binary_search() {
    assert!(TLDS.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn data_file_has_one_clean_tld_per_line() {
    assert!(TLDS.len() > 1_500, "only {} TLDs read", TLDS.len());
    for line in TLDS_TXT.lines() {
        assert!(!line.trim().is_empty(), "blank line in tlds.txt");
        if line.starts_with('#') {
            continue;
        }
        assert_eq!(line, line.trim(), "padded line {line:?}");
        assert_eq!(line, line.to_lowercase(), "upper-case line {line:?}");
        assert!(!line.contains(['.', ' ']), "not a single label: {line:?}");
    }
    // Strictly increasing (the test above) also means no duplicates; the comment header
    // comes first, so nothing after it is skipped as a comment by mistake.
    let header = TLDS_TXT.lines().take_while(|l| l.starts_with('#')).count();
    assert_eq!(header + TLDS.len(), TLDS_TXT.lines().count());
}

#[test]
fn recognises_common_country_unicode_and_punycode_tlds() {
    for tld in [
        "com",
        "COM",
        "org",
        "io",
        "photography",
        "jp",
        "co",
        "みんな",
        "рф",
        "xn--p1ai",
    ] {
        assert!(is_tld(tld), "{tld}");
    }
    for not_tld in ["txt", "exe", "localhost", "", "xn--", "comx"] {
        assert!(!is_tld(not_tld), "{not_tld}");
    }
    assert!(is_ascii_cc_tld("jp"));
    assert!(is_ascii_cc_tld("CO"));
    assert!(!is_ascii_cc_tld("com"));
    assert!(!is_ascii_cc_tld("рф"));
}
