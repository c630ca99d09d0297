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

/// Runs a future that completes without waiting (in-memory reads).
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future waited"),
    }
}

#[test]
fn media_bytes_give_ranges_the_whole_and_a_stream() {
    let bytes = MediaBytes::in_memory((0u8..100).collect::<Vec<_>>());
    assert_eq!(bytes.len(), 100);
    assert!(!bytes.is_empty() && MediaBytes::none().is_empty());
    assert_eq!(ready(bytes.range(10..13)).unwrap().as_ref(), &[10, 11, 12]);
    assert_eq!(ready(bytes.range(5..5)).unwrap().len(), 0, "an empty range");
    assert_eq!(
        ready(bytes.range(90..101)),
        Err(MediaStoreError::RangeNotSatisfiable { size: 100 })
    );
    assert_eq!(ready(bytes.all()).unwrap().len(), 100);
    let mut stream = ready(bytes.stream()).unwrap();
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let Poll::Ready(Some(Ok(first))) = stream.as_mut().poll_next(&mut cx) else {
        panic!("one chunk");
    };
    assert_eq!(first.len(), 100);
    assert!(matches!(
        stream.as_mut().poll_next(&mut cx),
        Poll::Ready(None)
    ));
}

#[test]
fn a_read_of_other_than_the_expected_length_is_an_error() {
    let body = |chunks: Vec<&'static [u8]>| -> ByteStream {
        Box::pin(Chunks(chunks.into_iter().map(Bytes::from_static).collect()))
    };
    assert_eq!(
        ready(collect(body(vec![b"ab", b"c"]), 3)).unwrap().as_ref(),
        b"abc"
    );
    assert!(matches!(
        ready(collect(body(vec![b"ab"]), 3)),
        Err(MediaStoreError::Unavailable(_))
    ));
    assert!(matches!(
        ready(collect(body(vec![b"ab", b"cd"]), 3)),
        Err(MediaStoreError::Unavailable(_))
    ));
}

struct Chunks(std::collections::VecDeque<Bytes>);

impl Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

#[test]
fn media_bytes_compare_by_content_or_object() {
    assert_eq!(
        MediaBytes::in_memory(vec![1, 2]),
        MediaBytes::in_memory(vec![1, 2])
    );
    assert_ne!(
        MediaBytes::in_memory(vec![1, 2]),
        MediaBytes::in_memory(vec![1, 3])
    );
    assert!(format!("{:?}", MediaBytes::in_memory(vec![1, 2])).contains("len: 2"));
}

#[test]
fn keys_are_plain_relative_paths() {
    for good in [
        "u1/a.jpg",
        "7/0f8fad5b-d9cb-469f-a165-70867728950e.thumb.jpg",
        "a",
    ] {
        assert!(valid_key(good), "{good}");
    }
    for bad in [
        "",
        "/etc/passwd",
        "../etc/passwd",
        "a/../../b",
        "a//b",
        "a/",
        "./a",
        "u1/.a.partial",
        "a\\b",
        "a b",
        "é",
        "a/%2e%2e",
    ] {
        assert!(!valid_key(bad), "{bad}");
    }
    assert!(!valid_key(&"a".repeat(513)));
}
