use super::sample::{SampleVideo, bx};
use super::*;

/// Feeds `bytes` in chunks of `size` (1 exercises every boundary).
fn scan_in(bytes: &[u8], size: usize) -> Option<VideoFacts> {
    let mut scanner = ContainerScanner::new();
    for chunk in bytes.chunks(size) {
        scanner.feed(chunk);
    }
    scanner.finish()
}

#[test]
fn an_mp4_tells_its_duration_dimensions_and_codec() {
    let file = SampleVideo::mp4(1280, 720, 42).build();
    let facts = scan(&file).unwrap();
    assert_eq!(
        facts,
        VideoFacts {
            duration_secs: Some(42.0),
            width: Some(1280),
            height: Some(720),
            codec: Some("avc1".to_owned()),
            has_audio: true,
        }
    );
    assert_eq!(facts.codec_name(), Some("H.264"));
    for size in [1, 3, 7, 8, 9, 16, 100, 4096] {
        assert_eq!(
            scan_in(&file, size).as_ref(),
            Some(&facts),
            "chunks of {size}"
        );
    }
}

#[test]
fn a_quicktime_movie_is_read_too_with_its_data_handler_ignored() {
    let mut mov = SampleVideo::mov(1920, 1080, 95);
    mov.codec = *b"apcn";
    mov.audio = false;
    let facts = scan(&mov.build()).unwrap();
    assert_eq!(facts.duration_secs, Some(95.0));
    assert_eq!((facts.width, facts.height), (Some(1920), Some(1080)));
    assert_eq!(facts.codec.as_deref(), Some("apcn"));
    assert_eq!(facts.codec_name(), Some("ProRes"));
    assert!(!facts.has_audio);
}

#[test]
fn moov_after_mdat_version_1_boxes_and_64_bit_sizes() {
    let mut v = SampleVideo::mp4(640, 480, 3);
    v.moov_last = true;
    v.wide = true;
    v.codec = *b"hvc1";
    v.timescale = 90_000;
    v.duration = 90_000 * 7 + 45_000;
    v.mdat_len = 100_000;
    let file = v.build();
    for size in [1, 13, 65_536] {
        let facts = scan_in(&file, size).unwrap();
        assert_eq!(facts.duration_secs, Some(7.5));
        assert_eq!((facts.width, facts.height), (Some(640), Some(480)));
        assert_eq!(facts.codec.as_deref(), Some("hvc1"));
    }
}

#[test]
fn a_portrait_phone_video_reports_its_displayed_shape() {
    let mut v = SampleVideo::mp4(1920, 1080, 10);
    v.rotate_90 = true;
    let facts = scan(&v.build()).unwrap();
    assert_eq!((facts.width, facts.height), (Some(1080), Some(1920)));
}

#[test]
fn files_it_cannot_read_yield_no_facts_and_never_panic() {
    // No moov at all: the start of a file, as a header-only upload.
    let mut head = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2".to_vec();
    head.extend(std::iter::repeat_n(0u8, 2048));
    assert_eq!(scan(&head), None);
    assert_eq!(scan(b""), None);
    assert_eq!(scan(b"\0\0\0"), None);
    // A box smaller than its header, a box past its parent, a truncated moov.
    assert_eq!(scan(&bx(b"ftyp", b"isom")[..6]), None);
    let mut small = b"\0\0\0\x04moov".to_vec();
    small.extend([0; 32]);
    assert_eq!(scan(&small), None);
    let inner = bx(b"trak", &[0; 64]);
    let mut lying = bx(b"moov", &inner);
    lying[8..12].copy_from_slice(&1000u32.to_be_bytes());
    let facts = scan(&lying).unwrap();
    assert_eq!(facts.duration_secs, None);
    let file = SampleVideo::mp4(320, 240, 5).build();
    for cut in [30, 100, 200, 400, file.len() - 10] {
        // Whatever is there is read; nothing panics.
        let _ = scan(&file[..cut]);
    }
    // Every prefix and a few corruptions, fed byte by byte.
    for i in (0..file.len()).step_by(7) {
        let mut bad = file.clone();
        bad[i] ^= 0xff;
        let _ = scan_in(&bad, 5);
    }
}

#[test]
fn memory_stays_bounded_whatever_the_file_size() {
    // A 64 MiB mdat before the moov is walked past without being kept.
    let mut v = SampleVideo::mp4(1280, 720, 60);
    v.moov_last = true;
    v.mdat_len = 0;
    let file = v.build();
    let (ftyp_mdat, moov) = file.split_at(file.len() - scan_moov_len(&file));
    let mut scanner = ContainerScanner::new();
    let mdat_len: u64 = 64 << 20;
    let mut header = ftyp_mdat[..ftyp_mdat.len() - 8].to_vec();
    header.extend_from_slice(&u32::try_from(mdat_len + 8).unwrap().to_be_bytes());
    header.extend_from_slice(b"mdat");
    scanner.feed(&header);
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..64 {
        scanner.feed(&chunk);
        assert!(scanner.leaf.capacity() <= LEAF_BYTES.max(16));
    }
    scanner.feed(moov);
    let facts = scanner.finish().unwrap();
    assert_eq!(facts.duration_secs, Some(60.0));
}

fn scan_moov_len(file: &[u8]) -> usize {
    let at = file.windows(4).rposition(|w| w == b"moov").unwrap() - 4;
    file.len() - at
}

#[test]
fn fragmented_movies_take_their_duration_from_mehd() {
    // mvhd with duration 0 and an mvex/mehd of 12 s at timescale 1000.
    let mut mvhd = vec![0u8; 12];
    mvhd.extend_from_slice(&1000u32.to_be_bytes());
    mvhd.extend_from_slice(&0u32.to_be_bytes());
    mvhd.extend_from_slice(&[0; 80]);
    let mehd = bx(b"mehd", &[&[0u8; 4][..], &12_000u32.to_be_bytes()].concat());
    let moov = bx(b"moov", &[bx(b"mvhd", &mvhd), bx(b"mvex", &mehd)].concat());
    assert_eq!(scan(&moov).unwrap().duration_secs, Some(12.0));
}

#[test]
fn codec_names() {
    assert_eq!(codec_name("avc3"), Some("H.264"));
    assert_eq!(codec_name("hev1"), Some("HEVC"));
    assert_eq!(codec_name("av01"), Some("AV1"));
    assert_eq!(codec_name("zzzz"), None);
}
