use super::*;

#[test]
fn every_reserved_character_is_escaped_and_nothing_else() {
    let text = r"a\b|c{d}e@f[g]h(i)j<k>l#m*n_o~p";
    assert_eq!(
        escape(text),
        r"a\\b\|c\{d\}e\@f\[g\]h\(i\)j\<k\>l\#m\*n\_o\~p"
    );
    assert_eq!(
        escape("Hello, wörld! 🎉 & \"quotes\" / 50% $5"),
        "Hello, wörld! 🎉 & \"quotes\" / 50% $5"
    );
    assert_eq!(escape(""), "");
}

#[test]
fn unescaping_gives_back_the_text() {
    for text in [
        r"a\b|c{d}e@f[g]h(i)j<k>l#m*n_o~p",
        "(see https://example.com/a_b?x=1#top) #launch @team",
        "\\\\",
        "plain",
    ] {
        assert_eq!(unescape(&escape(text)).as_deref(), Ok(text));
    }
}

#[test]
fn an_unescaped_reserved_character_is_where_linkedin_would_cut() {
    assert_eq!(unescape("Hello (world)"), Err(6));
    assert_eq!(unescape(r"trailing \"), Err(9));
    assert_eq!(unescape(r"\a"), Err(0));
}
