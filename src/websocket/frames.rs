//! WebSocket frames after the upgrade (RFC 6455 section 5), as MQTT uses them: the
//! client's binary frames carry the MQTT byte stream — one MQTT packet may span
//! frames and a frame may hold several, so frame boundaries mean nothing above
//! this layer. Frame headers are parsed by `tungstenite`'s `FrameHeader` (opcode,
//! reserved bits, the three length encodings, the mask); what the frames may be is
//! checked here.
//!
//! [`Deframer`] is streaming: a data frame's payload is unmasked and handed on as
//! it arrives, so a large frame never has to be buffered whole (memory stays at
//! what the reads brought). Control frames (≤ 125 bytes) are taken whole: a ping
//! asks for a pong, a close ends the stream. Text frames, unmasked client frames,
//! reserved bits, stray continuations and malformed close frames are errors with
//! the close status the spec gives them. Pure: no I/O.

use bytes::{Bytes, BytesMut};
use std::io::Cursor;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// Close status codes the proxy sends.
pub mod status {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// Protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Data of a type the endpoint does not accept (a text frame: MQTT is binary).
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Data inconsistent with its type (a close reason that is not UTF-8).
    pub const INVALID_PAYLOAD: u16 = 1007;
}

/// A control frame the client sent that the connection must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Answer with a pong carrying this payload.
    Ping(Bytes),
    /// The client closes (its status code, if it gave one): answer and end.
    Close(Option<u16>),
}

/// Why the client's frames were refused (the connection is closed with the status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame the protocol forbids.
    #[error("WebSocket protocol error: {0}")]
    Protocol(&'static str),
    /// A text frame.
    #[error("WebSocket text frame (MQTT needs binary frames)")]
    Text,
    /// A close frame whose reason is not UTF-8.
    #[error("WebSocket close reason is not UTF-8")]
    Utf8,
}

impl FrameError {
    /// The close status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            FrameError::Protocol(_) => status::PROTOCOL_ERROR,
            FrameError::Text => status::UNSUPPORTED_DATA,
            FrameError::Utf8 => status::INVALID_PAYLOAD,
        }
    }
}

/// Where the client's frame stream stands.
#[derive(Debug, Default)]
pub struct Deframer {
    /// Payload bytes of the current data frame still to come.
    remaining: u64,
    /// Its mask and how far into it the next payload byte is.
    mask: [u8; 4],
    offset: usize,
    /// A fragmented binary message is open: continuations may follow.
    in_message: bool,
}

fn unmask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= mask[(offset + i) & 3];
    }
}

impl Deframer {
    /// Takes what it can from `raw`: data payload is unmasked and moved to the end
    /// of `out`; stops at the first control frame the connection must act on
    /// (returned), or when `raw` holds no whole header (or control frame) more.
    pub fn decode(&mut self, raw: &mut BytesMut, out: &mut BytesMut) -> Result<Option<Signal>, FrameError> {
        loop {
            if self.remaining > 0 {
                let n = raw.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                if n == 0 {
                    return Ok(None);
                }
                let mut chunk = raw.split_to(n);
                unmask(&mut chunk, self.mask, self.offset);
                self.offset = (self.offset + n) & 3;
                self.remaining -= n as u64;
                match out.is_empty() {
                    true => *out = chunk,
                    false => out.extend_from_slice(&chunk),
                }
                continue;
            }
            let mut cursor = Cursor::new(&raw[..]);
            let (header, len) = match FrameHeader::parse(&mut cursor) {
                Ok(Some(h)) => h,
                Ok(None) => return Ok(None),
                Err(_) => return Err(FrameError::Protocol("reserved opcode")),
            };
            let header_len = cursor.position() as usize;
            if header.rsv1 || header.rsv2 || header.rsv3 {
                return Err(FrameError::Protocol("reserved bits set (no extension was agreed)"));
            }
            let Some(mask) = header.mask else { return Err(FrameError::Protocol("client frame not masked")) };
            match header.opcode {
                OpCode::Data(Data::Text) => return Err(FrameError::Text),
                OpCode::Data(Data::Binary) if self.in_message => {
                    return Err(FrameError::Protocol("new message inside a fragmented one"))
                }
                OpCode::Data(Data::Continue) if !self.in_message => {
                    return Err(FrameError::Protocol("continuation without a message"))
                }
                OpCode::Data(_) => {
                    self.in_message = !header.is_final;
                    (self.remaining, self.mask, self.offset) = (len, mask, 0);
                    let _ = raw.split_to(header_len);
                }
                OpCode::Control(c) => {
                    if !header.is_final || len > 125 {
                        return Err(FrameError::Protocol("control frame fragmented or over 125 bytes"));
                    }
                    let whole = header_len + len as usize;
                    if raw.len() < whole {
                        return Ok(None);
                    }
                    let _ = raw.split_to(header_len);
                    let mut payload = raw.split_to(len as usize);
                    unmask(&mut payload, mask, 0);
                    match c {
                        Control::Ping => return Ok(Some(Signal::Ping(payload.freeze()))),
                        Control::Close => return close(&payload).map(|code| Some(Signal::Close(code))),
                        _ => {} // a pong: nothing to do
                    }
                }
            }
        }
    }
}

/// A close frame's status code (none when empty); its reason must be UTF-8.
fn close(payload: &[u8]) -> Result<Option<u16>, FrameError> {
    match payload {
        [] => Ok(None),
        [_] => Err(FrameError::Protocol("close frame of one byte")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            // Codes an endpoint may send (RFC 6455 section 7.4).
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !valid {
                return Err(FrameError::Protocol("close status code not allowed on the wire"));
            }
            std::str::from_utf8(reason).map_err(|_| FrameError::Utf8)?;
            Ok(Some(code))
        }
    }
}

/// Appends a server frame (final, unmasked) of `opcode` and `payload` to `out`.
fn frame(opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) {
    let header = FrameHeader { is_final: true, rsv1: false, rsv2: false, rsv3: false, opcode, mask: None };
    // Writing to a Vec cannot fail.
    let _ = header.format(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// A binary frame carrying `payload` (proxy → client MQTT bytes).
pub fn binary(payload: &[u8], out: &mut Vec<u8>) {
    frame(OpCode::Data(Data::Binary), payload, out);
}

/// The pong answering a ping.
pub fn pong(payload: &[u8], out: &mut Vec<u8>) {
    frame(OpCode::Control(Control::Pong), payload, out);
}

/// A close frame with `code` and no reason.
pub fn close_frame(code: u16, out: &mut Vec<u8>) {
    frame(OpCode::Control(Control::Close), &code.to_be_bytes(), out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: FIN as given, `opcode`, masked with `mask`.
    fn client(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut v = vec![(u8::from(fin) << 7) | opcode];
        match payload.len() {
            n @ 0..=125 => v.push(0x80 | n as u8),
            n @ 126..=65535 => {
                v.push(0x80 | 126);
                v.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                v.push(0x80 | 127);
                v.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        v.extend_from_slice(&mask);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        v
    }

    /// Feeds `wire` split at every point (and byte by byte); returns what came out.
    fn run(wire: &[u8]) -> (Vec<u8>, Vec<Signal>, Option<FrameError>) {
        let mut results = Vec::new();
        for split in (0..=wire.len()).chain(std::iter::once(usize::MAX)) {
            let mut d = Deframer::default();
            let (mut raw, mut out, mut data, mut controls) =
                (BytesMut::new(), BytesMut::new(), Vec::new(), Vec::new());
            let chunks: Vec<&[u8]> = match split {
                usize::MAX => wire.chunks(1).collect(),
                s => vec![&wire[..s], &wire[s..]],
            };
            let mut error = None;
            'feed: for c in chunks {
                raw.extend_from_slice(c);
                loop {
                    let r = d.decode(&mut raw, &mut out);
                    data.extend_from_slice(&out.split());
                    match r {
                        Ok(Some(ctl)) => controls.push(ctl),
                        Ok(None) => break,
                        Err(e) => {
                            error = Some(e);
                            break 'feed;
                        }
                    }
                }
            }
            results.push((data, controls, error));
        }
        // However the bytes arrive, the outcome is the same.
        for r in &results[1..] {
            assert_eq!(r, &results[0]);
        }
        results.swap_remove(0)
    }

    #[test]
    fn mqtt_bytes_across_frames_and_frames_holding_several_packets() {
        let connect = b"\x10\x10\0\x04MQTT\x04\x02\0\x3c\0\x04abcd";
        let pingreq = b"\xc0\x00";
        // One packet over three frames (a fragmented message), then two packets in one.
        let mut wire = client(false, 2, &connect[..5], [1, 2, 3, 4]);
        wire.extend(client(false, 0, &connect[5..9], [9, 9, 9, 9]));
        wire.extend(client(true, 0, &connect[9..], [0xde, 0xad, 0xbe, 0xef]));
        wire.extend(client(true, 2, &[&pingreq[..], &pingreq[..]].concat(), [7, 0, 7, 0]));
        let (data, controls, err) = run(&wire);
        assert_eq!(data, [&connect[..], pingreq, pingreq].concat());
        assert!(controls.is_empty() && err.is_none());
    }

    #[test]
    fn large_frames_and_interleaved_controls() {
        let big: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        let mut wire = client(false, 2, &big[..300], [1, 2, 3, 4]); // 16-bit length
        wire.extend(client(true, 9, b"hi", [5, 6, 7, 8])); // a ping inside the message
        wire.extend(client(true, 10, b"", [5, 6, 7, 8])); // a pong: ignored
        wire.extend(client(true, 0, &big[300..], [4, 3, 2, 1])); // 64-bit length
        wire.extend(client(true, 8, &[0x03, 0xe8, b'b', b'y', b'e'], [1, 1, 1, 1]));
        let mut d = Deframer::default();
        let (mut raw, mut out) = (BytesMut::from(&wire[..]), BytesMut::new());
        assert_eq!(d.decode(&mut raw, &mut out), Ok(Some(Signal::Ping(Bytes::from_static(b"hi")))));
        assert_eq!(d.decode(&mut raw, &mut out), Ok(Some(Signal::Close(Some(1000)))));
        assert_eq!(&out[..], &big[..]);
        assert!(raw.is_empty());
    }

    #[test]
    fn what_mqtt_over_websocket_refuses() {
        let m = [1, 2, 3, 4];
        let unmasked = [0x82, 0x02, 0xc0, 0x00];
        let cases: Vec<(Vec<u8>, FrameError)> = vec![
            (client(true, 1, b"{}", m), FrameError::Text),
            (unmasked.to_vec(), FrameError::Protocol("client frame not masked")),
            (client(true, 0, b"x", m), FrameError::Protocol("continuation without a message")),
            (
                [client(false, 2, b"x", m), client(true, 2, b"y", m)].concat(),
                FrameError::Protocol("new message inside a fragmented one"),
            ),
            (
                {
                    let mut f = client(true, 2, b"x", m);
                    f[0] |= 0x40;
                    f
                },
                FrameError::Protocol("reserved bits set (no extension was agreed)"),
            ),
            (client(true, 3, b"x", m), FrameError::Protocol("reserved opcode")),
            (client(false, 9, b"x", m), FrameError::Protocol("control frame fragmented or over 125 bytes")),
            (
                client(true, 9, &[0; 126], m),
                FrameError::Protocol("control frame fragmented or over 125 bytes"),
            ),
            (client(true, 8, &[3], m), FrameError::Protocol("close frame of one byte")),
            (
                client(true, 8, &1005u16.to_be_bytes(), m),
                FrameError::Protocol("close status code not allowed on the wire"),
            ),
            (client(true, 8, &[0x03, 0xe8, 0xff], m), FrameError::Utf8),
        ];
        for (wire, want) in cases {
            let (_, _, err) = run(&wire);
            assert_eq!(err.as_ref(), Some(&want), "{wire:02x?}");
        }
        assert_eq!(FrameError::Text.status(), 1003);
        assert_eq!(FrameError::Utf8.status(), 1007);
        assert_eq!(FrameError::Protocol("x").status(), 1002);
    }

    #[test]
    fn server_frames() {
        let mut out = Vec::new();
        binary(b"\x20\x02\0\0", &mut out);
        assert_eq!(out, [0x82, 0x04, 0x20, 0x02, 0, 0]);
        out.clear();
        binary(&[0; 300], &mut out);
        assert_eq!(&out[..4], &[0x82, 126, 0x01, 0x2c]);
        out.clear();
        close_frame(status::NORMAL, &mut out);
        assert_eq!(out, [0x88, 0x02, 0x03, 0xe8]);
        out.clear();
        pong(b"hi", &mut out);
        assert_eq!(out, [0x8a, 0x02, b'h', b'i']);
    }
}
