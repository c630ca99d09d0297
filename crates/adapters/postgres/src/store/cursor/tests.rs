use super::*;

#[test]
fn cursors_round_trip_and_garbage_is_refused() {
    let c = Cursor {
        at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
        id: Uuid::new_v4(),
    };
    assert_eq!(Cursor::decode(&c.encode()), Ok(c));
    for bad in [
        "",
        "x",
        "!!!",
        &"a".repeat(200),
        &URL_SAFE_NO_PAD.encode("1:nope"),
    ] {
        assert_eq!(Cursor::decode(bad), Err(BadCursor), "{bad}");
    }
}
