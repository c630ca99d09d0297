use std::io::Cursor;

use super::*;

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn picture(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([
            (x % 256) as u8,
            (y % 256) as u8,
            90,
            if x < 5 { 0 } else { 255 },
        ])
    }))
}

#[test]
fn thumbnails_of_every_image_type_are_small_jpegs() {
    let cases = [
        ("image/png", ImageFormat::Png, picture(1200, 800)),
        (
            "image/jpeg",
            ImageFormat::Jpeg,
            DynamicImage::ImageRgb8(picture(800, 1200).to_rgb8()),
        ),
        ("image/gif", ImageFormat::Gif, picture(640, 480)),
        ("image/webp", ImageFormat::WebP, picture(300, 200)),
    ];
    for (mime, format, image) in cases {
        let (w, h) = (image.width(), image.height());
        let bytes = encode(image, format);
        assert_eq!(
            inspect(&bytes).unwrap(),
            Some(ImageSize {
                width: w,
                height: h
            }),
            "{mime}"
        );
        let thumb = thumbnail(&bytes, mime).unwrap();
        let decoded = image::load_from_memory_with_format(&thumb, ImageFormat::Jpeg).unwrap();
        let longest = decoded.width().max(decoded.height());
        assert_eq!(longest, THUMBNAIL_SIDE.min(w.max(h)), "{mime}");
        // The shape is kept (to a pixel of rounding).
        let ratio = |a: u32, b: u32| f64::from(a) / f64::from(b);
        assert!(
            (ratio(decoded.width(), decoded.height()) - ratio(w, h)).abs() < 0.02,
            "{mime}: {}x{}",
            decoded.width(),
            decoded.height()
        );
    }
}

#[test]
fn transparency_is_flattened_over_white() {
    let clear = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
        10,
        10,
        image::Rgba([0, 0, 0, 0]),
    ));
    let thumb = thumbnail(&encode(clear, ImageFormat::Png), "image/png").unwrap();
    let decoded = image::load_from_memory(&thumb).unwrap().to_rgb8();
    assert!(
        decoded.pixels().all(|p| p.0.iter().all(|&c| c > 240)),
        "white, not black"
    );
}

/// A PNG whose header announces `w` × `h`, with almost no data: what a decompression bomb
/// looks like before decoding.
fn claimed_png(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[0; 64]);
    b
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    for (w, h) in [(50_000, 50_000), (20_001, 10), (10, 20_001), (7072, 7072)] {
        let bomb = claimed_png(w, h);
        let e = inspect(&bomb).unwrap_err();
        assert_eq!(
            e,
            ImageError::TooManyPixels {
                width: w,
                height: h,
                max_pixels: MAX_PIXELS,
                max_side: MAX_SIDE
            }
        );
        assert_eq!(thumbnail(&bomb, "image/png").unwrap_err(), e);
    }
    assert_eq!(
        inspect(&claimed_png(8000, 6000)).unwrap(),
        Some(ImageSize {
            width: 8000,
            height: 6000
        })
    );
}

#[test]
fn a_real_bomb_is_refused_before_its_pixels_are_decoded() {
    // A valid 7,100 × 7,100 one-bit PNG: a few kilobytes that would decode to 200 MB of RGBA.
    let side = 7_100;
    let mut bomb = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bomb, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder.write_header().unwrap();
        let data = vec![0u8; (side as usize).div_ceil(8) * side as usize];
        writer.write_image_data(&data).unwrap();
    }
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    assert!(matches!(
        thumbnail(&bomb, "image/png"),
        Err(ImageError::TooManyPixels {
            width: 7_100,
            height: 7_100,
            ..
        })
    ));
}

#[test]
fn a_header_that_lies_is_stopped_by_the_decoder_limits() {
    // Within the pixel cap by its header, but the bytes are not an image.
    let fake = claimed_png(1080, 1350);
    assert_eq!(
        inspect(&fake).unwrap(),
        Some(ImageSize {
            width: 1080,
            height: 1350
        })
    );
    assert!(matches!(
        thumbnail(&fake, "image/png"),
        Err(ImageError::Unreadable(_))
    ));
    assert!(matches!(
        thumbnail(b"GIF89a", "image/gif"),
        Err(ImageError::Unreadable(_))
    ));
    assert!(matches!(
        thumbnail(b"", "video/mp4"),
        Err(ImageError::Unreadable(_))
    ));
    assert_eq!(inspect(b"not an image").unwrap(), None);
    let l = limits();
    assert_eq!(l.max_image_width, Some(MAX_SIDE));
    assert_eq!(l.max_alloc, Some(MAX_DECODE_BYTES));
}
