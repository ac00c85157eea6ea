//! The wire pieces the gateway reads and writes: gRPC length-prefixed
//! messages, gRPC-Web's trailer frame and text (base64) mode, and
//! `grpc-timeout`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{BufMut, Bytes, BytesMut};

/// The flag of a gRPC-Web frame that carries trailers, not a message.
pub const TRAILER_FLAG: u8 = 0x80;

/// Why a body is not a sequence of gRPC messages.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("the frame at byte {at} is cut short: its header needs 5 bytes, {left} are left")]
    ShortHeader { at: usize, left: usize },
    #[error("the frame at byte {at} says {declared} bytes follow, but {left} do")]
    ShortMessage {
        at: usize,
        declared: usize,
        left: usize,
    },
    #[error(
        "the frame at byte {at} has flag {flag:#04x}; a request message has 0 (or 1 when compressed)"
    )]
    BadFlag { at: usize, flag: u8 },
    #[error("the body is not base64 (grpc-web-text): {0}")]
    Base64(String),
}

/// Checks that `body` is whole gRPC messages, and returns them.
pub fn split_messages(body: &[u8]) -> Result<Vec<(bool, &[u8])>, FrameError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let left = body.len() - at;
        if left < 5 {
            return Err(FrameError::ShortHeader { at, left });
        }
        let flag = body[at];
        if flag > 1 {
            return Err(FrameError::BadFlag { at, flag });
        }
        let declared =
            u32::from_be_bytes([body[at + 1], body[at + 2], body[at + 3], body[at + 4]]) as usize;
        if left - 5 < declared {
            return Err(FrameError::ShortMessage {
                at,
                declared,
                left: left - 5,
            });
        }
        out.push((flag == 1, &body[at + 5..at + 5 + declared]));
        at += 5 + declared;
    }
    Ok(out)
}

/// One uncompressed gRPC message frame.
pub fn frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(0);
    out.put_u32(message.len() as u32);
    out.put_slice(message);
    out.freeze()
}

/// The gRPC-Web trailer frame for these trailers.
pub fn trailer_frame(trailers: &http::HeaderMap) -> Bytes {
    let mut block = Vec::new();
    for (name, value) in trailers {
        block.extend_from_slice(name.as_str().as_bytes());
        block.extend_from_slice(b": ");
        block.extend_from_slice(value.as_bytes());
        block.extend_from_slice(b"\r\n");
    }
    let mut out = BytesMut::with_capacity(5 + block.len());
    out.put_u8(TRAILER_FLAG);
    out.put_u32(block.len() as u32);
    out.put_slice(&block);
    out.freeze()
}

/// Decodes a grpc-web-text body: base64, possibly several padded chunks
/// one after another.
pub fn decode_text(body: &[u8]) -> Result<Vec<u8>, FrameError> {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    // Each chunk ends at its padding (or at the end).
    let mut start = 0;
    let mut i = 0;
    while i < clean.len() {
        if clean[i] == b'=' {
            while i < clean.len() && clean[i] == b'=' {
                i += 1;
            }
            STANDARD
                .decode_vec(&clean[start..i], &mut out)
                .map_err(|e| FrameError::Base64(e.to_string()))?;
            start = i;
        } else {
            i += 1;
        }
    }
    if start < clean.len() {
        STANDARD
            .decode_vec(&clean[start..], &mut out)
            .map_err(|e| FrameError::Base64(e.to_string()))?;
    }
    Ok(out)
}

/// Encodes a chunk for grpc-web-text.
pub fn encode_text(chunk: &[u8]) -> Bytes {
    Bytes::from(STANDARD.encode(chunk))
}

/// Reads `grpc-timeout` (`100m`, `5S`, …); `None` when absent or not valid.
pub fn parse_timeout(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Writes a `grpc-timeout` value (milliseconds, at least 1).
pub fn format_timeout(d: Duration) -> String {
    format!("{}m", d.as_millis().clamp(1, 99_999_999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_and_bad_frames_are_named() {
        let mut body = frame(b"abc").to_vec();
        body.extend_from_slice(&frame(b""));
        assert_eq!(
            split_messages(&body).unwrap(),
            vec![(false, &b"abc"[..]), (false, &b""[..])]
        );
        assert!(split_messages(b"").unwrap().is_empty());
        assert_eq!(
            split_messages(&[0, 0, 0]).unwrap_err(),
            FrameError::ShortHeader { at: 0, left: 3 }
        );
        assert_eq!(
            split_messages(&[0, 0, 0, 0, 9, 1]).unwrap_err(),
            FrameError::ShortMessage {
                at: 0,
                declared: 9,
                left: 1
            }
        );
        assert_eq!(
            split_messages(&[0x80, 0, 0, 0, 0]).unwrap_err(),
            FrameError::BadFlag { at: 0, flag: 0x80 }
        );
    }

    #[test]
    fn trailers_make_a_frame() {
        let mut t = http::HeaderMap::new();
        t.insert("grpc-status", "0".parse().unwrap());
        let f = trailer_frame(&t);
        assert_eq!(f[0], TRAILER_FLAG);
        assert_eq!(&f[5..], b"grpc-status: 0\r\n");
        assert_eq!(u32::from_be_bytes([f[1], f[2], f[3], f[4]]), 16);
    }

    #[test]
    fn text_mode_decodes_concatenated_chunks() {
        let mut text = STANDARD.encode(b"ab").into_bytes();
        text.extend_from_slice(STANDARD.encode(b"cde").as_bytes());
        assert_eq!(decode_text(&text).unwrap(), b"abcde");
        assert!(decode_text(b"!!!").is_err());
        assert_eq!(&encode_text(b"ab")[..], b"YWI=");
    }

    #[test]
    fn timeouts_parse() {
        assert_eq!(parse_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("5x"), None);
        assert_eq!(parse_timeout("m"), None);
        assert_eq!(parse_timeout("123456789m"), None);
        assert_eq!(format_timeout(Duration::from_micros(10)), "1m");
        assert_eq!(format_timeout(Duration::from_secs(2)), "2000m");
    }
}
