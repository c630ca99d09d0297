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
