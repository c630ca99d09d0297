//! What an uploaded file is, from its bytes — never from the client's content type — and, for
//! images, its dimensions.

/// A recognised file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// MIME type.
    pub mime: &'static str,
    /// Width in pixels (images).
    pub width: Option<u32>,
    /// Height in pixels (images).
    pub height: Option<u32>,
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | (u32::from(s[1]) << 8) | (u32::from(s[2]) << 16))
}

/// Recognises JPEG, PNG, GIF, WebP, MP4, QuickTime and WebM; `None` for anything else.
pub fn sniff(b: &[u8]) -> Option<Sniffed> {
    let image = |mime, dims: Option<(u32, u32)>| Sniffed {
        mime,
        width: dims.map(|d| d.0),
        height: dims.map(|d| d.1),
    };
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(image("image/jpeg", jpeg_size(b)));
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        let dims = (b.get(12..16) == Some(b"IHDR"))
            .then(|| Some((be32(b, 16)?, be32(b, 20)?)))
            .flatten();
        return Some(image("image/png", dims));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some(image("image/gif", le16(b, 6).zip(le16(b, 8))));
    }
    if b.len() >= 16 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Some(image("image/webp", webp_size(b)));
    }
    if b.get(4..8) == Some(b"ftyp") {
        let brand = b.get(8..12)?;
        let mime = if brand == b"qt  " {
            "video/quicktime"
        } else {
            "video/mp4"
        };
        return Some(image(mime, None));
    }
    if b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(image("video/webm", None));
    }
    None
}

/// Width and height from the first start-of-frame marker.
fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        // Fill bytes and markers without a length.
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 2;
            continue;
        }
        let len = usize::try_from(be16(b, i + 2)?).ok()?;
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            return Some((be16(b, i + 7)?, be16(b, i + 5)?));
        }
        if len < 2 {
            return None;
        }
        i += 2 + len;
    }
    None
}

fn webp_size(b: &[u8]) -> Option<(u32, u32)> {
    match b.get(12..16)? {
        b"VP8 " => Some((le16(b, 26)? & 0x3FFF, le16(b, 28)? & 0x3FFF)),
        b"VP8L" => {
            let bits = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => Some((le24(b, 24)? + 1, le24(b, 27)? + 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
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
            sniff(&png(1080, 1350)),
            Some(Sniffed {
                mime: "image/png",
                width: Some(1080),
                height: Some(1350)
            })
        );
        // JPEG: SOI, an APP0 segment, then SOF0 with height 480 and width 640.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01,
            0xE0, 0x02, 0x80, 0x03,
        ];
        assert_eq!(
            sniff(&jpeg),
            Some(Sniffed {
                mime: "image/jpeg",
                width: Some(640),
                height: Some(480)
            })
        );
        let gif = b"GIF89a\x20\x03\x58\x02rest";
        assert_eq!(
            sniff(gif),
            Some(Sniffed {
                mime: "image/gif",
                width: Some(800),
                height: Some(600)
            })
        );
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X".to_vec();
        webp.extend_from_slice(&[0; 8]);
        webp.extend_from_slice(&[0x7F, 0x02, 0x00, 0xDF, 0x01, 0x00]); // 640 x 480, minus one
        assert_eq!(
            sniff(&webp),
            Some(Sniffed {
                mime: "image/webp",
                width: Some(640),
                height: Some(480)
            })
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypisom....").map(|s| s.mime),
            Some("video/mp4")
        );
        assert_eq!(
            sniff(b"\0\0\0\x14ftypqt  ....").map(|s| s.mime),
            Some("video/quicktime")
        );
        assert_eq!(
            sniff(&[0x1A, 0x45, 0xDF, 0xA3, 1]).map(|s| s.mime),
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
            assert!(sniff(bad).and_then(|s| s.width).is_none(), "{bad:?}");
        }
        assert_eq!(sniff(b"<html>"), None);
        // Truncated and corrupt headers of every type.
        let samples = [
            png(10, 10),
            b"\xFF\xD8\xFF\xE0\xFF\xFF\x00".to_vec(),
            b"GIF89a".to_vec(),
        ];
        for sample in samples {
            for len in 0..sample.len() {
                let _ = sniff(&sample[..len]);
            }
        }
        let mut seed = 7u32;
        for _ in 0..2000 {
            let mut b = vec![0xFF, 0xD8, 0xFF];
            for _ in 0..40 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b.push((seed >> 16) as u8);
            }
            let _ = sniff(&b);
        }
    }
}
