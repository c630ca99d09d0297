use super::*;

#[test]
fn rfc_5849_example_signature() {
    // RFC 5849 §1.2 / security.md: GET photos, with the token of the example.
    let signer = Signer {
        consumer_key: "dpf43f3p2l4k3l03",
        consumer_secret: "kd94hf93k423kf44",
        token: Some("nnch734d00sl2jdk"),
        token_secret: "pfkkdhi9sl3r4s00",
    };
    let url = url::Url::parse("http://photos.example.net/photos?file=vacation.jpg&size=original")
        .unwrap();
    let header = signer.authorization(
        "GET",
        &url,
        &[],
        &[],
        &Nonce {
            nonce: "chapoH",
            timestamp: 137131202,
            with_version: false,
        },
    );
    assert!(
        header.contains("oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\""),
        "{header}"
    );
    let params = parse_authorization(&header).unwrap();
    assert!(params.contains(&(
        "oauth_signature".to_owned(),
        "MdpQcU8iPSUjWoN/UDMsK2sui9I=".to_owned()
    )));
    assert!(params.contains(&("oauth_token".to_owned(), "nnch734d00sl2jdk".to_owned())));
}

#[test]
fn encoding_is_rfc_3986_with_uppercase_hex() {
    assert_eq!(encode("a b+c/é~-._"), "a%20b%2Bc%2F%C3%A9~-._");
    assert_eq!(encode("Ladies + Gentlemen"), "Ladies%20%2B%20Gentlemen");
}

#[test]
fn form_bodies_are_signed_and_the_query_too() {
    let signer = Signer {
        consumer_key: "k",
        consumer_secret: "s",
        token: None,
        token_secret: "",
    };
    let url = url::Url::parse("https://api.x.com/oauth/access_token?oauth_verifier=v1").unwrap();
    let nonce = Nonce {
        nonce: "n",
        timestamp: 1,
        with_version: true,
    };
    let base = base_string("post", &url, &[("oauth_nonce", "n")], &[("a", "1 2")]);
    assert_eq!(
        base,
        "POST&https%3A%2F%2Fapi.x.com%2Foauth%2Faccess_token&a%3D1%25202%26oauth_nonce%3Dn%26oauth_verifier%3Dv1"
    );
    // A form body changes the signature; nothing else about the request does.
    let with_form = signer.authorization("POST", &url, &[], &[("a", "1")], &nonce);
    let without = signer.authorization("POST", &url, &[], &[], &nonce);
    assert_ne!(with_form, without);
}
