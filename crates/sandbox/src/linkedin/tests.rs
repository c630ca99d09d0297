use super::*;

#[test]
fn linkedin_shows_escaped_text_as_written_and_cuts_at_unescaped_markup() {
    let written = r"a\b|c{d}e@f[g]h(i)j<k>l#m*n_o~p";
    let escaped = multivio_social::linkedin::little::escape(written);
    assert_eq!(shown(&escaped), written);
    assert_eq!(shown("Launch day (finally)"), "Launch day ");
    assert_eq!(shown("Ship it #launch today"), "Ship it #launch today");
    assert_eq!(
        shown("Thanks @[Dana Li](urn:li:person:abc) and team"),
        "Thanks Dana Li and team"
    );
    assert_eq!(shown("a_b"), "a");
}
