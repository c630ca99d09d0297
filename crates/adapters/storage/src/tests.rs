use super::*;

#[tokio::test]
async fn bytes_round_trip_and_keys_stay_inside_the_root() {
    let root = std::env::temp_dir().join(format!("multivio-storage-{}", std::process::id()));
    let disk = LocalDisk::new(&root, "http://127.0.0.1:8080/media/");
    let url = disk
        .put("u1/a.jpg", b"jpeg".to_vec(), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(url, "http://127.0.0.1:8080/media/u1/a.jpg");
    assert_eq!(disk.get("u1/a.jpg").await.unwrap(), b"jpeg");
    disk.delete("u1/a.jpg").await.unwrap();
    disk.delete("u1/a.jpg").await.unwrap();
    assert_eq!(
        disk.get("u1/a.jpg").await.unwrap_err(),
        MediaStoreError::NotFound
    );
    for bad in ["", "../etc/passwd", "/etc/passwd", "a/../../b"] {
        assert!(disk.put(bad, vec![], "x").await.is_err(), "{bad}");
        assert_eq!(
            disk.get(bad).await.unwrap_err(),
            MediaStoreError::NotFound,
            "{bad}"
        );
    }
    let _ = std::fs::remove_dir_all(root);
}
