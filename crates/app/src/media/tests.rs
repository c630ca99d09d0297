use super::*;
use crate::testing::*;
use multivio_domain::Provider;
use multivio_ports::StoreError;
use multivio_ports::media::{MediaStoreError, MockMediaRepository, MockMediaStore};

/// `len` bytes whose header makes them a file of `mime` (a 1080 × 1080 image), whatever
/// the client would have declared.
fn upload(mime: &str, len: usize) -> MediaUpload {
    let header: Vec<u8> = match mime {
        // SOI, then SOF0 with height and width 1080.
        "image/jpeg" => vec![
            0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x04, 0x38, 0x04, 0x38, 0x03,
        ],
        "image/png" => {
            let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
            b.extend_from_slice(&1080u32.to_be_bytes());
            b.extend_from_slice(&1080u32.to_be_bytes());
            b.extend_from_slice(&[8, 6, 0, 0, 0]);
            b
        }
        "video/mp4" => b"\0\0\0\x18ftypisom\0\0\0\0isomiso2".to_vec(),
        _ => b"%PDF-1.7".to_vec(),
    };
    let mut bytes = header;
    bytes.resize(len.max(bytes.len()), 0);
    bytes.truncate(len);
    MediaUpload {
        bytes,
        original_filename: Some("cat.jpg".into()),
        alt_text: Some("A cat".into()),
    }
}

fn service(files: MockMediaRepository, store: MockMediaStore) -> MediaService {
    MediaService::new(Arc::new(files), Arc::new(store), ids(), clock(), 1_000_000)
}

#[tokio::test]
async fn upload_stores_bytes_and_row_with_compatibility() {
    let mut store = MockMediaStore::new();
    store
        .expect_put()
        .withf(|key, bytes, ct| {
            key.starts_with("1/")
                && key.ends_with(".jpg")
                && bytes.len() == 500
                && ct == "image/jpeg"
        })
        .times(1)
        .returning(|key, _, _| Ok(format!("https://cdn.example.com/{key}")));
    let mut files = MockMediaRepository::new();
    files
        .expect_insert()
        .withf(|t, f| {
            *t == tenant()
                && f.platform_compatibility.contains(&Provider::Instagram)
                && !f.platform_compatibility.contains(&Provider::Youtube)
                && f.alt_text.as_ref().map(AltText::as_str) == Some("A cat")
        })
        .times(1)
        .returning(|_, f| Ok(f.clone()));
    let f = service(files, store)
        .upload(&tenant(), upload("image/jpeg", 500))
        .await
        .unwrap();
    assert!(f.cdn_url.unwrap().starts_with("https://cdn.example.com/1/"));
}

#[tokio::test]
async fn upload_refuses_bad_files_before_storing() {
    let mut store = MockMediaStore::new();
    store.expect_put().never();
    let svc = service(MockMediaRepository::new(), store);
    assert_eq!(
        svc.upload(&tenant(), upload("application/pdf", 10)).await,
        Err(AppError::UnsupportedFileType)
    );
    for (u, why) in [
        (upload("image/jpeg", 0), "empty"),
        (upload("image/jpeg", 1_000_001), "size"),
        (
            MediaUpload {
                alt_text: Some("a".repeat(1501)),
                ..upload("image/png", 100)
            },
            "alt",
        ),
    ] {
        assert!(
            matches!(svc.upload(&tenant(), u).await, Err(AppError::Invalid(_))),
            "{why}"
        );
    }
}

#[tokio::test]
async fn a_failed_row_insert_removes_the_bytes() {
    let mut store = MockMediaStore::new();
    store.expect_put().returning(|k, _, _| Ok(k.to_owned()));
    store.expect_delete().times(1).returning(|_| Ok(()));
    let mut files = MockMediaRepository::new();
    files
        .expect_insert()
        .returning(|_, _| Err(StoreError::Unavailable("db".into())));
    let r = service(files, store)
        .upload(&tenant(), upload("video/mp4", 100))
        .await;
    assert!(matches!(r, Err(AppError::Unavailable(_))));
}

fn file(owner: multivio_domain::UserId) -> MediaFile {
    MediaFile {
        id: MediaId(uuid::Uuid::from_u128(3)),
        user_id: owner,
        filename: "1/3.jpg".into(),
        original_filename: None,
        file_type: "image/jpeg".into(),
        file_size: 10,
        cdn_url: None,
        thumbnail_url: None,
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

#[tokio::test]
async fn delete_removes_row_then_bytes_and_hides_foreign_files() {
    let mut files = MockMediaRepository::new();
    files
        .expect_get()
        .returning(|_, _| Ok(file(tenant().user_id)));
    files.expect_delete().times(1).returning(|_, _| Ok(()));
    let mut store = MockMediaStore::new();
    store
        .expect_delete()
        .withf(|k| k == "1/3.jpg")
        .times(1)
        .returning(|_| Err(MediaStoreError::Unavailable("s3".into())));
    service(files, store)
        .delete(&tenant(), MediaId(uuid::Uuid::from_u128(3)))
        .await
        .unwrap();

    let mut files = MockMediaRepository::new();
    files
        .expect_get()
        .returning(|_, _| Ok(file(other_tenant().user_id)));
    files.expect_delete().never();
    let r = service(files, MockMediaStore::new())
        .delete(&tenant(), MediaId(uuid::Uuid::from_u128(3)))
        .await;
    assert_eq!(r, Err(AppError::NotFound("media file")));
}

#[tokio::test]
async fn delete_all_removes_every_file_page_by_page() {
    let pages = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut files = MockMediaRepository::new();
    let served = pages.clone();
    files.expect_list().returning(move |_, _, _| {
        let n = served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Page {
            items: if n < 2 {
                vec![file(tenant().user_id)]
            } else {
                vec![]
            },
            next_cursor: None,
        })
    });
    files
        .expect_get()
        .returning(|_, _| Ok(file(tenant().user_id)));
    files.expect_delete().times(2).returning(|_, _| Ok(()));
    let mut store = MockMediaStore::new();
    store.expect_delete().times(2).returning(|_| Ok(()));
    assert_eq!(service(files, store).delete_all(&tenant()).await, Ok(2));
}

#[tokio::test]
async fn alt_text_and_listing() {
    let mut files = MockMediaRepository::new();
    files
        .expect_get()
        .returning(|_, _| Ok(file(tenant().user_id)));
    files
        .expect_update_alt_text()
        .withf(|_, _, a| a.is_none())
        .times(1)
        .returning(|_, _, _| Ok(file(tenant().user_id)));
    files.expect_list().returning(|_, _, _| {
        Ok(Page {
            items: vec![],
            next_cursor: None,
        })
    });
    let svc = service(files, MockMediaStore::new());
    svc.set_alt_text(
        &tenant(),
        MediaId(uuid::Uuid::from_u128(3)),
        Some("  ".into()),
    )
    .await
    .unwrap();
    assert!(
        svc.list(&tenant(), PageSize::new(Some(50)), None)
            .await
            .is_ok()
    );
}
