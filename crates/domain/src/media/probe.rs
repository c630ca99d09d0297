//! What an uploaded file is, from its bytes — never from the name or content type the client
//! gave — and, for images, its dimensions.

use crate::content::SUPPORTED_MIME_TYPES;

/// A recognised file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// MIME type, one of [`SUPPORTED_MIME_TYPES`].
    pub mime: &'static str,
    /// Width in pixels (images whose header holds it).
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
}

/// Recognises the types the platforms take (JPEG, PNG, GIF, WebP, MP4, QuickTime, WebM) from
/// `head`, the first bytes of a file (a few kilobytes suffice); `None` for anything else.
pub fn probe(head: &[u8]) -> Option<Probed> {
    let mime = match infer::get(head)?.mime_type() {
        // An .m4v is an MP4 with another brand.
        "video/x-m4v" => "video/mp4",
        other => other,
    };
    let (mime, _) = SUPPORTED_MIME_TYPES
        .iter()
        .copied()
        .find(|(m, _)| *m == mime)?;
    let size = mime
        .starts_with("image/")
        .then(|| imagesize::blob_size(head).ok())
        .flatten()
        .and_then(|s| Some((u32::try_from(s.width).ok()?, u32::try_from(s.height).ok()?)));
    Some(Probed {
        mime,
        width: size.map(|s| s.0),
        height: size.map(|s| s.1),
    })
}

#[cfg(test)]
mod tests;
