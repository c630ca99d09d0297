//! Top-level domains that twitter-text recognises when it looks for links.
//!
//! The list is the data file `tlds.txt` beside this one (its header says where it comes from and
//! when it was taken): the IANA root-zone list as twitter-text ships it, lower-case and sorted by
//! UTF-8 bytes so [`is_tld`] can binary-search it. Punycode TLDs (`xn--…`) are listed, but any
//! `xn--` label is accepted anyway, as twitter-text does.

use std::sync::LazyLock;

/// The data file: a header of `#` comment lines, then one TLD per line.
const TLDS_TXT: &str = include_str!("tlds.txt");

/// Every known TLD, lower-case, sorted by UTF-8 bytes (the file's order, which a test checks),
/// read from [`TLDS_TXT`] on first use.
static TLDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    TLDS_TXT
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect()
});

/// Whether `label` (any case) is a top-level domain twitter-text links.
pub(super) fn is_tld(label: &str) -> bool {
    if label.len() > 4 && label.as_bytes()[..4].eq_ignore_ascii_case(b"xn--") {
        return label[4..].bytes().all(|b| b.is_ascii_alphanumeric());
    }
    let lower = label.to_lowercase();
    TLDS.binary_search(&lower.as_str()).is_ok()
}

/// Whether `label` is an ASCII country-code TLD (every two-letter ASCII TLD is one).
pub(super) fn is_ascii_cc_tld(label: &str) -> bool {
    label.len() == 2 && label.bytes().all(|b| b.is_ascii_alphabetic()) && is_tld(label)
}

#[cfg(test)]
mod tests {
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
}
