//! The local-disk adapter, with the suite the S3 adapter passes too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::Fixture;
use multivio_ports::media::Delivery;
use multivio_storage::LocalDisk;

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> TempDir {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "multivio-storage-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Every file under `root` (temporary ones included), as keys.
fn files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out
}

async fn fixture() -> Option<Fixture> {
    let dir = temp_dir();
    let root = dir.0.join("media");
    let read_limit = 4 << 20;
    let store = LocalDisk::new(&root, "http://127.0.0.1:8080/media/").with_read_limit(read_limit);
    Some(Fixture {
        store: Arc::new(store),
        leftovers: Box::new(move || {
            let root = root.clone();
            Box::pin(async move { files(&root) })
        }),
        read_limit,
        expected_delivery: Delivery::Api,
        public_base: "http://127.0.0.1:8080/media".to_owned(),
        _guard: Box::new(dir),
    })
}

media_store_suite!(
    fixture,
    cap = 1 << 20,
    large = (11 << 20) + 12_345,
    abandon_after = 1 << 20
);
