//! The media transfer benchmark; `scripts/bench-media.sh` (`just bench-media`) runs it against
//! a release `multivio serve` whose process id it passes, and docs/benchmarks.md keeps a run.
//!
//! It measures the server's resident memory (`VmRSS`, sampled every 20 ms) while files move,
//! against its idle memory in the same run:
//!
//! 1. one upload of a `file_mib` video, streamed;
//! 2. one fast download of it, the reference;
//! 3. `readers` concurrent slow downloads of it, each read at `read_kib_per_sec`;
//! 4. an upload of `huge_gib` GiB of unknown length (chunked), refused at the upload cap: how
//!    much was sent before the answer, and the memory meanwhile;
//! 5. an upload announcing `huge_gib` GiB (`Content-Length`), refused before it is read.
//!
//! HTTP/1.1 is written by hand on plain sockets so that the client decides the pace of every
//! byte (a client library would buffer ahead). Prints a Markdown table.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The Firebase project of local runs (`multivio dev-token`).
const PROJECT: &str = multivio::LOCAL_PROJECT;
const MIB: u64 = 1024 * 1024;
const CHUNK: usize = 64 * 1024;

#[derive(Parser)]
struct Cli {
    /// The API's address (`host:port`).
    #[arg(long)]
    addr: String,
    /// The server's process id, for its memory.
    #[arg(long)]
    pid: u32,
    #[arg(long, default_value_t = 100)]
    file_mib: u64,
    #[arg(long, default_value_t = 32)]
    readers: usize,
    #[arg(long, default_value_t = 4096)]
    read_kib_per_sec: u64,
    #[arg(long, default_value_t = 2)]
    huge_gib: u64,
}

/// The server's resident memory, sampled; `peak` since the last reset.
struct Memory {
    pid: u32,
    peak: AtomicU64,
    stop: AtomicBool,
}

impl Memory {
    fn rss(pid: u32) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse::<u64>().ok())
            })
            .map_or(0, |kib| kib * 1024)
    }

    fn start(pid: u32) -> Arc<Memory> {
        let memory = Arc::new(Memory {
            pid,
            peak: AtomicU64::new(Self::rss(pid)),
            stop: AtomicBool::new(false),
        });
        let sampler = memory.clone();
        std::thread::spawn(move || {
            while !sampler.stop.load(Ordering::Relaxed) {
                sampler
                    .peak
                    .fetch_max(Self::rss(sampler.pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        memory
    }

    /// The peak since the last call, and starts a new one from now.
    fn take_peak(&self) -> u64 {
        self.peak.swap(Self::rss(self.pid), Ordering::Relaxed)
    }
}

fn token(uid: &str) -> anyhow::Result<String> {
    Ok(multivio_http::auth::mint_emulator_token(
        PROJECT,
        uid,
        Some(&format!("{uid}@example.com")),
        true,
        Duration::from_secs(3600),
        chrono::Utc::now(),
    ))
}

/// A response's status line and headers, read up to the blank line; the rest stays unread.
async fn read_head(stream: &mut TcpStream) -> anyhow::Result<(u16, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            bail!("connection closed before the answer's head");
        }
        head.push(byte[0]);
        if head.len() > 64 * 1024 {
            bail!("answer head too long");
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status")?;
    Ok((status, text))
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// The first bytes of an MP4: `ftyp`, then a `free` box; zeros follow.
fn video_head() -> Vec<u8> {
    b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom\0\0\0\x08free".to_vec()
}

const BOUNDARY: &str = "multivio-bench";

fn part_head() -> String {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.mp4\"\r\n\
         Content-Type: video/mp4\r\n\r\n"
    )
}

fn part_tail() -> String {
    format!("\r\n--{BOUNDARY}--\r\n")
}

fn request_head(addr: &str, token: &str, framing: &str) -> String {
    format!(
        "POST /v1/media HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}\r\n\r\n"
    )
}

/// Uploads a video of `size` bytes with its length announced; returns its key.
async fn upload(addr: &str, token: &str, size: u64) -> anyhow::Result<String> {
    let (head, tail) = (part_head(), part_tail());
    let length = head.len() as u64 + size + tail.len() as u64;
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(request_head(addr, token, &format!("Content-Length: {length}")).as_bytes())
        .await?;
    stream.write_all(head.as_bytes()).await?;
    let mut first = video_head();
    first.resize(CHUNK, 0);
    let zeros = vec![0u8; CHUNK];
    let mut sent = 0u64;
    while sent < size {
        let chunk = if sent == 0 { &first } else { &zeros };
        let n = chunk.len().min(usize::try_from(size - sent)?);
        stream.write_all(&chunk[..n]).await?;
        sent += n as u64;
    }
    stream.write_all(tail.as_bytes()).await?;
    let (status, head) = read_head(&mut stream).await?;
    let length: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    let answer: serde_json::Value = serde_json::from_slice(&body)?;
    if status != 201 {
        bail!("upload answered {status}: {answer}");
    }
    answer["filename"]
        .as_str()
        .map(str::to_owned)
        .context("no filename in the answer")
}

/// Downloads `key` whole, at most `rate` bytes a second (`None`: as fast as possible), from
/// the loopback address `from` (the server caps downloads per client address: each reader is
/// a client of its own); returns the bytes received.
async fn download(
    addr: &str,
    key: &str,
    rate: Option<u64>,
    from: std::net::Ipv4Addr,
) -> anyhow::Result<u64> {
    // A small receive window, as a slow reader's network gives: the kernel does not take the
    // file off the server's hands ahead of the reader.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(64 * 1024)?;
    socket.bind((from, 0).into())?;
    let mut stream = socket.connect(addr.parse()?).await?;
    stream
        .write_all(format!("GET /media/{key} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let (status, head) = read_head(&mut stream).await?;
    if status != 200 {
        bail!("download answered {status}");
    }
    let length: u64 = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .context("no content-length")?;
    let start = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    let mut received = 0u64;
    while received < length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            bail!("the download ended after {received} of {length} bytes");
        }
        received += n as u64;
        if let Some(rate) = rate {
            let due = Duration::from_secs_f64(received as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    Ok(received)
}

/// Sends a chunked upload of up to `size` bytes until the server answers; returns the status
/// and the bytes sent by then.
async fn huge_chunked(addr: &str, token: &str, size: u64) -> anyhow::Result<(u16, u64)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(request_head(addr, token, "Transfer-Encoding: chunked").as_bytes())
        .await?;
    let (mut reader, mut writer) = stream.into_split();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let sender = tokio::spawn(async move {
        let head = part_head();
        let mut first = head.into_bytes();
        first.extend_from_slice(&video_head());
        first.resize(CHUNK, 0);
        let zeros = vec![0u8; CHUNK];
        let mut chunk: &[u8] = &first;
        while counter.load(Ordering::Relaxed) < size {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
            if writer.write_all(&framed).await.is_err() {
                return;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            chunk = &zeros;
        }
    });
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if reader.read(&mut byte).await? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let at_answer = sent.load(Ordering::Relaxed);
    sender.abort();
    let text = String::from_utf8_lossy(&head);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, at_answer))
}

/// Announces `size` bytes and sends none; returns the status and how long the answer took.
async fn huge_announced(addr: &str, token: &str, size: u64) -> anyhow::Result<(u16, Duration)> {
    let mut stream = TcpStream::connect(addr).await?;
    let start = Instant::now();
    stream
        .write_all(request_head(addr, token, &format!("Content-Length: {size}")).as_bytes())
        .await?;
    let (status, _) = read_head(&mut stream).await?;
    Ok((status, start.elapsed()))
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / MIB as f64)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let addr = cli.addr.as_str();
    let token = token("bench-media")?;
    let memory = Memory::start(cli.pid);
    let size = cli.file_mib * MIB;
    let mut rows = Vec::new();

    // Sign in (creates the user), then settle.
    upload(addr, &token, 64 * 1024).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    memory.take_peak();
    let idle = Memory::rss(cli.pid);
    rows.push(format!(
        "| idle, after one small upload | | {} | |",
        mib(idle)
    ));

    let start = Instant::now();
    let key = upload(addr, &token, size).await?;
    let took = start.elapsed();
    let peak = memory.take_peak();
    rows.push(format!(
        "| upload of {} MiB ({:.0} MiB/s) | | {} | {} |",
        cli.file_mib,
        size as f64 / MIB as f64 / took.as_secs_f64(),
        mib(peak),
        mib(peak.saturating_sub(idle))
    ));

    let start = Instant::now();
    let got = download(addr, &key, None, std::net::Ipv4Addr::LOCALHOST).await?;
    let took = start.elapsed();
    let peak = memory.take_peak();
    if got != size {
        bail!("the fast download got {got} of {size} bytes");
    }
    rows.push(format!(
        "| one fast download ({:.0} MiB/s) | | {} | {} |",
        size as f64 / MIB as f64 / took.as_secs_f64(),
        mib(peak),
        mib(peak.saturating_sub(idle))
    ));

    let rate = cli.read_kib_per_sec * 1024;
    let start = Instant::now();
    let readers: Vec<_> = (0..cli.readers)
        .map(|i| {
            let (addr, key) = (addr.to_owned(), key.clone());
            // 127.0.1.x: each reader its own client address.
            let from = std::net::Ipv4Addr::new(127, 0, 1, u8::try_from(i % 250 + 1).unwrap_or(1));
            tokio::spawn(async move { download(&addr, &key, Some(rate), from).await })
        })
        .collect();
    let mut complete = 0;
    for reader in readers {
        if reader.await?? == size {
            complete += 1;
        }
    }
    let took = start.elapsed();
    let peak = memory.take_peak();
    if complete != cli.readers {
        bail!("{complete} of {} slow downloads were complete", cli.readers);
    }
    let per_reader = peak.saturating_sub(idle) / cli.readers as u64;
    rows.push(format!(
        "| {} slow downloads at {} KiB/s each ({:.0} s; held whole they would take {} MiB) | {} MiB sent | {} | {} ({} KiB per download) |",
        cli.readers,
        cli.read_kib_per_sec,
        took.as_secs_f64(),
        cli.file_mib * cli.readers as u64,
        cli.file_mib * cli.readers as u64,
        mib(peak),
        mib(peak.saturating_sub(idle)),
        per_reader / 1024
    ));

    let huge = cli.huge_gib * 1024 * MIB;
    let (status, sent) = huge_chunked(addr, &token, huge).await?;
    let peak = memory.take_peak();
    rows.push(format!(
        "| {} GiB upload of unknown length (chunked) | answered {status} after {} MiB sent | {} | {} |",
        cli.huge_gib,
        mib(sent),
        mib(peak),
        mib(peak.saturating_sub(idle))
    ));

    let (status, took) = huge_announced(addr, &token, huge).await?;
    let peak = memory.take_peak();
    rows.push(format!(
        "| {} GiB upload announced by `Content-Length` | answered {status} in {:.1} ms, 0 bytes read | {} | {} |",
        cli.huge_gib,
        took.as_secs_f64() * 1000.0,
        mib(peak),
        mib(peak.saturating_sub(idle))
    ));
    memory.stop.store(true, Ordering::Relaxed);

    println!("| phase | transfer | server RSS peak (MiB) | over idle (MiB) |");
    println!("|---|---|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}
