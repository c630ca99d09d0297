//! # multivio-storage
//!
//! Where media bytes live. [`LocalDisk`] keeps them in a directory (the local default, under
//! the data directory) and serves them under a public base URL.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use multivio_ports::media::{MediaStore, MediaStoreError};

/// Media bytes in a local directory.
#[derive(Debug, Clone)]
pub struct LocalDisk {
    root: PathBuf,
    public_base: String,
}

impl LocalDisk {
    /// Bytes under `root`, served at `<public_base>/<key>`.
    pub fn new(root: impl Into<PathBuf>, public_base: impl Into<String>) -> Self {
        Self {
            root: root.into(),
            public_base: public_base.into().trim_end_matches('/').to_owned(),
        }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `key`; keys are relative paths of plain segments (no `..`, no absolute
    /// paths), so a key can never point outside the root.
    fn path(&self, key: &str) -> Result<PathBuf, MediaStoreError> {
        let relative = Path::new(key);
        let plain = !key.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(MediaStoreError::Unavailable(format!(
                "invalid media key {key:?}"
            )));
        }
        Ok(self.root.join(relative))
    }
}

fn unavailable(e: std::io::Error) -> MediaStoreError {
    MediaStoreError::Unavailable(e.to_string())
}

#[async_trait]
impl MediaStore for LocalDisk {
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<String, MediaStoreError> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
        }
        // Write aside and rename, so a reader never sees half a file.
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, bytes)
            .await
            .map_err(unavailable)?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(unavailable)?;
        Ok(self.public_url(key))
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, MediaStoreError> {
        // A key that cannot name a file names nothing.
        let path = self.path(key).map_err(|_| MediaStoreError::NotFound)?;
        match tokio::fs::read(path).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(MediaStoreError::NotFound),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), MediaStoreError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn public_url(&self, key: &str) -> String {
        format!("{}/{key}", self.public_base)
    }
}

#[cfg(test)]
mod tests;
