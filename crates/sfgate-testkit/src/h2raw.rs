//! A raw HTTP/2 client for tests of the front door: frames written and read by hand, so that a
//! test can do what no well-behaved client library would (open more streams than the server
//! allows, leave a body unfinished, ignore pings).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (RFC 9113 §6).
pub mod frame_type {
    /// DATA
    pub const DATA: u8 = 0x0;
    /// HEADERS
    pub const HEADERS: u8 = 0x1;
    /// RST_STREAM
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS
    pub const SETTINGS: u8 = 0x4;
    /// PING
    pub const PING: u8 = 0x6;
    /// GOAWAY
    pub const GOAWAY: u8 = 0x7;
}

/// `SETTINGS_MAX_CONCURRENT_STREAMS`.
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// The RST_STREAM error code for a stream the server did not take.
pub const REFUSED_STREAM: u32 = 0x7;

const FLAG_END_STREAM: u8 = 0x1;
const FLAG_ACK: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;

/// One frame as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    /// The frame type.
    pub kind: u8,
    /// Its flags.
    pub flags: u8,
    /// Its stream.
    pub stream: u32,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// The error code of a RST_STREAM or GOAWAY frame.
    pub fn error_code(&self) -> Option<u32> {
        let at = match self.kind {
            frame_type::RST_STREAM => 0,
            frame_type::GOAWAY => 4,
            _ => return None,
        };
        let bytes = self.payload.get(at..at + 4)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    }

    /// The settings of a SETTINGS frame, as (identifier, value).
    pub fn settings(&self) -> Vec<(u16, u32)> {
        self.payload
            .chunks_exact(6)
            .map(|setting| {
                (
                    u16::from_be_bytes([setting[0], setting[1]]),
                    u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]),
                )
            })
            .collect()
    }
}

/// A connection speaking raw frames.
#[derive(Debug)]
pub struct RawH2 {
    stream: TcpStream,
}

/// What reading the next frame found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A frame.
    Frame(RawFrame),
    /// The server closed the connection (or reset it).
    Closed,
    /// Nothing arrived in time.
    TimedOut,
}

impl RawH2 {
    /// Opens a TCP connection and sends nothing.
    pub async fn connect(address: std::net::SocketAddr) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self { stream }
    }

    /// Sends the preface and empty SETTINGS, then reads until the server's SETTINGS, which it
    /// acknowledges and returns. `None` when the server closed the connection instead.
    pub async fn handshake(&mut self) -> Option<RawFrame> {
        self.write(PREFACE).await.ok()?;
        self.send_frame(frame_type::SETTINGS, 0, 0, &[])
            .await
            .ok()?;
        loop {
            match self.read_frame(Duration::from_secs(5)).await {
                Read::Frame(frame)
                    if frame.kind == frame_type::SETTINGS && frame.flags & FLAG_ACK == 0 =>
                {
                    self.send_frame(frame_type::SETTINGS, FLAG_ACK, 0, &[])
                        .await
                        .ok()?;
                    return Some(frame);
                }
                Read::Frame(_) => {}
                Read::Closed | Read::TimedOut => return None,
            }
        }
    }

    /// Opens `stream` with a POST to `path` carrying `headers`; the body stays open unless
    /// `end_stream`.
    pub async fn send_headers(
        &mut self,
        stream: u32,
        path: &str,
        headers: &[(&str, &str)],
        end_stream: bool,
    ) -> std::io::Result<()> {
        let mut block = Vec::new();
        for (name, value) in [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]
        .iter()
        .chain(headers)
        {
            literal_header(&mut block, name, value);
        }
        let flags = FLAG_END_HEADERS | if end_stream { FLAG_END_STREAM } else { 0 };
        self.send_frame(frame_type::HEADERS, flags, stream, &block)
            .await
    }

    /// Sends DATA on `stream`.
    pub async fn send_data(
        &mut self,
        stream: u32,
        data: &[u8],
        end_stream: bool,
    ) -> std::io::Result<()> {
        let flags = if end_stream { FLAG_END_STREAM } else { 0 };
        self.send_frame(frame_type::DATA, flags, stream, data).await
    }

    /// Sends one frame.
    pub async fn send_frame(
        &mut self,
        kind: u8,
        flags: u8,
        stream: u32,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let length = u32::try_from(payload.len())
            .expect("a small frame")
            .to_be_bytes();
        let mut frame = Vec::with_capacity(9 + payload.len());
        frame.extend_from_slice(&length[1..]);
        frame.push(kind);
        frame.push(flags);
        frame.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        frame.extend_from_slice(payload);
        self.write(&frame).await
    }

    /// Sends bytes as they are, framed or not.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write(bytes).await
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads the next frame within `wait`.
    pub async fn read_frame(&mut self, wait: Duration) -> Read {
        let mut header = [0_u8; 9];
        match tokio::time::timeout(wait, self.stream.read_exact(&mut header)).await {
            Err(_) => return Read::TimedOut,
            Ok(Err(_)) => return Read::Closed,
            Ok(Ok(_)) => {}
        }
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0_u8; length];
        if self.stream.read_exact(&mut payload).await.is_err() {
            return Read::Closed;
        }
        Read::Frame(RawFrame {
            kind: header[3],
            flags: header[4],
            stream: u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff,
            payload,
        })
    }

    /// Reads frames for up to `wait`, until `wanted` matches one (returned) or the connection
    /// closes. PINGs are answered unless `answer_pings` is false.
    pub async fn read_until(
        &mut self,
        wait: Duration,
        answer_pings: bool,
        wanted: impl Fn(&RawFrame) -> bool,
    ) -> Read {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read_frame(left).await {
                Read::Frame(frame) if wanted(&frame) => return Read::Frame(frame),
                Read::Frame(frame) => {
                    if answer_pings && frame.kind == frame_type::PING && frame.flags & FLAG_ACK == 0
                    {
                        let _ = self
                            .send_frame(frame_type::PING, FLAG_ACK, 0, &frame.payload)
                            .await;
                    }
                }
                other => return other,
            }
        }
    }
}

/// An HPACK "literal header field without indexing — new name" (RFC 7541 §6.2.2), no Huffman.
fn literal_header(block: &mut Vec<u8>, name: &str, value: &str) {
    block.push(0x00);
    hpack_string(block, name.as_bytes());
    hpack_string(block, value.as_bytes());
}

fn hpack_string(block: &mut Vec<u8>, bytes: &[u8]) {
    // A 7-bit prefix integer (RFC 7541 §5.1).
    let mut length = bytes.len();
    if length < 127 {
        block.push(u8::try_from(length).expect("below 127"));
    } else {
        block.push(127);
        length -= 127;
        while length >= 128 {
            block.push(u8::try_from(length % 128).expect("below 128") | 0x80);
            length /= 128;
        }
        block.push(u8::try_from(length).expect("below 128"));
    }
    block.extend_from_slice(bytes);
}
