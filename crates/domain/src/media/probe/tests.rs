use super::*;

/// A PNG header with an IHDR of `w` × `h` (enough for sniffing).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b
}

#[test]
fn recognises_each_type_and_reads_image_sizes() {
    assert_eq!(
        probe(&png(1080, 1350)),
        Some(Probed {
            mime: "image/png",
            width: Some(1080),
            height: Some(1350)
        })
    );
    // JPEG: SOI, an APP0 segment, then SOF0 with height 480 and width 640.
    let jpeg = [
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0,
        0x02, 0x80, 0x03,
    ];
    assert_eq!(
        probe(&jpeg),
        Some(Probed {
            mime: "image/jpeg",
            width: Some(640),
            height: Some(480)
        })
    );
    let gif = b"GIF89a\x20\x03\x58\x02rest";
    assert_eq!(
        probe(gif),
        Some(Probed {
            mime: "image/gif",
            width: Some(800),
            height: Some(600)
        })
    );
    let mut webp = b"RIFF\0\0\0\0WEBPVP8X".to_vec();
    webp.extend_from_slice(&[0; 8]);
    webp.extend_from_slice(&[0x7F, 0x02, 0x00, 0xDF, 0x01, 0x00]); // 640 x 480, minus one
    assert_eq!(
        probe(&webp),
        Some(Probed {
            mime: "image/webp",
            width: Some(640),
            height: Some(480)
        })
    );
    assert_eq!(
        probe(b"\0\0\0\x18ftypisom....").map(|s| s.mime),
        Some("video/mp4")
    );
    assert_eq!(
        probe(b"\0\0\0\x14ftypqt  ....").map(|s| s.mime),
        Some("video/quicktime")
    );
    assert_eq!(
        // An EBML header whose DocType (0x4282) is "webm", in a file longer than its header.
        probe(
            &[
                &b"\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\x82\x84webm"[..],
                &[0; 300]
            ]
            .concat()
        )
        .map(|s| s.mime),
        Some("video/webm")
    );
}

#[test]
fn anything_else_is_refused_and_garbage_never_panics() {
    for bad in [
        &b""[..],
        b"hello",
        b"<svg></svg>",
        b"%PDF-1.7",
        b"\xFF\xD8",
        b"RIFF",
        b"GIF8",
    ] {
        assert!(probe(bad).and_then(|s| s.width).is_none(), "{bad:?}");
    }
    assert_eq!(probe(b"<html>"), None);
    // Truncated and corrupt headers of every type.
    let samples = [
        png(10, 10),
        b"\xFF\xD8\xFF\xE0\xFF\xFF\x00".to_vec(),
        b"GIF89a".to_vec(),
    ];
    for sample in samples {
        for len in 0..sample.len() {
            let _ = probe(&sample[..len]);
        }
    }
    let mut seed = 7u32;
    for _ in 0..2000 {
        let mut b = vec![0xFF, 0xD8, 0xFF];
        for _ in 0..40 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            b.push((seed >> 16) as u8);
        }
        let _ = probe(&b);
    }
}

#[test]
fn sample_videos_are_typed_from_their_bytes() {
    use crate::media::video::sample::SampleVideo;
    let mp4 = SampleVideo::mp4(640, 360, 5).build();
    assert_eq!(probe(&mp4).unwrap().mime, "video/mp4");
    let mov = SampleVideo::mov(640, 360, 5).build();
    assert_eq!(probe(&mov).unwrap().mime, "video/quicktime");
}
