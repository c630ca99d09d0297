use super::*;

#[test]
fn x_and_twitter_are_the_same_provider() {
    assert_eq!("x".parse::<Provider>(), Ok(Provider::X));
    assert_eq!("Twitter".parse::<Provider>(), Ok(Provider::X));
    assert_eq!(Provider::X.as_str(), "twitter");
    let json = serde_json::to_string(&Provider::X).unwrap();
    assert_eq!(json, "\"twitter\"");
    let back: Provider = serde_json::from_str("\"x\"").unwrap();
    assert_eq!(back, Provider::X);
}

#[test]
fn every_provider_round_trips_through_its_name() {
    for p in Provider::ALL {
        assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), p);
    }
    assert!("myspace".parse::<Provider>().is_err());
}
