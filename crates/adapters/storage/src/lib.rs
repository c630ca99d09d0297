//! # multivio-storage
//!
//! Where media bytes live, behind the [`MediaStore`](multivio_ports::media::MediaStore) port:
//!
//! - [`LocalDisk`]: a directory (the default, under the data directory). Writes go to a
//!   temporary file beside the target and are renamed into place once complete, so a reader
//!   never sees half a file; the API serves the bytes itself (`/media/{key}`), ranges included.
//! - [`S3Store`]: S3-compatible object storage (Cloudflare R2, AWS S3, MinIO) through
//!   `object_store`. Large uploads go up as multipart uploads of [`s3::PART_BYTES`] parts;
//!   with a public URL (a CDN or R2's public bucket URL) the API hands that out instead of
//!   serving bytes.
//!
//! Both stream: an upload is written as it arrives and refused as soon as it passes its cap
//! (nothing is left behind, even when the upload is abandoned midway), and a download is read
//! in chunks of [`READ_CHUNK`] bytes.

mod disk;
pub mod s3;

pub use disk::LocalDisk;
pub use s3::{S3Config, S3Store};

use multivio_ports::media::MediaStoreError;
pub use multivio_ports::media::valid_key;

/// Bytes per chunk of a download.
pub const READ_CHUNK: usize = 64 * 1024;

fn invalid_key(key: &str) -> MediaStoreError {
    MediaStoreError::Unavailable(format!("invalid media key {key:?}"))
}

/// The MIME type of a key, from its extension (the media service names every file by its
/// sniffed type).
pub fn content_type_of(key: &str) -> &'static str {
    let ext = key
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests;
