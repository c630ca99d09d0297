use super::*;

#[test]
fn cursors_round_trip_and_garbage_is_refused() {
    let c = Cursor {
        at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
        id: Uuid::new_v4(),
    };
    assert_eq!(Cursor::decode(&c.encode()), Ok(c));
    for micros in [-62_135_596_800_000_000, 253_402_300_799_999_999] {
        let edge = Cursor {
            at: DateTime::from_timestamp_micros(micros).unwrap(),
            id: c.id,
        };
        assert_eq!(Cursor::decode(&edge.encode()), Ok(edge));
    }
    for bad in [
        "",
        "x",
        "!!!",
        &"a".repeat(200),
        &URL_SAFE_NO_PAD.encode("1:nope"),
        // Before year 1 and after 9999.
        &URL_SAFE_NO_PAD.encode("-62135596800000001:00000000000000000000000000000000"),
        &URL_SAFE_NO_PAD.encode("253402300800000000:00000000000000000000000000000000"),
    ] {
        assert_eq!(Cursor::decode(bad), Err(BadCursor), "{bad}");
    }
}
