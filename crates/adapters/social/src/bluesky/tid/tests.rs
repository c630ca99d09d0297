use super::*;

#[test]
fn zero_and_the_largest_value_encode_at_both_ends_of_the_alphabet() {
    assert_eq!(encode(0), "2222222222222");
    // 13 characters carry 65 bits: the first one the top 4 bits of the 64, of which the
    // highest is always 0, so a TID starts with one of `234567ab`.
    assert_eq!(encode(u64::MAX >> 1), "bzzzzzzzzzzzz");
    assert_eq!(encode(u64::MAX), "bzzzzzzzzzzzz", "the top bit is always 0");
    assert_eq!(encode(1), "2222222222223");
    assert_eq!(encode(32), "2222222222232");
}

#[test]
fn parts_are_laid_out_as_microseconds_then_clock_id() {
    assert_eq!(from_parts(0, 0), "2222222222222");
    assert_eq!(from_parts(0, 1), "2222222222223");
    assert_eq!(from_parts(1, 0), encode(1 << 10));
    assert_eq!(from_parts(0, 1024), "2222222222222", "10 bits of clock id");
    // A TID of 2024 starts like the ones the network mints now.
    let t = from_parts(1_704_067_200_000_000, 0);
    assert!(t.starts_with("3k"), "{t}");
}

#[test]
fn a_key_always_gives_the_same_valid_tid_and_different_keys_differ() {
    let a = from_key("multivio-00000000-0000-0000-0000-000000000001-bluesky:0");
    assert_eq!(
        a,
        from_key("multivio-00000000-0000-0000-0000-000000000001-bluesky:0")
    );
    assert!(is_valid(&a), "{a}");
    let b = from_key("multivio-00000000-0000-0000-0000-000000000001-bluesky:1");
    assert_ne!(a, b);
    for i in 0..2000 {
        let t = from_key(&format!("key-{i}"));
        assert!(is_valid(&t), "{t}");
        // 2023-01-01 ≤ time < 2024-02-12: in the past, never in the future.
        assert!(t.as_str() >= from_parts(1_672_531_200_000_000, 0).as_str());
        assert!(t.as_str() < from_parts(1_707_716_000_000_000, 0).as_str());
    }
}

#[test]
fn the_syntax_check_follows_the_tid_grammar() {
    assert!(is_valid("3jzfcijpj2z2a"));
    assert!(is_valid("2222222222222"));
    assert!(!is_valid("kjzfcijpj2z2a"), "first character carries 4 bits");
    assert!(!is_valid("3jzfcijpj2z2"), "12 characters");
    assert!(!is_valid("3jzfcijpj2z2aa"), "14 characters");
    assert!(!is_valid("3jzfcijpj2z21"), "1 is not in the alphabet");
    assert!(!is_valid("3JZFCIJPJ2Z2A"), "lower case only");
    assert!(!is_valid(""));
}

#[test]
fn each_part_of_a_post_has_its_own_record_key() {
    let key = "multivio-00000000-0000-0000-0000-000000000001-bluesky";
    assert_eq!(record_key(key, 0), from_key(&format!("{key}#0")));
    assert_eq!(record_key(key, 1), record_key(key, 1));
    assert_ne!(record_key(key, 0), record_key(key, 1));
    assert!(is_valid(&record_key(key, 2)));
}
