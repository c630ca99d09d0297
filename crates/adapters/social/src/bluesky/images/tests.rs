use image::codecs::png::PngEncoder;
use image::{ImageEncoder, RgbaImage};

use super::*;

/// Pixels that compress badly (a xorshift generator): a PNG about as large as its raw pixels.
fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    };
    let img = RgbImage::from_fn(width, height, |_, _| image::Rgb([next(), next(), next()]));
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

#[test]
fn a_3_mb_image_comes_out_below_the_limit_decodable_and_with_its_aspect_ratio() {
    let png = noisy_png(1280, 800);
    assert!(png.len() > 2_900_000, "{} bytes", png.len());
    let fitted = fit(&png, 1_000_000).unwrap();
    assert!(fitted.bytes.len() <= 1_000_000, "{}", fitted.bytes.len());
    let decoded = image::load_from_memory(&fitted.bytes).unwrap();
    assert_eq!(
        (decoded.width(), decoded.height()),
        (fitted.width, fitted.height)
    );
    assert_eq!(
        image::guess_format(&fitted.bytes).unwrap(),
        image::ImageFormat::Jpeg
    );
    assert!(fitted.width < 1280);
    let expected_height = f64::from(fitted.width) * 800.0 / 1280.0;
    assert!(
        (f64::from(fitted.height) - expected_height).abs() <= 1.0,
        "{}x{}",
        fitted.width,
        fitted.height
    );
    assert_eq!(dimensions(&png), Some((1280, 800)));
}

#[test]
fn transparency_is_laid_over_white() {
    let img = RgbaImage::from_pixel(8, 4, image::Rgba([0, 0, 0, 0]));
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(img.as_raw(), 8, 4, image::ExtendedColorType::Rgba8)
        .unwrap();
    let fitted = fit(&png, 100_000).unwrap();
    let decoded = image::load_from_memory(&fitted.bytes).unwrap().into_rgb8();
    assert!(decoded.pixels().all(|p| p.0.iter().all(|&c| c > 245)));
}

#[test]
fn images_beyond_the_decoding_limits_or_unreadable_are_refused() {
    // 10,001 × 1 pixels: tiny as a file, wider than Multivio decodes.
    let wide = RgbImage::new(MAX_DIMENSION + 1, 1);
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(
            wide.as_raw(),
            MAX_DIMENSION + 1,
            1,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    assert!(matches!(fit(&png, 1_000), Err(FitError::TooLarge(_))));
    assert!(matches!(
        fit(b"not an image at all", 1_000),
        Err(FitError::Unreadable(_))
    ));
}

#[test]
fn an_impossible_limit_ends_the_loop() {
    let png = noisy_png(64, 64);
    assert_eq!(fit(&png, 10), Err(FitError::NoFit(10)));
}
