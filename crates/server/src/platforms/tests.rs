use super::*;

const AUTH: &str = "https://www.instagram.com";
const TOKEN: &str = "https://api.instagram.com";

#[test]
fn a_login_on_two_hosts_keeps_each_unless_the_authorisation_moves_elsewhere() {
    let urls = |auth, token| login_urls(auth, token, AUTH, TOKEN);
    // Nothing set: each its default.
    assert_eq!(urls(None, None), (AUTH.to_owned(), TOKEN.to_owned()));
    // The authorisation base set to its own default (with or without a slash) does not move
    // the code exchange to it.
    assert_eq!(urls(Some(AUTH), None), (AUTH.to_owned(), TOKEN.to_owned()));
    assert_eq!(
        urls(Some("https://www.instagram.com/"), None).1,
        TOKEN.to_owned()
    );
    // A fake on one host: both there.
    let fake = "http://127.0.0.1:8090/instagram";
    assert_eq!(urls(Some(fake), None), (fake.to_owned(), fake.to_owned()));
    // Each set: each as set.
    assert_eq!(
        urls(Some(fake), Some("http://127.0.0.1:9000")),
        (fake.to_owned(), "http://127.0.0.1:9000".to_owned())
    );
    assert_eq!(
        urls(None, Some("http://127.0.0.1:9000")),
        (AUTH.to_owned(), "http://127.0.0.1:9000".to_owned())
    );
}
