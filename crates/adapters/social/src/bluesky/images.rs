//! Images larger than Bluesky accepts: decoded within limits (no decompression bombs),
//! downscaled keeping their aspect ratio and re-encoded as JPEG until they fit.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, Limits, RgbImage};

/// Widest and tallest image decoded, in pixels.
pub const MAX_DIMENSION: u32 = 10_000;
/// Most memory the decoder may allocate, in bytes.
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// Longest side of a re-encoded image: Bluesky shows images at most 2000 pixels wide, and its
/// own app scales them to this.
const MAX_SIDE: u32 = 2000;
/// Encodings tried before giving up.
const MAX_ATTEMPTS: usize = 12;
/// The first JPEG quality tried, and the lowest.
const START_QUALITY: u8 = 85;
const MIN_QUALITY: u8 = 60;

/// A re-encoded image: JPEG bytes and their size in pixels.
#[derive(Clone, PartialEq, Eq)]
pub struct Fitted {
    /// The JPEG.
    pub bytes: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl std::fmt::Debug for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fitted")
            .field("bytes", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// Why an image could not be made to fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    /// Not an image this build reads (JPEG, PNG, GIF, WebP), or a damaged one.
    #[error("the image cannot be read: {0}")]
    Unreadable(String),
    /// Larger than Multivio decodes (dimensions or memory).
    #[error("the image is too large to process: {0}")]
    TooLarge(String),
    /// Still too large at the smallest size tried.
    #[error("the image could not be made smaller than {0} bytes")]
    NoFit(usize),
}

/// The image's size in pixels, read from its header; `None` if it cannot be read.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

/// Decodes `bytes` and re-encodes the image as a JPEG of at most `max_bytes`: first at its own
/// size (or 2000 pixels on the longest side) at quality 85, then smaller — the sides scaled by
/// the square root of how much too large the last try was, at most halving the area per try
/// — at a quality lowered step by step to 60. The EXIF orientation is applied and
/// transparency is laid over white.
pub fn fit(bytes: &[u8], max_bytes: usize) -> Result<Fitted, FitError> {
    let rgb = flatten(decode(bytes)?);
    let (width, height) = (rgb.width(), rgb.height());
    let longest = f64::from(width.max(height));
    let mut scale = (f64::from(MAX_SIDE) / longest).min(1.0);
    let mut quality = START_QUALITY;
    for _ in 0..MAX_ATTEMPTS {
        let (w, h) = scaled(width, height, scale);
        let jpeg = if (w, h) == (width, height) {
            encode(&rgb, quality)?
        } else {
            encode(
                &image::imageops::resize(&rgb, w, h, FilterType::Triangle),
                quality,
            )?
        };
        if jpeg.len() <= max_bytes {
            return Ok(Fitted {
                bytes: jpeg,
                width: w,
                height: h,
            });
        }
        if w == 1 && h == 1 {
            break;
        }
        let ratio = max_bytes as f64 / jpeg.len() as f64;
        scale *= (ratio.sqrt() * 0.95).clamp(0.7, 0.95);
        quality = quality.saturating_sub(5).max(MIN_QUALITY);
    }
    Err(FitError::NoFit(max_bytes))
}

/// The size of a `width` × `height` image scaled by `scale`, each side at least one pixel,
/// both computed from the original (so the aspect ratio stays within a pixel).
fn scaled(width: u32, height: u32, scale: f64) -> (u32, u32) {
    let side = |n: u32| ((f64::from(n) * scale).round() as u32).clamp(1, n);
    (side(width), side(height))
}

fn decode(bytes: &[u8]) -> Result<DynamicImage, FitError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| FitError::Unreadable(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(read_error)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(read_error)?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn read_error(e: ImageError) -> FitError {
    match e {
        ImageError::Limits(limit) => FitError::TooLarge(limit.to_string()),
        other => FitError::Unreadable(other.to_string()),
    }
}

/// RGB pixels, with any transparency laid over white (JPEG has no alpha channel).
fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| {
            let c = u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a));
            (c / 255) as u8
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

fn encode(rgb: &RgbImage, quality: u8) -> Result<Vec<u8>, FitError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(rgb)
        .map_err(|e| FitError::Unreadable(format!("re-encoding as JPEG: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests;
