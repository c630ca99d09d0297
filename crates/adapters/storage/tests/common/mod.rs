//! The behaviour every media store must have, run against each adapter by `disk.rs` and
//! `s3.rs` (`media_store_suite!`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod moto;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use multivio_ports::media::{
    ByteRange, ByteStream, Delivery, MediaStore, MediaStoreError, PutError,
};

/// A store under test and how to look behind it.
pub struct Fixture {
    pub store: Arc<dyn MediaStore>,
    /// Every object (and, on disk, every file, temporary ones included) now stored.
    pub leftovers:
        Box<dyn Fn() -> futures_util::future::BoxFuture<'static, Vec<String>> + Send + Sync>,
    /// The largest object `get` reads whole, as configured.
    pub read_limit: u64,
    pub expected_delivery: Delivery,
    pub public_base: String,
    pub _guard: Box<dyn Send + Sync>,
}

/// `len` bytes of a pattern that differs at every offset within 251 bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// `bytes` as a stream of chunks of `chunk` bytes.
pub fn stream_of(bytes: Vec<u8>, chunk: usize) -> ByteStream {
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures_util::stream::iter(chunks))
}

/// A stream of `total` bytes (2 GB, say) made as it is read, counting what was pulled.
pub fn endless(total: u64, chunk: usize, pulled: Arc<AtomicU64>) -> ByteStream {
    let block = Bytes::from(vec![7u8; chunk]);
    Box::pin(futures_util::stream::unfold(0u64, move |sent| {
        let block = block.clone();
        let pulled = pulled.clone();
        async move {
            if sent >= total {
                return None;
            }
            pulled.fetch_add(block.len() as u64, Ordering::SeqCst);
            Some((Ok(block.clone()), sent + block.len() as u64))
        }
    }))
}

pub async fn read_all(mut body: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.len() <= 1 << 20, "chunks stay small: {}", chunk.len());
        out.extend_from_slice(&chunk);
    }
    out
}

pub async fn round_trip(f: &Fixture) {
    let store = &f.store;
    let bytes = pattern(300_001, 3);
    let stored = store
        .put_stream(
            "7/a.png",
            "image/png",
            stream_of(bytes.clone(), 4093),
            300_001,
        )
        .await
        .unwrap();
    assert_eq!(stored.size, 300_001);
    let meta = store.head("7/a.png").await.unwrap();
    assert_eq!(meta.size, 300_001);
    assert_eq!(meta.content_type, "image/png");
    assert!(
        !meta.etag.is_empty() && !meta.etag.contains('"'),
        "{}",
        meta.etag
    );
    assert!(meta.last_modified.timestamp() > 1_600_000_000);
    assert_eq!(store.head("7/a.png").await.unwrap(), meta, "stable");
    let read = store.open("7/a.png", None).await.unwrap();
    assert_eq!(read.meta, meta);
    assert_eq!(read.range, 0..300_001);
    assert_eq!(read_all(read.body).await, bytes);
    assert_eq!(store.get("7/a.png").await.unwrap(), bytes);
    assert_eq!(
        store.public_url("7/a.png"),
        format!("{}/7/a.png", f.public_base)
    );
    assert_eq!(store.delivery(), f.expected_delivery);
    // The in-memory put of before still works, and says where the file is served.
    let url = store
        .put("7/b.jpg", b"jpeg".to_vec(), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(url, format!("{}/7/b.jpg", f.public_base));
    assert_eq!(store.get("7/b.jpg").await.unwrap(), b"jpeg");
    assert_eq!(
        store.head("7/b.jpg").await.unwrap().content_type,
        "image/jpeg"
    );
    let mut left = (f.leftovers)().await;
    left.sort();
    assert_eq!(left, ["7/a.png", "7/b.jpg"]);
    // Deleting twice is fine; afterwards the key names nothing.
    store.delete("7/a.png").await.unwrap();
    store.delete("7/a.png").await.unwrap();
    assert_eq!(
        store.head("7/a.png").await.unwrap_err(),
        MediaStoreError::NotFound
    );
    assert_eq!(
        store.open("7/a.png", None).await.unwrap_err(),
        MediaStoreError::NotFound
    );
    assert_eq!(
        store.get("7/a.png").await.unwrap_err(),
        MediaStoreError::NotFound
    );
    // An empty object is an object.
    store
        .put_stream(
            "7/empty.bin",
            "application/octet-stream",
            stream_of(Vec::new(), 1),
            10,
        )
        .await
        .unwrap();
    let read = store.open("7/empty.bin", None).await.unwrap();
    assert_eq!((read.meta.size, read.range.clone()), (0, 0..0));
    assert!(read_all(read.body).await.is_empty());
}

pub async fn ranges(f: &Fixture) {
    let store = &f.store;
    let bytes = pattern(100_000, 9);
    store
        .put_stream(
            "1/v.mp4",
            "video/mp4",
            stream_of(bytes.clone(), 10_000),
            1 << 20,
        )
        .await
        .unwrap();
    let cases = [
        (ByteRange::Bounded { first: 0, last: 0 }, 0..1),
        (
            ByteRange::Bounded {
                first: 10,
                last: 99,
            },
            10..100,
        ),
        (
            ByteRange::Bounded {
                first: 99_990,
                last: 200_000,
            },
            99_990..100_000,
        ),
        (ByteRange::From(65_530), 65_530..100_000),
        (ByteRange::Suffix(500), 99_500..100_000),
        (ByteRange::Suffix(1_000_000), 0..100_000),
    ];
    for (range, expected) in cases {
        let read = store.open("1/v.mp4", Some(range)).await.unwrap();
        assert_eq!(read.range, expected, "{range:?}");
        assert_eq!(read.meta.size, 100_000, "the total, for Content-Range");
        assert_eq!(read.meta.content_type, "video/mp4");
        let start = usize::try_from(expected.start).unwrap();
        let end = usize::try_from(expected.end).unwrap();
        assert_eq!(read_all(read.body).await, bytes[start..end], "{range:?}");
    }
    for range in [
        ByteRange::From(100_000),
        ByteRange::Bounded {
            first: 100_000,
            last: 100_001,
        },
        ByteRange::Suffix(0),
    ] {
        assert_eq!(
            store.open("1/v.mp4", Some(range)).await.unwrap_err(),
            MediaStoreError::RangeNotSatisfiable { size: 100_000 },
            "{range:?}"
        );
    }
    assert_eq!(
        store
            .open("1/none.mp4", Some(ByteRange::From(0)))
            .await
            .unwrap_err(),
        MediaStoreError::NotFound
    );
}

/// A huge upload is refused at its cap without reading (or keeping) more than the cap and a
/// chunk; nothing is left behind.
pub async fn cap_refuses_a_huge_upload_early(f: &Fixture, cap: u64) {
    let store = &f.store;
    let pulled = Arc::new(AtomicU64::new(0));
    let chunk = 64 * 1024;
    let two_gb = 2_000_000_000;
    let e = store
        .put_stream(
            "2/huge.mp4",
            "video/mp4",
            endless(two_gb, chunk, pulled.clone()),
            cap,
        )
        .await
        .unwrap_err();
    assert_eq!(e, PutError::TooLarge { max_bytes: cap });
    let read = pulled.load(Ordering::SeqCst);
    assert!(
        read > cap && read <= cap + chunk as u64,
        "read {read} of a 2 GB body, cap {cap}"
    );
    assert_eq!(
        store.head("2/huge.mp4").await.unwrap_err(),
        MediaStoreError::NotFound
    );
    assert!(
        (f.leftovers)().await.is_empty(),
        "{:?}",
        (f.leftovers)().await
    );
    // Exactly the cap is fine.
    store
        .put_stream(
            "2/exact.mp4",
            "video/mp4",
            endless(cap, chunk, Arc::default()),
            cap,
        )
        .await
        .unwrap();
    assert_eq!(store.head("2/exact.mp4").await.unwrap().size, cap);
}

/// A body that breaks midway stores nothing.
pub async fn a_broken_body_stores_nothing(f: &Fixture, len: usize) {
    let store = &f.store;
    let good = pattern(len, 1);
    let broken: ByteStream = Box::pin(futures_util::stream::iter(vec![
        Ok(Bytes::from(good)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ]));
    let e = store
        .put_stream("3/broken.png", "image/png", broken, u64::MAX)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, PutError::Body(m) if m.contains("client went away")),
        "{e:?}"
    );
    assert_eq!(
        store.head("3/broken.png").await.unwrap_err(),
        MediaStoreError::NotFound
    );
    assert!(
        (f.leftovers)().await.is_empty(),
        "{:?}",
        (f.leftovers)().await
    );
}

/// An upload abandoned midway (its future dropped, as when a client disconnects) leaves
/// nothing behind once the store has cleaned up.
pub async fn an_abandoned_upload_leaves_nothing(f: &Fixture, before_drop: u64) {
    let store = f.store.clone();
    let pulled = Arc::new(AtomicU64::new(0));
    let counter = pulled.clone();
    let upload = tokio::spawn(async move {
        store
            .put_stream(
                "4/gone.mp4",
                "video/mp4",
                endless(u64::MAX, 64 * 1024, counter),
                u64::MAX,
            )
            .await
    });
    for _ in 0..2000 {
        if pulled.load(Ordering::SeqCst) >= before_drop {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    upload.abort();
    assert!(upload.await.unwrap_err().is_cancelled());
    // The cleanup may run in the background: wait for it, boundedly.
    let mut left = (f.leftovers)().await;
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        left = (f.leftovers)().await;
    }
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        f.store.head("4/gone.mp4").await.unwrap_err(),
        MediaStoreError::NotFound
    );
}

/// A large upload (several multipart parts on S3) round-trips byte for byte, read as a
/// stream.
pub async fn a_large_upload_round_trips(f: &Fixture, len: usize) {
    let store = &f.store;
    let bytes = pattern(len, 5);
    let stored = store
        .put_stream(
            "5/big.mov",
            "video/quicktime",
            stream_of(bytes.clone(), 100_000),
            len as u64,
        )
        .await
        .unwrap();
    assert_eq!(stored.size, len as u64);
    let read = store.open("5/big.mov", None).await.unwrap();
    assert_eq!(read.meta.size, len as u64);
    assert_eq!(read.meta.content_type, "video/quicktime");
    assert!(read_all(read.body).await == bytes, "same bytes");
    let tail = store
        .open("5/big.mov", Some(ByteRange::Suffix(10)))
        .await
        .unwrap();
    assert_eq!(read_all(tail.body).await, bytes[len - 10..]);
}

/// Only plain relative keys name objects.
pub async fn keys_stay_inside_the_store(f: &Fixture) {
    let store = &f.store;
    for bad in [
        "",
        "../etc/passwd",
        "/etc/passwd",
        "a/../../b",
        "a//b",
        "1/.x.partial",
    ] {
        assert!(store.put(bad, vec![1], "x").await.is_err(), "{bad}");
        assert!(
            store
                .put_stream(bad, "x", stream_of(vec![1], 1), 10)
                .await
                .is_err(),
            "{bad}"
        );
        assert_eq!(
            store.get(bad).await.unwrap_err(),
            MediaStoreError::NotFound,
            "{bad}"
        );
        assert_eq!(
            store.head(bad).await.unwrap_err(),
            MediaStoreError::NotFound,
            "{bad}"
        );
        assert_eq!(
            store.open(bad, None).await.unwrap_err(),
            MediaStoreError::NotFound,
            "{bad}"
        );
    }
    assert!((f.leftovers)().await.is_empty());
}

/// `get` holds a whole object in memory, so it refuses one over its limit.
pub async fn get_is_bounded(f: &Fixture) {
    let store = &f.store;
    let len = usize::try_from(f.read_limit).unwrap() + 1;
    store
        .put_stream(
            "6/long.mp4",
            "video/mp4",
            stream_of(pattern(len, 0), 65_536),
            u64::MAX,
        )
        .await
        .unwrap();
    assert!(matches!(
        store.get("6/long.mp4").await.unwrap_err(),
        MediaStoreError::Unavailable(_)
    ));
    // Streaming it is fine.
    let read = store.open("6/long.mp4", None).await.unwrap();
    assert_eq!(read_all(read.body).await.len(), len);
}

/// Tests of one adapter: `$fixture` is an async fn returning a [`Fixture`], or `None` when
/// the adapter's tests are turned off (and it said so).
#[macro_export]
macro_rules! media_store_suite {
    ($fixture:path, cap = $cap:expr, large = $large:expr, abandon_after = $abandon:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn objects_round_trip_with_their_metadata() {
            let Some(f) = $fixture().await else { return };
            common::round_trip(&f).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn byte_ranges_are_read_alone() {
            let Some(f) = $fixture().await else { return };
            common::ranges(&f).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_2_gb_upload_is_refused_at_the_cap_without_buffering() {
            let Some(f) = $fixture().await else { return };
            common::cap_refuses_a_huge_upload_early(&f, $cap).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_broken_body_stores_nothing() {
            let Some(f) = $fixture().await else { return };
            common::a_broken_body_stores_nothing(&f, 1000).await;
            common::a_broken_body_stores_nothing(&f, $large).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_abandoned_upload_leaves_nothing() {
            let Some(f) = $fixture().await else { return };
            common::an_abandoned_upload_leaves_nothing(&f, $abandon).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_large_upload_round_trips() {
            let Some(f) = $fixture().await else { return };
            common::a_large_upload_round_trips(&f, $large).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn keys_stay_inside_the_store() {
            let Some(f) = $fixture().await else { return };
            common::keys_stay_inside_the_store(&f).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn get_is_bounded_by_the_read_limit() {
            let Some(f) = $fixture().await else { return };
            common::get_is_bounded(&f).await;
        }
    };
}
