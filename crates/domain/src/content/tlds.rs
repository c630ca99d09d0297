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
mod tests;
