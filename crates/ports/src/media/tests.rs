use super::*;

#[test]
fn range_headers_are_read_as_one_byte_range_or_ignored() {
    assert_eq!(
        ByteRange::parse("bytes=0-99"),
        Some(ByteRange::Bounded { first: 0, last: 99 })
    );
    assert_eq!(ByteRange::parse("bytes=100-"), Some(ByteRange::From(100)));
    assert_eq!(ByteRange::parse("bytes=-500"), Some(ByteRange::Suffix(500)));
    assert_eq!(
        ByteRange::parse(" bytes= 5 - 7 "),
        Some(ByteRange::Bounded { first: 5, last: 7 })
    );
    for ignored in [
        "",
        "bytes=",
        "bytes=-",
        "bytes=9-3",
        "bytes=0-1,4-5",
        "items=0-1",
        "bytes=a-b",
        "bytes=+1-2",
        "bytes=99999999999999999999999-",
    ] {
        assert_eq!(ByteRange::parse(ignored), None, "{ignored:?}");
    }
}

#[test]
fn ranges_resolve_against_the_size_or_are_unsatisfiable() {
    let b = |first, last| ByteRange::Bounded { first, last };
    assert_eq!(b(0, 99).resolve(1000), Some(0..100));
    assert_eq!(b(990, 2000).resolve(1000), Some(990..1000));
    assert_eq!(b(0, u64::MAX).resolve(10), Some(0..10));
    assert_eq!(b(1000, 1001).resolve(1000), None);
    assert_eq!(ByteRange::From(999).resolve(1000), Some(999..1000));
    assert_eq!(ByteRange::From(1000).resolve(1000), None);
    assert_eq!(ByteRange::Suffix(10).resolve(1000), Some(990..1000));
    assert_eq!(ByteRange::Suffix(5000).resolve(1000), Some(0..1000));
    assert_eq!(ByteRange::Suffix(0).resolve(1000), None);
    assert_eq!(ByteRange::Suffix(1).resolve(0), None);
    assert_eq!(ByteRange::From(0).resolve(0), None);
}
