//! Framing: find where one MQTT packet ends, before parsing any of it.
//!
//! A frame is the fixed header byte, the remaining length and the body. The framer
//! reads only the first two to five bytes, checks the size limit *before* the body is
//! buffered (so a peer cannot make us hold a huge packet), and cuts complete frames out
//! of the connection buffer with `split_to(n).freeze()`: the frame shares the buffer's
//! memory, nothing is copied. It does not look inside the body; [`crate::mqtt::decode`]
//! does that on the exact-length slice.

use super::{varint, DecodeError};
use bytes::{Bytes, BytesMut};

/// Largest packet MQTT can express: 1 header byte + 4 length bytes + 268,435,455.
pub const MAX_PACKET_SIZE: usize = 1 + 4 + varint::MAX_VARINT as usize;

/// What the start of a buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCheck {
    /// A whole frame of `len` bytes, whose body starts at `header_len`.
    Complete {
        /// Fixed header length (2 to 5).
        header_len: usize,
        /// Whole frame length.
        len: usize,
    },
    /// At least `needed` more bytes are needed before a frame is complete.
    Incomplete {
        /// Bytes still missing (a lower bound while the header itself is partial).
        needed: usize,
    },
}

/// Looks at the start of `buf` without consuming it.
///
/// Errors on a reserved-length encoding or when the frame would exceed `max_size`
/// (the whole packet, fixed header included, as MQTT 5.0 Maximum Packet Size counts).
#[inline]
pub fn check(buf: &[u8], max_size: usize) -> Result<FrameCheck, DecodeError> {
    if buf.len() < 2 {
        return Ok(FrameCheck::Incomplete { needed: 2 - buf.len() });
    }
    let Some((remaining, n)) = varint::read(&buf[1..])? else {
        return Ok(FrameCheck::Incomplete { needed: 1 });
    };
    let header_len = 1 + n;
    let len = header_len + remaining as usize;
    if len > max_size {
        return Err(DecodeError::PacketTooLarge { size: len, max: max_size });
    }
    if buf.len() < len {
        return Ok(FrameCheck::Incomplete { needed: len - buf.len() });
    }
    Ok(FrameCheck::Complete { header_len, len })
}

/// One complete packet as received: the exact bytes, shareable and forwardable as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    raw: Bytes,
    header_len: u8,
}

impl Frame {
    /// Cuts the next complete frame off the front of `buf`, or returns `Ok(None)` and
    /// leaves `buf` untouched when it does not hold one yet.
    #[inline]
    pub fn split(buf: &mut BytesMut, max_size: usize) -> Result<Option<Frame>, DecodeError> {
        match check(buf, max_size)? {
            FrameCheck::Complete { header_len, len } => {
                Ok(Some(Frame { raw: buf.split_to(len).freeze(), header_len: header_len as u8 }))
            }
            FrameCheck::Incomplete { .. } => Ok(None),
        }
    }

    /// The frame starting at `off` in `bytes`, which the caller already framed (the
    /// relay cuts a run of complete frames first): one header read, no copy.
    #[inline]
    pub fn at(bytes: &Bytes, off: usize) -> Result<Frame, DecodeError> {
        match check(&bytes[off..], usize::MAX)? {
            FrameCheck::Complete { header_len, len } => {
                Ok(Frame { raw: bytes.slice(off..off + len), header_len: header_len as u8 })
            }
            FrameCheck::Incomplete { .. } => Err(DecodeError::Truncated),
        }
    }

    /// Wraps bytes that hold exactly one frame (e.g. a frame we encoded).
    pub fn from_bytes(raw: Bytes, max_size: usize) -> Result<Frame, DecodeError> {
        match check(&raw, max_size)? {
            FrameCheck::Complete { header_len, len } if len == raw.len() => {
                Ok(Frame { raw, header_len: header_len as u8 })
            }
            FrameCheck::Complete { .. } => Err(DecodeError::TrailingBytes),
            FrameCheck::Incomplete { .. } => Err(DecodeError::Truncated),
        }
    }

    /// The packet type (high nibble of the first byte).
    #[inline]
    pub fn packet_type(&self) -> u8 {
        self.raw[0] >> 4
    }

    /// The fixed header flags (low nibble of the first byte).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.raw[0] & 0x0F
    }

    /// The whole frame, to forward unchanged.
    #[inline]
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Consumes the frame into its bytes.
    #[inline]
    pub fn into_raw(self) -> Bytes {
        self.raw
    }

    /// Length of the fixed header (2 to 5 bytes).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.header_len)
    }

    /// The body (variable header + payload) as a slice of the frame.
    #[inline]
    pub fn body(&self) -> &[u8] {
        &self.raw[self.header_len()..]
    }

    /// Total size on the wire.
    #[inline]
    #[allow(clippy::len_without_is_empty)] // a frame is never empty
    pub fn len(&self) -> usize {
        self.raw.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pingreq_is_two_bytes() {
        assert_eq!(check(&[0xC0], 100), Ok(FrameCheck::Incomplete { needed: 1 }));
        assert_eq!(check(&[0xC0, 0x00], 100), Ok(FrameCheck::Complete { header_len: 2, len: 2 }));
    }

    #[test]
    fn size_limit_is_checked_before_the_body_arrives() {
        // PUBLISH announcing 1,000,000 bytes with only the header received.
        let header = [0x30, 0xC0, 0x84, 0x3D];
        assert_eq!(check(&header, 1024), Err(DecodeError::PacketTooLarge { size: 1_000_004, max: 1024 }));
        assert_eq!(check(&header, MAX_PACKET_SIZE), Ok(FrameCheck::Incomplete { needed: 1_000_000 }));
    }

    #[test]
    fn split_cuts_frames_and_keeps_the_rest() {
        let mut buf = BytesMut::from(&[0xC0, 0x00, 0xD0, 0x00, 0xE0][..]);
        let a = Frame::split(&mut buf, 100).unwrap().unwrap();
        assert_eq!(a.packet_type(), 12);
        let b = Frame::split(&mut buf, 100).unwrap().unwrap();
        assert_eq!(b.packet_type(), 13);
        assert_eq!(Frame::split(&mut buf, 100), Ok(None));
        assert_eq!(&buf[..], &[0xE0]);
    }

    #[test]
    fn malformed_lengths_are_errors() {
        assert_eq!(check(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], usize::MAX), Err(DecodeError::VarIntTooLong));
        assert_eq!(check(&[0x30, 0x80, 0x00], usize::MAX), Err(DecodeError::VarIntNotMinimal));
    }
}
