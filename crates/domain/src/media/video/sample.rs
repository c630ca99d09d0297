//! Minimal, valid MP4 and QuickTime files for tests (feature `testing`): the boxes a player
//! needs to describe the movie, with `mdat` filled with a pattern.

/// A video file to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleVideo {
    /// `isom` for MP4, `qt  ` for QuickTime.
    pub major_brand: [u8; 4],
    /// The video sample entry type, e.g. `avc1`.
    pub codec: [u8; 4],
    /// Coded width.
    pub width: u16,
    /// Coded height.
    pub height: u16,
    /// Units per second of `duration`.
    pub timescale: u32,
    /// Duration in `timescale` units.
    pub duration: u64,
    /// A quarter-turn display matrix (portrait phone video).
    pub rotate_90: bool,
    /// Add an audio (`mp4a`) track.
    pub audio: bool,
    /// `moov` after `mdat` (a file not prepared for streaming).
    pub moov_last: bool,
    /// Bytes of media data.
    pub mdat_len: usize,
    /// Version 1 headers (64-bit times) and a 64-bit `mdat` size.
    pub wide: bool,
}

impl SampleVideo {
    /// An MP4 (H.264, `isom`) of `width` × `height` lasting `secs` seconds.
    pub fn mp4(width: u16, height: u16, secs: u32) -> Self {
        Self {
            major_brand: *b"isom",
            codec: *b"avc1",
            width,
            height,
            timescale: 1000,
            duration: u64::from(secs) * 1000,
            rotate_90: false,
            audio: true,
            moov_last: false,
            mdat_len: 4096,
            wide: false,
        }
    }

    /// A QuickTime movie (`qt  `) of `width` × `height` lasting `secs` seconds.
    pub fn mov(width: u16, height: u16, secs: u32) -> Self {
        Self {
            major_brand: *b"qt  ",
            timescale: 600,
            duration: u64::from(secs) * 600,
            ..Self::mp4(width, height, secs)
        }
    }

    /// The file.
    pub fn build(&self) -> Vec<u8> {
        let ftyp = bx(
            b"ftyp",
            &[
                &self.major_brand[..],
                &[0, 0, 2, 0],
                &self.major_brand,
                b"mp41",
            ]
            .concat(),
        );
        let mdat_body: Vec<u8> = (0..self.mdat_len).map(|i| (i % 251) as u8).collect();
        let mdat = if self.wide {
            let mut b = 1u32.to_be_bytes().to_vec();
            b.extend_from_slice(b"mdat");
            b.extend_from_slice(&(16 + mdat_body.len() as u64).to_be_bytes());
            b.extend_from_slice(&mdat_body);
            b
        } else {
            bx(b"mdat", &mdat_body)
        };
        let mut tracks = vec![self.video_trak()];
        if self.audio {
            tracks.push(self.audio_trak());
        }
        let moov = bx(
            b"moov",
            &[self.time_header(b"mvhd", true), tracks.concat()].concat(),
        );
        let mut out = ftyp;
        if self.moov_last {
            out.extend(mdat);
            out.extend(moov);
        } else {
            out.extend(moov);
            out.extend(mdat);
        }
        out
    }

    fn time_header(&self, kind: &[u8; 4], movie: bool) -> Vec<u8> {
        let mut b = Vec::new();
        if self.wide {
            b.extend_from_slice(&[1, 0, 0, 0]);
            b.extend_from_slice(&[0; 16]);
            b.extend_from_slice(&self.timescale.to_be_bytes());
            b.extend_from_slice(&self.duration.to_be_bytes());
        } else {
            b.extend_from_slice(&[0; 12]);
            b.extend_from_slice(&self.timescale.to_be_bytes());
            b.extend_from_slice(
                &u32::try_from(self.duration)
                    .unwrap_or(u32::MAX - 1)
                    .to_be_bytes(),
            );
        }
        if movie {
            // rate, volume, reserved, matrix, pre_defined, next_track_ID
            b.extend_from_slice(&0x0001_0000u32.to_be_bytes());
            b.extend_from_slice(&[1, 0]);
            b.extend_from_slice(&[0; 10]);
            b.extend_from_slice(&matrix(false));
            b.extend_from_slice(&[0; 24]);
            b.extend_from_slice(&3u32.to_be_bytes());
        } else {
            // language, quality
            b.extend_from_slice(&[0x55, 0xc4, 0, 0]);
        }
        bx(kind, &b)
    }

    fn tkhd(&self, id: u32, video: bool) -> Vec<u8> {
        let mut b = Vec::new();
        if self.wide {
            b.extend_from_slice(&[1, 0, 0, 7]);
            b.extend_from_slice(&[0; 16]);
            b.extend_from_slice(&id.to_be_bytes());
            b.extend_from_slice(&[0; 4]);
            b.extend_from_slice(&self.duration.to_be_bytes());
        } else {
            b.extend_from_slice(&[0, 0, 0, 7]);
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&id.to_be_bytes());
            b.extend_from_slice(&[0; 4]);
            b.extend_from_slice(
                &u32::try_from(self.duration)
                    .unwrap_or(u32::MAX - 1)
                    .to_be_bytes(),
            );
        }
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&[0, 0, 0, 0]); // layer, alternate group
        b.extend_from_slice(if video { &[0, 0] } else { &[1, 0] });
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&matrix(video && self.rotate_90));
        let (w, h) = if video {
            (u32::from(self.width) << 16, u32::from(self.height) << 16)
        } else {
            (0, 0)
        };
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        bx(b"tkhd", &b)
    }

    fn video_trak(&self) -> Vec<u8> {
        let mut entry = vec![0; 6];
        entry.extend_from_slice(&[0, 1]); // data reference index
        entry.extend_from_slice(&[0; 16]);
        entry.extend_from_slice(&self.width.to_be_bytes());
        entry.extend_from_slice(&self.height.to_be_bytes());
        entry.extend_from_slice(&0x0048_0000u32.to_be_bytes());
        entry.extend_from_slice(&0x0048_0000u32.to_be_bytes());
        entry.extend_from_slice(&[0; 4]);
        entry.extend_from_slice(&[0, 1]); // frame count
        entry.extend_from_slice(&[0; 32]); // compressor name
        entry.extend_from_slice(&[0, 0x18, 0xff, 0xff]);
        if &self.codec == b"avc1" {
            entry.extend(bx(b"avcC", &[1, 0x64, 0, 0x1f, 0xff, 0xe0, 0]));
        }
        let stsd = bx(
            b"stsd",
            &[&[0u8; 4][..], &1u32.to_be_bytes(), &bx(&self.codec, &entry)].concat(),
        );
        self.trak(
            1,
            true,
            b"vide",
            &bx(b"vmhd", &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            stsd,
        )
    }

    fn audio_trak(&self) -> Vec<u8> {
        let mut entry = vec![0; 6];
        entry.extend_from_slice(&[0, 1]);
        entry.extend_from_slice(&[0; 8]);
        entry.extend_from_slice(&[0, 2, 0, 16, 0, 0, 0, 0]);
        entry.extend_from_slice(&(44_100u32 << 16).to_be_bytes());
        let stsd = bx(
            b"stsd",
            &[&[0u8; 4][..], &1u32.to_be_bytes(), &bx(b"mp4a", &entry)].concat(),
        );
        self.trak(2, false, b"soun", &bx(b"smhd", &[0; 8]), stsd)
    }

    fn trak(
        &self,
        id: u32,
        video: bool,
        handler: &[u8; 4],
        media_header: &[u8],
        stsd: Vec<u8>,
    ) -> Vec<u8> {
        let hdlr = bx(
            b"hdlr",
            &[&[0u8; 4][..], b"mhlr", handler, &[0; 12], b"Handler\0"].concat(),
        );
        // In QuickTime, minf has its own data handler box; its type must not be taken for the
        // track's.
        let dhlr = bx(
            b"hdlr",
            &[&[0u8; 4][..], b"dhlr", b"alis", &[0; 12], b"\0"].concat(),
        );
        let dref = bx(
            b"dref",
            &[
                &[0u8; 4][..],
                &1u32.to_be_bytes(),
                &bx(b"url ", &[0, 0, 0, 1]),
            ]
            .concat(),
        );
        let dinf = bx(b"dinf", &dref);
        let empty_table = [0u8; 8];
        let stbl = bx(
            b"stbl",
            &[
                stsd,
                bx(b"stts", &empty_table),
                bx(b"stsc", &empty_table),
                bx(b"stsz", &[0u8; 12]),
                bx(b"stco", &empty_table),
            ]
            .concat(),
        );
        let minf = bx(b"minf", &[media_header, &dhlr, &dinf, &stbl].concat());
        let mdia = bx(
            b"mdia",
            &[self.time_header(b"mdhd", false), hdlr, minf].concat(),
        );
        bx(b"trak", &[self.tkhd(id, video), mdia].concat())
    }
}

/// A box: 32-bit size, type, body.
pub fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = u32::try_from(8 + body.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes()
        .to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

fn matrix(rotate_90: bool) -> Vec<u8> {
    let one = 0x0001_0000u32;
    let minus_one = 0xffff_0000u32;
    let w = 0x4000_0000u32;
    let values = if rotate_90 {
        [0, one, 0, minus_one, 0, 0, 0, 0, w]
    } else {
        [one, 0, 0, 0, one, 0, 0, 0, w]
    };
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}
