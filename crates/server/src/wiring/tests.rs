use super::*;

#[test]
fn rate_limits_default_and_each_named_one_replaces_its_default() {
    assert!(rate_limits(None).is_ok());
    assert!(rate_limits(Some(" publish=600 , write=6000 ")).is_ok());
    for bad in [
        "publish",
        "publish=many",
        "publish=0",
        "publsh=10",
        "publish=-1",
    ] {
        assert!(rate_limits(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn a_named_limit_is_the_one_applied() {
    let limits = rate_limits(Some("publish=2")).unwrap();
    let user = "user-7";
    assert!(limits.check(Action::Publish, user).is_ok());
    assert!(limits.check(Action::Publish, user).is_ok());
    assert!(
        limits.check(Action::Publish, user).is_err(),
        "the third in a minute"
    );
    // The others keep their defaults.
    for _ in 0..10 {
        assert!(limits.check(Action::Connect, user).is_ok());
    }
    assert!(limits.check(Action::Connect, user).is_err());
}

fn media_config(flags: &[&str]) -> Config {
    Config::from_flags(flags.iter().map(|f| (*f).to_owned())).unwrap()
}

#[test]
fn media_live_on_disk_unless_a_bucket_is_named() {
    use multivio_ports::media::Delivery;
    let disk = media_store(&media_config(&[]), "http://127.0.0.1:8080/").unwrap();
    assert_eq!(disk.delivery(), Delivery::Api);
    assert_eq!(
        disk.public_url("1/a.png"),
        "http://127.0.0.1:8080/media/1/a.png"
    );
    let cdn = media_store(
        &media_config(&[
            "--s3-bucket=media",
            "--s3-endpoint=https://account.r2.cloudflarestorage.com",
            "--aws-region=auto",
            "--s3-public-url=https://media.example.com/",
        ]),
        "https://api.example.com",
    )
    .unwrap();
    assert_eq!(cdn.delivery(), Delivery::PublicUrl);
    assert_eq!(
        cdn.public_url("1/a.png"),
        "https://media.example.com/1/a.png"
    );
    let private = media_store(
        &media_config(&["--s3-bucket=media"]),
        "https://api.example.com",
    )
    .unwrap();
    assert_eq!(private.delivery(), Delivery::Api);
    assert_eq!(
        private.public_url("1/a.png"),
        "https://api.example.com/media/1/a.png"
    );
}
