//! Images: their size from the header, refusing a decompression bomb before any decoding, and
//! thumbnails made with a bounded decode.
//!
//! A small file can claim an enormous picture (a PNG of a few kilobytes may decode to
//! gigabytes). [`inspect`] reads the dimensions from the header and refuses more than
//! [`MAX_PIXELS`]; [`thumbnail`] decodes only after that, under [`image::Limits`] that cap
//! each side and the memory the decoder may allocate, so a header that lies is refused too.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Most pixels an uploaded image may have (50 megapixels: an 8000 × 6000 photo fits).
pub const MAX_PIXELS: u64 = 50_000_000;
/// Longest side an uploaded image may have.
pub const MAX_SIDE: u32 = 20_000;
/// Most memory a decoder may allocate for one image (50 MP of RGBA, with room to spare).
pub const MAX_DECODE_BYTES: u64 = 256 << 20;
/// Largest image file accepted (held in memory to make its thumbnail): 32 MiB, above every
/// platform's image limit (20 MB at most).
pub const MAX_IMAGE_BYTES: u64 = 32 << 20;
/// A thumbnail's longest side.
pub const THUMBNAIL_SIDE: u32 = 320;
/// A thumbnail's MIME type (JPEG, quality 80).
pub const THUMBNAIL_MIME: &str = "image/jpeg";

/// Why an image was refused or could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The header announces more pixels (or a longer side) than accepted: refused without
    /// decoding.
    #[error(
        "image too large to process: {width} × {height} pixels (at most {max_pixels} pixels, \
         {max_side} per side)"
    )]
    TooManyPixels {
        /// Width the header announces.
        width: u32,
        /// Height the header announces.
        height: u32,
        /// [`MAX_PIXELS`].
        max_pixels: u64,
        /// [`MAX_SIDE`].
        max_side: u32,
    },
    /// The bytes could not be decoded (or the decoder needed more than its limits).
    #[error("image cannot be read: {0}")]
    Unreadable(String),
}

/// An image's dimensions from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSize {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The dimensions the header announces, refusing a picture over [`MAX_PIXELS`] or
/// [`MAX_SIDE`] (decompression bombs) before anything is decoded. `Ok(None)` when the header
/// does not say.
pub fn inspect(bytes: &[u8]) -> Result<Option<ImageSize>, ImageError> {
    let Ok(size) = imagesize::blob_size(bytes) else {
        return Ok(None);
    };
    let width = u32::try_from(size.width).unwrap_or(u32::MAX);
    let height = u32::try_from(size.height).unwrap_or(u32::MAX);
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max_pixels: MAX_PIXELS,
            max_side: MAX_SIDE,
        });
    }
    Ok(Some(ImageSize { width, height }))
}

/// The decoding limits: each side at most [`MAX_SIDE`], allocations at most
/// [`MAX_DECODE_BYTES`].
pub fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

fn format_of(mime: &str) -> Option<ImageFormat> {
    match mime {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/gif" => Some(ImageFormat::Gif),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// A JPEG thumbnail (longest side [`THUMBNAIL_SIDE`], never enlarged; transparency over
/// white; a GIF's first frame) of an image of type `mime`, decoded under [`limits`] after
/// [`inspect`] passed. CPU-bound: run it off the async executor.
pub fn thumbnail(bytes: &[u8], mime: &str) -> Result<Vec<u8>, ImageError> {
    inspect(bytes)?;
    let format =
        format_of(mime).ok_or_else(|| ImageError::Unreadable(format!("{mime} is not an image")))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let decoded = reader
        .decode()
        .map_err(|e| ImageError::Unreadable(e.to_string()))?;
    let small = if decoded.width() > THUMBNAIL_SIDE || decoded.height() > THUMBNAIL_SIDE {
        decoded.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        decoded
    };
    let rgb = flatten(&small);
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&rgb)
        .map_err(|e| ImageError::Unreadable(e.to_string()))?;
    Ok(out.into_inner())
}

/// RGB over a white background.
fn flatten(image: &DynamicImage) -> image::RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| -> u8 {
            let (c, a) = (u16::from(c), u16::from(a));
            u8::try_from((c * a + 255 * (255 - a)) / 255).unwrap_or(u8::MAX)
        };
        image::Rgb([over(r), over(g), over(b)])
    })
}

#[cfg(test)]
mod tests;
