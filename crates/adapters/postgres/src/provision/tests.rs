use super::*;

#[test]
fn scram_verifiers_have_postgres_shape_and_a_fresh_salt() {
    let a = scram_verifier("secret").unwrap();
    let b = scram_verifier("secret").unwrap();
    assert_ne!(a, b, "each verifier has its own salt");
    let (head, keys) = a.split_once('$').unwrap().1.split_once('$').unwrap();
    assert!(head.starts_with("4096:"));
    let (stored, server) = keys.split_once(':').unwrap();
    assert_eq!(stored.len(), 44);
    assert_eq!(server.len(), 44);
    assert!(a.starts_with("SCRAM-SHA-256$4096:"));
}

#[test]
fn login_urls_keep_everything_but_the_credentials() {
    assert_eq!(
        login_url(
            "postgres://owner:pw@db.internal:6543/app?sslmode=require",
            Role::Api,
            "p/w"
        )
        .unwrap(),
        "postgres://multivio_api_login:p%2Fw@db.internal:6543/app?sslmode=require"
    );
    assert_eq!(
        login_url("postgres://localhost/app", Role::Worker, "x").unwrap(),
        "postgres://multivio_worker_login:x@localhost/app"
    );
    assert!(login_url("not a url", Role::Api, "x").is_err());
}
