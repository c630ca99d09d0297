use super::*;

const CERT1: &str = include_str!("../../../tests/fixtures/firebase_test_cert1.pem");
const CERT2: &str = include_str!("../../../tests/fixtures/firebase_test_cert2.pem");
const PUB1: &str = include_str!("../../../tests/fixtures/firebase_test_pub1.pem");
const KEY1: &str = include_str!("../../../tests/fixtures/firebase_test_key1.pem");
const KEY2: &str = include_str!("../../../tests/fixtures/firebase_test_key2.pem");
/// A self-signed P-256 certificate (test-only, made with `openssl req -x509`): not RSA.
const EC_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUGNvDsl8PA0KoDcNasEV36htGeL4wCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQbXVsdGl2aW8tdGVzdC1lYzAgFw0yNjExMzAwMzA0NDNaGA8y
MTI2MTEwNjAzMDQ0M1owGzEZMBcGA1UEAwwQbXVsdGl2aW8tdGVzdC1lYzBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABEl72Ghm9+jyBQYAUd2watb1p/TTYwBJj/kF
D74+Jl6mmNlhkIjQt5irp0u/HFsl7PljThjv5fTmvPdDET/J3gujUzBRMB0GA1Ud
DgQWBBRL8x+ymdSDJQRspAwaWxdIkbCurDAfBgNVHSMEGDAWgBRL8x+ymdSDJQRs
pAwaWxdIkbCurDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIAYK
drrBznVLs2FOhrRUqQ4GovQg5f372eVBtK5zPAdRAiEA+6nLeRB5m3VPKl3FE90S
w0kusnqjJlhpNjgHUyL4axI=
-----END CERTIFICATE-----
";

fn sign(key_pem: &str, message: &str) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
    jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::RS256).unwrap()
}

fn verifies(key: &DecodingKey, message: &str, signature: &str) -> bool {
    jsonwebtoken::crypto::verify(
        signature,
        message.as_bytes(),
        key,
        jsonwebtoken::Algorithm::RS256,
    )
    .unwrap_or(false)
}

#[test]
fn certificate_key_verifies_its_private_keys_signatures() {
    let from_cert = rsa_key_from_pem(CERT1).unwrap();
    let from_pub = rsa_key_from_pem(PUB1).unwrap();
    let sig1 = sign(KEY1, "hello");
    let sig2 = sign(KEY2, "hello");
    assert!(verifies(&from_cert, "hello", &sig1));
    assert!(verifies(&from_pub, "hello", &sig1));
    assert!(!verifies(&from_cert, "hellO", &sig1));
    assert!(!verifies(&from_cert, "hello", &sig2));
    let other = rsa_key_from_pem(CERT2).unwrap();
    assert!(verifies(&other, "hello", &sig2));
}

/// The key comes from jsonwebtoken's `from_rsa_pem`, which takes a certificate: it must be
/// the certificate's own key, the same as its bare public key.
#[test]
fn agrees_with_jsonwebtoken_from_rsa_pem() {
    let theirs = DecodingKey::from_rsa_pem(CERT1.as_bytes()).unwrap();
    let sig = sign(KEY1, "m");
    assert!(verifies(&theirs, "m", &sig));
    let from_pub = rsa_key_from_pem(PUB1).unwrap();
    assert!(verifies(&from_pub, "m", &sig));
    assert!(!verifies(&theirs, "m", &sign(KEY2, "m")));
}

#[test]
fn refuses_what_is_not_an_rsa_certificate() {
    for bad in [
        "",
        "garbage",
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nMIIBCgKCAQEA\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nMIAA\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nMIQA\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----",
        KEY1, // a private key is not a verification key
        EC_CERT,
    ] {
        assert!(rsa_key_from_pem(bad).is_none(), "{bad:?}");
    }
    // A private key or an RSA certificate under another label is refused too.
    let der = pem::parse(CERT1).unwrap().into_contents();
    for label in ["PRIVATE KEY", "RSA PUBLIC KEY", "X509 CRL"] {
        let relabelled = pem::encode(&pem::Pem::new(label, der.clone()));
        assert!(rsa_key_from_pem(&relabelled).is_none(), "{label}");
    }
    // A private key labelled CERTIFICATE may come out as "key" bytes (jsonwebtoken takes its
    // first OCTET STRING), but ring never takes those as a public key: nothing verifies.
    let key_der = pem::parse(KEY1).unwrap().into_contents();
    let relabelled = pem::encode(&pem::Pem::new("CERTIFICATE", key_der));
    if let Some(key) = rsa_key_from_pem(&relabelled) {
        assert!(!verifies(&key, "m", &sign(KEY1, "m")));
    }
    // Every truncation of a real certificate is refused, never a panic.
    let certificate = |der: &[u8]| pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()));
    for len in 0..der.len() {
        assert!(
            rsa_key_from_pem(&certificate(&der[..len])).is_none(),
            "{len}"
        );
    }
    // Flipping any byte never panics.
    for i in 0..der.len() {
        let mut d = der.clone();
        d[i] ^= 0xff;
        let _ = rsa_key_from_pem(&certificate(&d));
    }
}

#[test]
fn certificate_set_parsing() {
    let body = serde_json::json!({ "k1": CERT1, "k2": CERT2, "bad": "nope" }).to_string();
    let keys = parse_certificate_set(body.as_bytes()).unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains_key("k1") && keys.contains_key("k2"));
    assert!(parse_certificate_set(b"[]").is_err());
    assert!(parse_certificate_set(b"{}").is_err());
    assert!(parse_certificate_set(b"{\"k\": 1}").is_err());
    assert!(parse_certificate_set(b"{\"k\": \"nope\"}").is_err());
    assert!(parse_certificate_set(b"").is_err());
}

#[test]
fn cache_control() {
    assert_eq!(cache_lifetime(None), Duration::from_secs(3600));
    assert_eq!(
        cache_lifetime(Some("public, max-age=19683, must-revalidate, no-transform")),
        Duration::from_secs(19683)
    );
    assert_eq!(
        cache_lifetime(Some("Max-Age = 60")),
        Duration::from_secs(60)
    );
    assert_eq!(cache_lifetime(Some("public")), Duration::from_secs(3600));
    assert_eq!(
        cache_lifetime(Some("max-age=abc")),
        Duration::from_secs(3600)
    );
    assert_eq!(cache_lifetime(Some("max-age=0")), Duration::ZERO);
    assert_eq!(cache_lifetime(Some("no-store")), Duration::ZERO);
    assert_eq!(
        cache_lifetime(Some("max-age=99999999999")),
        Duration::from_secs(24 * 3600)
    );
}
