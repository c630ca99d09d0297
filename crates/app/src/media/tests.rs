use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::testing::*;
use async_trait::async_trait;
use multivio_domain::Provider;
use multivio_domain::contact::Email;
use multivio_domain::media::video::sample::SampleVideo;
use multivio_domain::quota::PlanName;
use multivio_domain::subscription::Subscription;
use multivio_domain::user::{AuthProvider, Profile, User};
use multivio_domain::{FirebaseUid, UserId};
use multivio_ports::StoreError;
use multivio_ports::media::{
    ByteRange, Delivery, MediaStoreError, MockMediaRepository, ObjectMeta, ObjectRead, StoredObject,
};
use multivio_ports::users::MockUserStore;

/// Media bytes in memory, recording what each upload pulled.
#[derive(Default)]
struct MemoryStore {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Bytes read from upload bodies.
    pulled: AtomicU64,
    /// Fail every put.
    broken: bool,
}

#[async_trait]
impl MediaStore for MemoryStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, _: &str) -> Result<String, MediaStoreError> {
        if self.broken {
            return Err(MediaStoreError::Unavailable("disk full".into()));
        }
        self.objects.lock().unwrap().insert(key.to_owned(), bytes);
        Ok(self.public_url(key))
    }

    async fn put_stream(
        &self,
        key: &str,
        _: &str,
        mut body: ByteStream,
        max_bytes: u64,
    ) -> Result<StoredObject, PutError> {
        if self.broken {
            return Err(PutError::Store(MediaStoreError::Unavailable(
                "disk full".into(),
            )));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| PutError::Body(e.to_string()))?;
            self.pulled.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(PutError::TooLarge { max_bytes });
            }
            bytes.extend_from_slice(&chunk);
        }
        let size = bytes.len() as u64;
        self.objects.lock().unwrap().insert(key.to_owned(), bytes);
        Ok(StoredObject { size })
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, MediaStoreError> {
        self.objects
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .ok_or(MediaStoreError::NotFound)
    }

    async fn head(&self, _: &str) -> Result<ObjectMeta, MediaStoreError> {
        Err(MediaStoreError::NotFound)
    }

    async fn open(&self, _: &str, _: Option<ByteRange>) -> Result<ObjectRead, MediaStoreError> {
        Err(MediaStoreError::NotFound)
    }

    async fn delete(&self, key: &str) -> Result<(), MediaStoreError> {
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }

    fn public_url(&self, key: &str) -> String {
        format!("https://cdn.example.com/{key}")
    }

    fn delivery(&self) -> Delivery {
        Delivery::PublicUrl
    }
}

impl MemoryStore {
    fn keys(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }
}

fn user(plan: &str) -> User {
    User {
        id: UserId(1),
        firebase_uid: FirebaseUid::new("uid-1").unwrap(),
        email: Email::new("ada@example.com").unwrap(),
        email_verified: true,
        auth_provider: AuthProvider::email(),
        profile: Profile::default(),
        is_active: true,
        is_verified: false,
        subscription: Subscription {
            plan_name: PlanName::new(plan).unwrap(),
            ..Subscription::free()
        },
        email_verification_sent_at: None,
        created_at: now(),
        updated_at: now(),
    }
}

/// Plans: free 1 GiB, `tiny` 100 KB.
fn plans() -> PlanCatalog {
    PlanCatalog::parse("tiny=10:100KB").unwrap()
}

fn users(plan: &'static str) -> Arc<MockUserStore> {
    let mut users = MockUserStore::new();
    users.expect_get().returning(move |_| Ok(user(plan)));
    Arc::new(users)
}

/// A repository that has `used` bytes stored and accepts inserts within the allowance.
fn files(used: u64) -> MockMediaRepository {
    let mut files = MockMediaRepository::new();
    files.expect_storage_used().returning(move |_| Ok(used));
    files
        .expect_insert_within_quota()
        .returning(move |_, f, allowed| {
            Ok(if used + f.file_size <= allowed {
                QuotaInsert::Inserted(Box::new(f.clone()))
            } else {
                QuotaInsert::OverQuota { used_bytes: used }
            })
        });
    files
}

fn service(
    files: MockMediaRepository,
    store: Arc<MemoryStore>,
    plan: &'static str,
) -> MediaService {
    MediaService::new(Arc::new(files), store, ids(), clock(), 10_000_000)
        .with_storage_quota(users(plan), plans())
}

fn encode(image: ::image::DynamicImage, format: ::image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A square image that does not compress: its file is about as large as its pixels.
fn noise(side: u32) -> ::image::DynamicImage {
    ::image::DynamicImage::ImageRgb8(::image::RgbImage::from_fn(side, side, |x, y| {
        let h = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).rotate_left(x % 31);
        ::image::Rgb([h as u8, (h >> 8) as u8, (h >> 16) as u8])
    }))
}

fn picture(w: u32, h: u32) -> ::image::DynamicImage {
    ::image::DynamicImage::ImageRgb8(::image::RgbImage::from_fn(w, h, |x, y| {
        ::image::Rgb([(x % 256) as u8, (y % 256) as u8, 77])
    }))
}

/// `bytes` arriving in chunks of `size`.
fn chunked(bytes: Vec<u8>, size: usize) -> ByteStream {
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures_util::stream::iter(chunks))
}

/// What feeds an open upload's body (dropping it ends the body).
type BodySender = tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>;
/// An upload running in its own task.
type RunningUpload = tokio::task::JoinHandle<Result<MediaFile, UploadError>>;

/// An upload of `svc` running in its own task, its body fed through the sender (it ends when
/// the sender is dropped).
fn open_upload(svc: &MediaService) -> (BodySender, RunningUpload) {
    let (tx, body) = body_channel(1);
    let reading = svc.clone();
    let upload = tokio::spawn(async move {
        let upload = UploadStream {
            body,
            original_filename: None,
            alt_text: None,
            declared_size: None,
        };
        reading.upload_stream(&tenant(), upload).await
    });
    (tx, upload)
}

/// Waits until `svc` holds at least `bytes` of images in memory (the upload read them).
async fn until_in_memory(svc: &MediaService, bytes: usize) {
    let waited = std::time::Instant::now();
    while svc.image_bytes_in_memory() < bytes {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(10),
            "never read"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

fn stream_upload(bytes: Vec<u8>, name: &str) -> UploadStream {
    UploadStream {
        body: chunked(bytes, 1000),
        original_filename: Some(name.to_owned()),
        alt_text: Some("a description".to_owned()),
        declared_size: None,
    }
}

#[tokio::test]
async fn images_of_every_type_are_measured_thumbnailed_and_rated() {
    use ::image::ImageFormat as F;
    let cases = [
        ("image/png", F::Png, "png", picture(1080, 1350)),
        ("image/jpeg", F::Jpeg, "jpg", picture(1200, 628)),
        ("image/gif", F::Gif, "gif", picture(400, 300)),
        ("image/webp", F::WebP, "webp", picture(1080, 1080)),
    ];
    for (mime, format, ext, image) in cases {
        let (w, h) = (image.width(), image.height());
        let bytes = encode(image, format);
        let store = Arc::new(MemoryStore::default());
        let file = service(files(0), store.clone(), "free")
            .upload_stream(&tenant(), stream_upload(bytes.clone(), "x.bin"))
            .await
            .unwrap();
        assert_eq!(file.file_type, mime);
        assert_eq!(file.file_size, bytes.len() as u64, "{mime}");
        assert_eq!((file.width, file.height), (Some(w), Some(h)), "{mime}");
        assert_eq!(file.duration_secs, None);
        assert!(file.filename.starts_with("1/") && file.filename.ends_with(&format!(".{ext}")));
        assert_eq!(
            file.cdn_url.as_deref(),
            Some(format!("https://cdn.example.com/{}", file.filename).as_str())
        );
        let thumb_key = thumbnail_key(&file.filename);
        assert_eq!(
            file.thumbnail_url.as_deref(),
            Some(format!("https://cdn.example.com/{thumb_key}").as_str()),
            "{mime}"
        );
        assert_eq!(store.get(&file.filename).await.unwrap(), bytes);
        let thumb =
            ::image::load_from_memory_with_format(&store.get(&thumb_key).await.unwrap(), F::Jpeg)
                .unwrap();
        assert!(thumb.width().max(thumb.height()) <= 320);
        assert_eq!(
            file.platform_compatibility,
            compatible_platforms(&MediaInfo {
                mime_type: mime.to_owned(),
                size_bytes: bytes.len() as u64,
                width: Some(w),
                height: Some(h),
                duration_secs: None,
                codec: None,
            }),
            "{mime}"
        );
        assert_eq!(
            file.alt_text.as_ref().map(AltText::as_str),
            Some("a description")
        );
    }
}

#[tokio::test]
async fn gifs_and_shapes_decide_the_platforms() {
    let store = Arc::new(MemoryStore::default());
    let gif = service(files(0), store.clone(), "free")
        .upload_stream(
            &tenant(),
            stream_upload(encode(picture(64, 64), ::image::ImageFormat::Gif), "a.gif"),
        )
        .await
        .unwrap();
    // Instagram, Threads and Bluesky take no GIFs.
    assert!(gif.platform_compatibility.contains(&Provider::X));
    assert!(!gif.platform_compatibility.contains(&Provider::Instagram));
    assert!(!gif.platform_compatibility.contains(&Provider::Bluesky));
    // A panorama is outside Instagram's shapes.
    let wide = service(files(0), store, "free")
        .upload_stream(
            &tenant(),
            stream_upload(
                encode(picture(1000, 200), ::image::ImageFormat::Png),
                "p.png",
            ),
        )
        .await
        .unwrap();
    assert!(!wide.platform_compatibility.contains(&Provider::Instagram));
    assert!(wide.platform_compatibility.contains(&Provider::X));
}

#[tokio::test]
async fn videos_stream_through_with_their_container_read() {
    let mut mp4 = SampleVideo::mp4(1920, 1080, 30);
    mp4.mdat_len = 200_000;
    let mut mov = SampleVideo::mov(1080, 1920, 200);
    mov.moov_last = true;
    let mut prores = SampleVideo::mov(1920, 1080, 20);
    prores.codec = *b"apcn";
    for (sample, mime, ext, w, h, secs) in [
        (mp4, "video/mp4", "mp4", 1920, 1080, 30.0),
        (mov, "video/quicktime", "mov", 1080, 1920, 200.0),
        (prores, "video/quicktime", "mov", 1920, 1080, 20.0),
    ] {
        let bytes = sample.build();
        let store = Arc::new(MemoryStore::default());
        let file = service(files(0), store.clone(), "free")
            .upload_stream(&tenant(), stream_upload(bytes.clone(), "clip.png"))
            .await
            .unwrap();
        assert_eq!(file.file_type, mime);
        assert!(file.filename.ends_with(&format!(".{ext}")));
        assert_eq!(file.file_size, bytes.len() as u64);
        assert_eq!((file.width, file.height), (Some(w), Some(h)));
        assert_eq!(file.duration_secs, Some(secs));
        assert_eq!(file.thumbnail_url, None);
        assert_eq!(store.get(&file.filename).await.unwrap(), bytes);
        assert_eq!(store.keys(), std::slice::from_ref(&file.filename));
        let codec = String::from_utf8(sample.codec.to_vec()).unwrap();
        assert_eq!(
            file.platform_compatibility,
            compatible_platforms(&MediaInfo {
                mime_type: mime.to_owned(),
                size_bytes: bytes.len() as u64,
                width: Some(w),
                height: Some(h),
                duration_secs: Some(secs),
                codec: Some(codec.clone()),
            })
        );
        // X takes H.264 up to 140 s; ProRes nowhere that names codecs.
        let on_x = file.platform_compatibility.contains(&Provider::X);
        assert_eq!(
            on_x,
            codec == "avc1" && secs <= 140.0,
            "{mime} {codec} {secs}"
        );
    }
}

#[tokio::test]
async fn the_type_comes_from_the_bytes_not_the_name() {
    // A PNG named .mp4, however the client declared it, is stored as a PNG.
    let png = encode(picture(300, 300), ::image::ImageFormat::Png);
    let store = Arc::new(MemoryStore::default());
    let file = service(files(0), store, "free")
        .upload_stream(&tenant(), stream_upload(png, "movie.mp4"))
        .await
        .unwrap();
    assert_eq!(file.file_type, "image/png");
    assert!(file.filename.ends_with(".png"));
    assert_eq!(file.original_filename.as_deref(), Some("movie.mp4"));
    let store = Arc::new(MemoryStore::default());
    let r = service(
        MockMediaRepository::new().tap_used(0),
        store.clone(),
        "free",
    )
    .upload_stream(
        &tenant(),
        stream_upload(b"%PDF-1.7 not media".to_vec(), "a.png"),
    )
    .await;
    assert_eq!(r, Err(UploadError::UnsupportedFileType));
    assert!(store.keys().is_empty());
}

trait TapUsed {
    fn tap_used(self, used: u64) -> Self;
}

impl TapUsed for MockMediaRepository {
    fn tap_used(mut self, used: u64) -> Self {
        self.expect_storage_used().returning(move |_| Ok(used));
        self
    }
}

/// A PNG header announcing `w` × `h` and almost no data.
fn claimed_png(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[0; 64]);
    b
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_before_anything_is_stored() {
    let store = Arc::new(MemoryStore::default());
    let r = service(
        MockMediaRepository::new().tap_used(0),
        store.clone(),
        "free",
    )
    .upload_stream(
        &tenant(),
        stream_upload(claimed_png(60_000, 60_000), "bomb.png"),
    )
    .await;
    assert_eq!(
        r,
        Err(UploadError::ImageTooLarge {
            width: 60_000,
            height: 60_000,
            max_pixels: image::MAX_PIXELS
        })
    );
    assert!(store.keys().is_empty());
    // As an AppError (the in-memory path): 422.
    assert!(matches!(
        AppError::from(r.unwrap_err()),
        AppError::Invalid(_)
    ));
}

#[tokio::test]
async fn an_image_that_cannot_be_decoded_is_kept_without_a_thumbnail() {
    let store = Arc::new(MemoryStore::default());
    let file = service(files(0), store.clone(), "free")
        .upload_stream(&tenant(), stream_upload(claimed_png(1080, 1350), "x.png"))
        .await
        .unwrap();
    assert_eq!((file.width, file.height), (Some(1080), Some(1350)));
    assert_eq!(file.thumbnail_url, None);
    assert_eq!(store.keys(), [file.filename]);
}

/// A body of `total` bytes made as it is read: a video's start, then zeros.
fn endless_video(total: u64) -> ByteStream {
    let head = Bytes::from(SampleVideo::mp4(640, 360, 5).build());
    let zeros = Bytes::from(vec![0u8; 64 * 1024]);
    Box::pin(futures_util::stream::unfold(0u64, move |sent| {
        let (head, zeros) = (head.clone(), zeros.clone());
        async move {
            if sent >= total {
                return None;
            }
            let chunk = if sent == 0 { head } else { zeros };
            let len = chunk.len() as u64;
            Some((Ok(chunk), sent + len))
        }
    }))
}

#[tokio::test]
async fn a_2_gb_upload_is_refused_at_the_cap_without_buffering() {
    let store = Arc::new(MemoryStore::default());
    let svc = MediaService::new(
        Arc::new(MockMediaRepository::new().tap_used(0)),
        store.clone(),
        ids(),
        clock(),
        1_000_000,
    );
    let r = svc
        .upload_stream(
            &tenant(),
            UploadStream {
                body: endless_video(2_000_000_000),
                original_filename: None,
                alt_text: None,
                declared_size: None,
            },
        )
        .await;
    assert_eq!(
        r,
        Err(UploadError::TooLarge {
            max_bytes: 1_000_000
        })
    );
    assert!(store.pulled.load(Ordering::SeqCst) <= 1_000_000 + 64 * 1024);
    assert!(store.keys().is_empty());
    // A declared size over the cap is refused before reading.
    let r = svc
        .upload_stream(
            &tenant(),
            UploadStream {
                body: endless_video(2_000_000_000),
                original_filename: None,
                alt_text: None,
                declared_size: Some(2_000_000_000),
            },
        )
        .await;
    assert_eq!(
        r,
        Err(UploadError::TooLarge {
            max_bytes: 1_000_000
        })
    );
    // Images are held in memory only up to their own cap.
    let mut big_png = encode(picture(10, 10), ::image::ImageFormat::Png);
    big_png.resize(usize::try_from(MAX_IMAGE_BYTES).unwrap() + 1, 0);
    let r = MediaService::new(
        Arc::new(MockMediaRepository::new().tap_used(0)),
        store.clone(),
        ids(),
        clock(),
        u64::MAX,
    )
    .upload_stream(&tenant(), stream_upload(big_png, "big.png"))
    .await;
    assert_eq!(
        r,
        Err(UploadError::TooLarge {
            max_bytes: MAX_IMAGE_BYTES
        })
    );
}

#[tokio::test]
async fn the_storage_quota_is_checked_before_and_while_streaming_and_at_the_insert() {
    let tiny = 100_000;
    // Full already: refused before a byte is read.
    let store = Arc::new(MemoryStore::default());
    let r = service(
        MockMediaRepository::new().tap_used(tiny),
        store.clone(),
        "tiny",
    )
    .upload_stream(&tenant(), stream_upload(vec![1; 10], "a.png"))
    .await;
    assert_eq!(
        r,
        Err(UploadError::StorageQuotaExceeded {
            used_bytes: tiny,
            allowed_bytes: tiny
        })
    );
    assert_eq!(store.pulled.load(Ordering::SeqCst), 0);
    // A declared size that cannot fit: refused at once too.
    let r = service(
        MockMediaRepository::new().tap_used(60_000),
        store.clone(),
        "tiny",
    )
    .upload_stream(
        &tenant(),
        UploadStream {
            declared_size: Some(50_000),
            ..stream_upload(vec![1; 10], "a.png")
        },
    )
    .await;
    assert_eq!(
        r,
        Err(UploadError::StorageQuotaExceeded {
            used_bytes: 60_000,
            allowed_bytes: tiny
        })
    );
    // A video passing the room left while it streams.
    let r = service(
        MockMediaRepository::new().tap_used(60_000),
        store.clone(),
        "tiny",
    )
    .upload_stream(
        &tenant(),
        UploadStream {
            body: endless_video(2_000_000_000),
            original_filename: None,
            alt_text: None,
            declared_size: None,
        },
    )
    .await;
    assert_eq!(
        r,
        Err(UploadError::StorageQuotaExceeded {
            used_bytes: 60_000,
            allowed_bytes: tiny
        })
    );
    assert!(store.pulled.load(Ordering::SeqCst) <= 40_000 + 64 * 1024);
    assert!(store.keys().is_empty());
    // Room when streaming, but a concurrent upload took it before the row: bytes removed.
    let mut racing = MockMediaRepository::new().tap_used(0);
    racing
        .expect_insert_within_quota()
        .withf(move |_, _, allowed| *allowed == tiny)
        .returning(|_, _, _| Ok(QuotaInsert::OverQuota { used_bytes: 95_000 }));
    let png = encode(picture(50, 50), ::image::ImageFormat::Png);
    let r = service(racing, store.clone(), "tiny")
        .upload_stream(&tenant(), stream_upload(png, "a.png"))
        .await;
    assert_eq!(
        r,
        Err(UploadError::StorageQuotaExceeded {
            used_bytes: 95_000,
            allowed_bytes: tiny
        })
    );
    assert!(store.keys().is_empty(), "{:?}", store.keys());
    // An unknown plan has the free plan's storage.
    let usage = service(MockMediaRepository::new().tap_used(5), store, "gone")
        .storage(&tenant())
        .await
        .unwrap();
    assert_eq!(
        usage,
        StorageUsage {
            used_bytes: 5,
            allowed_bytes: PlanCatalog::FREE_STORAGE_BYTES
        }
    );
}

#[tokio::test]
async fn images_share_a_memory_budget_and_one_past_it_is_busy() {
    let png = encode(noise(120), ::image::ImageFormat::Png);
    let n = png.len();
    assert!(n > 30_000, "{n}");
    let store = Arc::new(MemoryStore::default());
    let svc = service(files(0), store.clone(), "free").with_image_buffer_budget(n + n / 2);

    // One upload has three quarters of its image in memory, the rest still to come.
    let (tx, first) = open_upload(&svc);
    let (sent, rest) = png.split_at(n * 3 / 4);
    for chunk in sent.chunks(1000) {
        tx.send(Ok(Bytes::copy_from_slice(chunk))).await.unwrap();
    }
    until_in_memory(&svc, sent.len()).await;
    // Another image does not fit beside it: busy, nothing stored, its bytes given back.
    let second = svc
        .upload_stream(&tenant(), stream_upload(png.clone(), "b.png"))
        .await;
    assert_eq!(second, Err(UploadError::Busy));
    assert_eq!(svc.image_bytes_in_memory(), sent.len());
    // The first completes; its memory is given back, and the next image fits.
    tx.send(Ok(Bytes::copy_from_slice(rest))).await.unwrap();
    drop(tx);
    let first = first.await.unwrap().unwrap();
    assert_eq!(store.get(&first.filename).await.unwrap(), png);
    assert_eq!(svc.image_bytes_in_memory(), 0);
    svc.upload_stream(&tenant(), stream_upload(png.clone(), "c.png"))
        .await
        .unwrap();
    assert_eq!(svc.image_bytes_in_memory(), 0);
}

#[tokio::test]
async fn an_image_waiting_for_room_gets_in_when_an_earlier_one_gives_its_memory_back() {
    let png = encode(noise(120), ::image::ImageFormat::Png);
    let n = png.len();
    let store = Arc::new(MemoryStore::default());
    let svc = service(files(0), store.clone(), "free").with_image_buffer_budget(n + n / 2);
    // The first upload has its whole image in memory; its body has not ended yet.
    let (tx, first) = open_upload(&svc);
    for chunk in png.chunks(1000) {
        tx.send(Ok(Bytes::copy_from_slice(chunk))).await.unwrap();
    }
    until_in_memory(&svc, n).await;
    // A second image, with room for half of it beside the first, waits rather than being
    // refused...
    let waiting = svc.clone();
    let again = png.clone();
    let second = tokio::spawn(async move {
        waiting
            .upload_stream(&tenant(), stream_upload(again, "b.png"))
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!second.is_finished());
    assert!(svc.image_bytes_in_memory() <= n + n / 2);
    // ...and gets in once the first is done with its memory.
    drop(tx);
    first.await.unwrap().unwrap();
    let second = second.await.unwrap().unwrap();
    assert_eq!(store.get(&second.filename).await.unwrap(), png);
    assert_eq!(svc.image_bytes_in_memory(), 0);
}

#[tokio::test]
async fn an_image_trickling_in_past_the_read_limit_is_refused_and_gives_its_memory_back() {
    let png = encode(noise(120), ::image::ImageFormat::Png);
    // More than the bytes read to tell the type (the head), so that the image's own reading
    // is what waits.
    assert!(png.len() / 2 > SNIFF_BYTES, "{}", png.len());
    let store = Arc::new(MemoryStore::default());
    let limit = std::time::Duration::from_millis(200);
    let svc = service(files(0), store.clone(), "free").with_image_read_limit(limit);
    // Its head, then nothing more (a client sending a byte now and then, never finishing).
    let (tx, body) = body_channel(4);
    tx.send(Ok(Bytes::copy_from_slice(&png[..png.len() / 2])))
        .await
        .unwrap();
    let upload = UploadStream {
        body,
        original_filename: None,
        alt_text: None,
        declared_size: None,
    };
    let refused = svc.upload_stream(&tenant(), upload).await;
    assert_eq!(refused, Err(UploadError::TooSlow { limit }));
    assert_eq!(svc.image_bytes_in_memory(), 0);
    assert!(store.keys().is_empty());
    drop(tx);
}

#[tokio::test]
async fn refusals_leave_nothing_stored() {
    let store = Arc::new(MemoryStore::default());
    let svc = service(
        MockMediaRepository::new().tap_used(0),
        store.clone(),
        "free",
    );
    let empty = svc
        .upload_stream(&tenant(), stream_upload(Vec::new(), "a.png"))
        .await;
    assert_eq!(empty, Err(UploadError::Empty));
    let long_alt = svc
        .upload_stream(
            &tenant(),
            UploadStream {
                alt_text: Some("a".repeat(1501)),
                ..stream_upload(vec![1; 10], "a.png")
            },
        )
        .await;
    assert!(matches!(long_alt, Err(UploadError::Invalid(_))));
    let broken: ByteStream = Box::pin(futures_util::stream::iter([
        Ok(Bytes::from(SampleVideo::mp4(10, 10, 1).build())),
        Err(std::io::Error::other("client went away")),
    ]));
    let r = svc
        .upload_stream(
            &tenant(),
            UploadStream {
                body: broken,
                original_filename: None,
                alt_text: None,
                declared_size: None,
            },
        )
        .await;
    assert!(
        matches!(&r, Err(UploadError::Body(m)) if m.contains("client went away")),
        "{r:?}"
    );
    assert!(store.keys().is_empty());
}

#[tokio::test]
async fn a_failed_row_insert_removes_the_bytes_and_thumbnail() {
    let store = Arc::new(MemoryStore::default());
    let mut files = MockMediaRepository::new().tap_used(0);
    files
        .expect_insert_within_quota()
        .returning(|_, _, _| Err(StoreError::Unavailable("db".into())));
    let r = service(files, store.clone(), "free")
        .upload_stream(
            &tenant(),
            stream_upload(encode(picture(40, 40), ::image::ImageFormat::Png), "a.png"),
        )
        .await;
    assert!(matches!(
        r,
        Err(UploadError::Failed(AppError::Unavailable(_)))
    ));
    assert!(store.keys().is_empty(), "{:?}", store.keys());
    // A store that fails: an error, nothing recorded.
    let broken = Arc::new(MemoryStore {
        broken: true,
        ..MemoryStore::default()
    });
    let r = service(MockMediaRepository::new().tap_used(0), broken, "free")
        .upload_stream(
            &tenant(),
            stream_upload(SampleVideo::mp4(10, 10, 1).build(), "a.mp4"),
        )
        .await;
    assert!(matches!(
        r,
        Err(UploadError::Failed(AppError::Unavailable(_)))
    ));
}

#[tokio::test]
async fn an_upload_dropped_after_its_bytes_were_stored_leaves_nothing_behind() {
    let store = Arc::new(MemoryStore::default());
    let mut files = MockMediaRepository::new().tap_used(0);
    files.expect_insert_within_quota().never();
    let svc = service(files, store.clone(), "free");
    // Every decoding slot taken: the image waits for its thumbnail, its bytes stored.
    let slots = svc
        .decodes
        .clone()
        .acquire_many_owned(CONCURRENT_DECODES as u32)
        .await
        .unwrap();
    let alice = tenant();
    let upload = svc.upload_stream(
        &alice,
        stream_upload(encode(picture(40, 40), ::image::ImageFormat::Png), "a.png"),
    );
    // The request goes (its client left) once the bytes are in the store.
    let stored = async {
        while store.keys().is_empty() {
            tokio::task::yield_now().await;
        }
    };
    tokio::select! {
        _ = upload => panic!("the upload cannot finish without a decoding slot"),
        () = stored => {}
    }
    drop(slots);
    // The clean-up runs in a task of its own.
    for _ in 0..1000 {
        if store.keys().is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(store.keys().is_empty(), "{:?}", store.keys());
}

#[tokio::test]
async fn the_in_memory_upload_still_works_and_speaks_app_errors() {
    let store = Arc::new(MemoryStore::default());
    let svc = service(files(0), store.clone(), "free");
    let png = encode(picture(20, 20), ::image::ImageFormat::Png);
    let f = svc
        .upload(
            &tenant(),
            MediaUpload {
                bytes: png,
                original_filename: Some("a.png".into()),
                alt_text: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(f.file_type, "image/png");
    for (bytes, expected) in [
        (Vec::new(), AppError::invalid("file", "is empty")),
        (b"%PDF".to_vec(), AppError::UnsupportedFileType),
        (
            vec![0; 10_000_001],
            AppError::invalid("file", "is larger than 10000000 bytes"),
        ),
    ] {
        let r = svc
            .upload(
                &tenant(),
                MediaUpload {
                    bytes,
                    original_filename: None,
                    alt_text: None,
                },
            )
            .await;
        assert_eq!(r, Err(expected));
    }
}

fn file(owner: UserId, thumbnail: bool) -> MediaFile {
    MediaFile {
        id: MediaId(uuid::Uuid::from_u128(3)),
        user_id: owner,
        filename: "1/3.jpg".into(),
        original_filename: None,
        file_type: "image/jpeg".into(),
        file_size: 10,
        cdn_url: None,
        thumbnail_url: thumbnail.then(|| "https://cdn.example.com/1/3.thumb.jpg".to_owned()),
        platform_compatibility: vec![],
        alt_text: None,
        width: None,
        height: None,
        duration_secs: None,
        upload_date: now(),
        created_at: now(),
        updated_at: now(),
    }
}

fn stored(keys: &[&str]) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::default());
    for key in keys {
        store
            .objects
            .lock()
            .unwrap()
            .insert((*key).to_owned(), vec![1]);
    }
    store
}

#[tokio::test]
async fn delete_removes_row_bytes_and_thumbnail_and_hides_foreign_files() {
    let mut files = MockMediaRepository::new();
    files
        .expect_get()
        .returning(|_, _| Ok(file(tenant().user_id, true)));
    files.expect_delete_unattached().times(1).returning(|_, _| {
        Ok(MediaDeletion::Deleted(Box::new(file(
            tenant().user_id,
            true,
        ))))
    });
    let store = stored(&["1/3.jpg", "1/3.thumb.jpg", "1/other.png"]);
    service(files, store.clone(), "free")
        .delete(&tenant(), MediaId(uuid::Uuid::from_u128(3)))
        .await
        .unwrap();
    assert_eq!(store.keys(), ["1/other.png"]);

    let mut files = MockMediaRepository::new();
    files
        .expect_get()
        .returning(|_, _| Ok(file(other_tenant().user_id, false)));
    files.expect_delete_unattached().never();
    let r = service(files, stored(&[]), "free")
        .delete(&tenant(), MediaId(uuid::Uuid::from_u128(3)))
        .await;
    assert_eq!(r, Err(AppError::NotFound("media file")));

    let mut files = MockMediaRepository::new();
    files
        .expect_get()
        .returning(|_, _| Err(StoreError::NotFound));
    let r = service(files, stored(&[]), "free")
        .delete_checked(&tenant(), MediaId(uuid::Uuid::from_u128(3)))
        .await;
    assert_eq!(
        r,
        Err(DeleteError::Failed(AppError::NotFound("media file")))
    );
}

#[tokio::test]
async fn a_file_attached_to_scheduled_posts_is_kept_and_the_posts_named() {
    let posts = vec![
        PostId(uuid::Uuid::from_u128(7)),
        PostId(uuid::Uuid::from_u128(8)),
    ];
    let named = posts.clone();
    let mut files = MockMediaRepository::new();
    files
        .expect_get()
        .returning(|_, _| Ok(file(tenant().user_id, false)));
    files
        .expect_delete_unattached()
        .returning(move |_, _| Ok(MediaDeletion::Attached(named.clone())));
    let store = stored(&["1/3.jpg"]);
    let svc = service(files, store.clone(), "free");
    let id = MediaId(uuid::Uuid::from_u128(3));
    assert_eq!(
        svc.delete_checked(&tenant(), id).await,
        Err(DeleteError::Attached {
            posts: posts.clone()
        })
    );
    match svc.delete(&tenant(), id).await {
        Err(AppError::Conflict(why)) => {
            assert!(
                why.contains(&posts[0].0.to_string()) && why.contains(&posts[1].0.to_string()),
                "{why}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.keys(), ["1/3.jpg"], "the bytes stay");
}

#[tokio::test]
async fn delete_all_removes_every_file_attached_or_not() {
    let pages = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut files = MockMediaRepository::new();
    let served = pages.clone();
    files.expect_list().returning(move |_, _, _| {
        let n = served.fetch_add(1, Ordering::SeqCst);
        Ok(Page {
            items: if n < 2 {
                vec![file(tenant().user_id, n == 0)]
            } else {
                vec![]
            },
            next_cursor: None,
        })
    });
    files.expect_delete().times(2).returning(|_, _| Ok(()));
    files.expect_delete_unattached().never();
    let store = stored(&["1/3.jpg", "1/3.thumb.jpg"]);
    assert_eq!(
        service(files, store.clone(), "free")
            .delete_all(&tenant())
            .await,
        Ok(2)
    );
    assert!(store.keys().is_empty());
}

#[tokio::test]
async fn alt_text_and_listing() {
    let mut files = MockMediaRepository::new();
    files
        .expect_get()
        .returning(|_, _| Ok(file(tenant().user_id, false)));
    files
        .expect_update_alt_text()
        .withf(|_, _, a| a.is_none())
        .times(1)
        .returning(|_, _, _| Ok(file(tenant().user_id, false)));
    files.expect_list().returning(|_, _, _| {
        Ok(Page {
            items: vec![],
            next_cursor: None,
        })
    });
    let svc = service(files, stored(&[]), "free");
    let id = MediaId(uuid::Uuid::from_u128(3));
    svc.set_alt_text(&tenant(), id, Some("  ".into()))
        .await
        .unwrap();
    assert!(matches!(
        svc.set_alt_text(&tenant(), id, Some("a".repeat(1501)))
            .await,
        Err(AppError::Invalid(_))
    ));
    assert!(
        svc.list(&tenant(), PageSize::new(None), None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[test]
fn thumbnails_live_next_to_their_file() {
    assert_eq!(thumbnail_key("1/abc.png"), "1/abc.thumb.jpg");
    assert_eq!(thumbnail_key("1/abc"), "1/abc.thumb.jpg");
    assert_eq!(thumbnail_key("1.d/abc"), "1.d/abc.thumb.jpg");
}

#[tokio::test]
async fn a_body_forwarded_through_a_channel_streams_and_stops_its_sender() {
    // As the HTTP layer does with a multipart field that is not Send: forward while uploading.
    let me = tenant();
    let video = SampleVideo::mp4(640, 360, 12).build();
    let store = Arc::new(MemoryStore::default());
    let svc = service(files(0), store.clone(), "free");
    let (tx, body) = body_channel(4);
    let chunks: Vec<Vec<u8>> = video.chunks(777).map(<[u8]>::to_vec).collect();
    let forward = async move {
        for chunk in chunks {
            if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                return false;
            }
        }
        true
    };
    let upload = svc.upload_stream(
        &me,
        UploadStream {
            body,
            original_filename: None,
            alt_text: None,
            declared_size: None,
        },
    );
    let (sent_all, file) = tokio::join!(forward, upload);
    assert!(sent_all);
    let file = file.unwrap();
    assert_eq!(file.duration_secs, Some(12.0));
    assert_eq!(store.get(&file.filename).await.unwrap(), video);

    // An upload refused early drops its body: the sender learns it and stops.
    let svc = service(MockMediaRepository::new().tap_used(0), store, "free");
    let (tx, body) = body_channel(1);
    let forward = async move {
        let mut sent = 0;
        while tx
            .send(Ok(Bytes::from_static(b"%PDF-1.7 ...")))
            .await
            .is_ok()
        {
            sent += 1;
            if sent > 10_000 {
                break;
            }
        }
        sent
    };
    let upload = svc.upload_stream(
        &me,
        UploadStream {
            body,
            original_filename: None,
            alt_text: None,
            declared_size: None,
        },
    );
    let (sent, refused) = tokio::join!(forward, upload);
    assert_eq!(refused, Err(UploadError::UnsupportedFileType));
    assert!(sent < 10_000, "{sent}");
}
