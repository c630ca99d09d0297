//! What an MP4 or QuickTime (MOV) video is — duration, dimensions, codec — read from its
//! container while it streams past, in bounded memory.
//!
//! Both formats are trees of boxes (`size`, `type`, body). [`ContainerScanner`] is fed the file
//! in chunks of any size and walks that tree as it goes: it descends into the boxes that hold
//! the movie's description (`moov` → `trak` → `mdia` → `minf` → `stbl`, and `mvex`), keeps the
//! first bytes of the few it reads (`mvhd`, `tkhd`, `mdhd`, `hdlr`, `stsd`, `mehd`; at most
//! [`LEAF_BYTES`] each) and skips everything else — the media data (`mdat`) and the sample
//! tables alike — without holding it. `moov` may come before or after `mdat`. Memory stays a
//! few kilobytes whatever the file's size; a malformed box ends the walk with what was read so
//! far (a file it cannot read yields no facts, not an error).

use serde::{Deserialize, Serialize};

/// Bytes kept of each box read: every field used lies within them.
pub const LEAF_BYTES: usize = 256;
/// Deepest nesting followed (`moov/trak/mdia/minf/stbl/stsd` is 6).
const MAX_DEPTH: usize = 8;
/// Tracks remembered; more are ignored.
const MAX_TRACKS: usize = 64;

/// What the container says about a video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoFacts {
    /// Duration in seconds.
    pub duration_secs: Option<f64>,
    /// Display width in pixels (rotation applied).
    pub width: Option<u32>,
    /// Display height in pixels (rotation applied).
    pub height: Option<u32>,
    /// The video track's sample entry type (its codec), e.g. `avc1` (H.264), `hvc1`/`hev1`
    /// (HEVC), `av01` (AV1), `vp09` (VP9), `apcn` (ProRes).
    pub codec: Option<String>,
    /// Whether there is an audio track.
    pub has_audio: bool,
}

impl VideoFacts {
    /// The codec's common name, when it is a well-known one.
    pub fn codec_name(&self) -> Option<&'static str> {
        codec_name(self.codec.as_deref()?)
    }
}

/// The common name of a sample entry type (`avc1` → `H.264`).
pub fn codec_name(fourcc: &str) -> Option<&'static str> {
    Some(match fourcc {
        "avc1" | "avc3" => "H.264",
        "hvc1" | "hev1" => "HEVC",
        "av01" => "AV1",
        "vp08" => "VP8",
        "vp09" => "VP9",
        "mp4v" => "MPEG-4 Part 2",
        "apcn" | "apch" | "apcs" | "apco" | "ap4h" | "ap4x" => "ProRes",
        "jpeg" | "mjpa" | "mjpb" => "Motion JPEG",
        _ => return None,
    })
}

#[derive(Debug, Clone, Default)]
struct Track {
    handler: Option<[u8; 4]>,
    tkhd_size: Option<(u32, u32)>,
    rotated: bool,
    timescale: Option<u32>,
    duration: Option<u64>,
    codec: Option<[u8; 4]>,
    entry_size: Option<(u32, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Descend,
    Keep,
    Skip,
}

#[derive(Debug)]
enum State {
    /// Reading a box header (8 bytes, 16 with a 64-bit size).
    Header,
    /// Keeping the start of a box's body, then skipping to `end`.
    Keep { kind: [u8; 4], end: u64 },
    /// Skipping to `end` (`None`: to the end of the file).
    Skip { end: Option<u64> },
    /// Malformed, or nothing more to learn.
    Done,
}

/// Walks an MP4/MOV container fed in chunks; see the module's documentation.
#[derive(Debug)]
pub struct ContainerScanner {
    pos: u64,
    state: State,
    header: Vec<u8>,
    leaf: Vec<u8>,
    /// Open boxes we descended into: type and end offset.
    stack: Vec<([u8; 4], u64)>,
    movie_timescale: Option<u32>,
    movie_duration: Option<u64>,
    fragment_duration: Option<u64>,
    tracks: Vec<Track>,
    current: Option<Track>,
    saw_moov: bool,
}

impl Default for ContainerScanner {
    fn default() -> Self {
        Self::new()
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn fourcc(b: &[u8], at: usize) -> Option<[u8; 4]> {
    b.get(at..at + 4)?.try_into().ok()
}

/// `(timescale, duration)` of an `mvhd` or `mdhd` body; a duration of all ones means unknown.
fn time_header(b: &[u8]) -> Option<(u32, Option<u64>)> {
    let (timescale, duration) = match b.first()? {
        0 => (be_u32(b, 12)?, u64::from(be_u32(b, 16)?)),
        1 => (be_u32(b, 20)?, be_u64(b, 24)?),
        _ => return None,
    };
    let unknown = duration == u64::MAX || duration == u64::from(u32::MAX);
    Some((timescale, (!unknown).then_some(duration)))
}

impl ContainerScanner {
    /// A scanner at the start of a file.
    pub fn new() -> Self {
        Self {
            pos: 0,
            state: State::Header,
            header: Vec::with_capacity(16),
            leaf: Vec::new(),
            stack: Vec::new(),
            movie_timescale: None,
            movie_duration: None,
            fragment_duration: None,
            tracks: Vec::new(),
            current: None,
            saw_moov: false,
        }
    }

    /// Feeds the next bytes of the file.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            match self.state {
                State::Done => return,
                State::Header => {
                    self.close_finished();
                    let want = if self.header.len() >= 8 && be_u32(&self.header, 0) == Some(1) {
                        16
                    } else {
                        8
                    };
                    let take = (want - self.header.len()).min(chunk.len());
                    self.header.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    self.pos += take as u64;
                    if self.header.len() == want
                        && !(want == 8 && be_u32(&self.header, 0) == Some(1))
                    {
                        self.start_box();
                    }
                }
                State::Keep { kind, end } => {
                    let left = end - self.pos;
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
                    let room = LEAF_BYTES.saturating_sub(self.leaf.len()).min(take);
                    self.leaf.extend_from_slice(&chunk[..room]);
                    chunk = &chunk[take..];
                    self.pos += take as u64;
                    if self.pos == end {
                        let leaf = std::mem::take(&mut self.leaf);
                        self.read_leaf(kind, &leaf);
                        self.state = State::Header;
                    }
                }
                State::Skip { end } => {
                    let Some(end) = end else {
                        // The last box runs to the end of the file: nothing more to read.
                        self.state = State::Done;
                        return;
                    };
                    let left = end - self.pos;
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
                    chunk = &chunk[take..];
                    self.pos += take as u64;
                    if self.pos == end {
                        self.state = State::Header;
                    }
                }
            }
        }
    }

    /// Pops the boxes that end where we are.
    fn close_finished(&mut self) {
        if !self.header.is_empty() {
            return;
        }
        while let Some(&(kind, end)) = self.stack.last() {
            if end > self.pos {
                break;
            }
            self.stack.pop();
            if &kind == b"trak"
                && let Some(track) = self.current.take()
                && self.tracks.len() < MAX_TRACKS
            {
                self.tracks.push(track);
            }
        }
    }

    fn start_box(&mut self) {
        let header = std::mem::take(&mut self.header);
        let header_len = header.len() as u64;
        let start = self.pos - header_len;
        let (Some(size32), Some(kind)) = (be_u32(&header, 0), fourcc(&header, 4)) else {
            self.state = State::Done;
            return;
        };
        let parent_end = self.stack.last().map(|&(_, end)| end);
        if parent_end.is_some_and(|parent_end| parent_end < self.pos) {
            // The header ran past the end of its parent.
            self.state = State::Done;
            return;
        }
        let end = match size32 {
            // To the end of the enclosing box, or of the file.
            0 => parent_end,
            1 => match be_u64(&header, 8) {
                Some(size) if size >= header_len => start.checked_add(size),
                _ => {
                    self.state = State::Done;
                    return;
                }
            },
            size if u64::from(size) >= header_len => Some(start + u64::from(size)),
            _ => {
                self.state = State::Done;
                return;
            }
        };
        let outside = end.is_some_and(|end| end < self.pos || parent_end.is_some_and(|p| end > p));
        if outside {
            self.state = State::Done;
            return;
        }
        let parent = self.stack.last().map(|&(kind, _)| kind);
        let action = match (&kind, parent.as_ref()) {
            (b"moov", None) => Action::Descend,
            (b"trak" | b"mvex", Some(b"moov")) => Action::Descend,
            (b"mdia", Some(b"trak")) | (b"minf", Some(b"mdia")) | (b"stbl", Some(b"minf")) => {
                Action::Descend
            }
            (b"mvhd", Some(b"moov"))
            | (b"mehd", Some(b"mvex"))
            | (b"tkhd", Some(b"trak"))
            | (b"mdhd" | b"hdlr", Some(b"mdia"))
            | (b"stsd", Some(b"stbl")) => Action::Keep,
            _ => Action::Skip,
        };
        match (action, end) {
            (Action::Descend, end) if self.stack.len() < MAX_DEPTH => {
                if &kind == b"moov" {
                    self.saw_moov = true;
                }
                if &kind == b"trak" {
                    self.current = Some(Track::default());
                }
                // A `moov` of size 0 runs to the end of the file.
                self.stack.push((kind, end.unwrap_or(u64::MAX)));
                self.state = State::Header;
            }
            (Action::Keep, Some(end)) => {
                self.leaf.clear();
                self.state = if end == self.pos {
                    self.read_leaf(kind, &[]);
                    State::Header
                } else {
                    State::Keep { kind, end }
                };
            }
            (_, end) => {
                self.state = match end {
                    Some(end) if end == self.pos => State::Header,
                    end => State::Skip { end },
                };
            }
        }
    }

    fn read_leaf(&mut self, kind: [u8; 4], b: &[u8]) {
        match &kind {
            b"mvhd" => {
                if let Some((timescale, duration)) = time_header(b) {
                    self.movie_timescale = Some(timescale);
                    self.movie_duration = duration;
                }
            }
            b"mehd" => {
                self.fragment_duration = match b.first() {
                    Some(0) => be_u32(b, 4).map(u64::from),
                    Some(1) => be_u64(b, 4),
                    _ => None,
                };
            }
            b"tkhd" => {
                let at = match b.first() {
                    Some(0) => 40,
                    Some(1) => 52,
                    _ => return,
                };
                let (Some(track), Some(a), Some(d), Some(w), Some(h)) = (
                    self.current.as_mut(),
                    be_u32(b, at),
                    be_u32(b, at + 16),
                    be_u32(b, at + 36),
                    be_u32(b, at + 40),
                ) else {
                    return;
                };
                // 16.16 fixed point; a matrix with zero a and d turns the picture a quarter.
                track.tkhd_size = Some((w >> 16, h >> 16));
                track.rotated = a == 0 && d == 0;
            }
            b"mdhd" => {
                if let (Some(track), Some((timescale, duration))) =
                    (self.current.as_mut(), time_header(b))
                {
                    track.timescale = Some(timescale);
                    track.duration = duration;
                }
            }
            b"hdlr" => {
                if let Some(track) = self.current.as_mut() {
                    track.handler = fourcc(b, 8);
                }
            }
            b"stsd" => {
                if let Some(track) = self.current.as_mut() {
                    track.codec = fourcc(b, 12);
                    track.entry_size = be_u16(b, 40)
                        .zip(be_u16(b, 42))
                        .map(|(w, h)| (u32::from(w), u32::from(h)));
                }
            }
            _ => {}
        }
    }

    /// What was learnt; `None` when no movie description (`moov`) was read.
    pub fn finish(mut self) -> Option<VideoFacts> {
        // A file cut short inside a track still reports it.
        if let Some(track) = self.current.take()
            && self.tracks.len() < MAX_TRACKS
        {
            self.tracks.push(track);
        }
        if !self.saw_moov {
            return None;
        }
        let video = self.tracks.iter().find(|t| t.handler == Some(*b"vide"));
        let has_audio = self.tracks.iter().any(|t| t.handler == Some(*b"soun"));
        let seconds = |duration: u64, timescale: u32| -> Option<f64> {
            (timescale > 0 && duration > 0).then(|| duration as f64 / f64::from(timescale))
        };
        let duration_secs = self
            .movie_timescale
            .and_then(|ts| seconds(self.movie_duration?, ts))
            .or_else(|| video.and_then(|t| seconds(t.duration?, t.timescale?)))
            .or_else(|| {
                self.movie_timescale
                    .and_then(|ts| seconds(self.fragment_duration?, ts))
            })
            .filter(|d| d.is_finite());
        let size = video.and_then(|t| {
            let (w, h) = t
                .tkhd_size
                .filter(|&(w, h)| w > 0 && h > 0)
                .or(t.entry_size.filter(|&(w, h)| w > 0 && h > 0))?;
            Some(if t.rotated { (h, w) } else { (w, h) })
        });
        let codec = video
            .and_then(|t| t.codec)
            .filter(|c| c.iter().all(|b| b.is_ascii_graphic() || *b == b' '))
            .and_then(|c| String::from_utf8(c.to_vec()).ok());
        Some(VideoFacts {
            duration_secs,
            width: size.map(|s| s.0),
            height: size.map(|s| s.1),
            codec,
            has_audio,
        })
    }
}

/// The facts of a whole file held in memory (tests, small files).
pub fn scan(bytes: &[u8]) -> Option<VideoFacts> {
    let mut scanner = ContainerScanner::new();
    scanner.feed(bytes);
    scanner.finish()
}

#[cfg(any(test, feature = "testing"))]
pub mod sample;

#[cfg(test)]
mod tests;
