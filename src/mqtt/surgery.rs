//! Byte-level surgery on frames the proxy forwards: reading and replacing a packet
//! identifier in place, and reading a CONNECT's protocol level before the CONNECT
//! is known to be well formed. Everything else about a frame stays as it was (no
//! decode, no re-encode); the packet-id rewrite copies the frame once.
//!
//! Not here: rewriting topics or properties (`PublishView::with_topic`, the packet
//! encoders).

use super::{kind, Frame};
use bytes::{Bytes, BytesMut};

/// A PINGREQ (the proxy keeps idle broker links alive with it).
pub const PINGREQ: &[u8] = &[0xC0, 0x00];
/// A PINGRESP (the proxy answers a multi-broker client's PINGREQ with it).
pub const PINGRESP: &[u8] = &[0xD0, 0x00];

impl Frame {
    /// Where the packet identifier starts in the frame, for packets that carry one:
    /// PUBLISH at QoS 1/2 (after the topic), PUBACK to UNSUBACK (first in the body).
    fn packet_id_offset(&self) -> Option<usize> {
        let h = self.header_len();
        let at = match self.packet_type() {
            kind::PUBLISH if (self.flags() >> 1) & 0x03 != 0 => {
                let b = self.body();
                h + 2 + usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
            }
            kind::PUBACK..=kind::UNSUBACK => h,
            _ => return None,
        };
        (at + 2 <= self.len()).then_some(at)
    }

    /// The packet identifier, for packets that carry one.
    pub fn packet_id(&self) -> Option<u16> {
        let at = self.packet_id_offset()?;
        let raw = self.raw();
        Some(u16::from_be_bytes([raw[at], raw[at + 1]]))
    }

    /// The same frame with packet identifier `id` (the frame itself when it already
    /// has it; `None` for packets without one).
    pub fn with_packet_id(&self, id: u16) -> Option<Bytes> {
        let at = self.packet_id_offset()?;
        if self.packet_id() == Some(id) {
            return Some(self.raw().clone());
        }
        let mut b = BytesMut::from(&self.raw()[..]);
        b[at..at + 2].copy_from_slice(&id.to_be_bytes());
        Some(b.freeze())
    }

    /// The protocol level byte of a CONNECT (4: 3.1.1, 5: 5.0), read without
    /// decoding the rest: a malformed CONNECT is answered in its client's version.
    pub fn connect_level(&self) -> Option<u8> {
        if self.packet_type() != kind::CONNECT {
            return None;
        }
        let body = self.body();
        let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
        body.get(2 + name_len).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(b: &[u8]) -> Frame {
        Frame::from_bytes(Bytes::copy_from_slice(b), usize::MAX).expect("one frame")
    }

    #[test]
    fn publish_ids_sit_after_the_topic() {
        // PUBLISH QoS 1 (0x32), remaining 7: topic "a/b" (00 03 'a' '/' 'b'), id 00 2A, payload 'x'.
        let f = frame(&[0x32, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x2A, b'x']);
        assert_eq!(f.packet_id(), Some(42));
        let g = f.with_packet_id(0x0102).expect("has an id");
        assert_eq!(&g[..], &[0x32, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x01, 0x02, b'x']);
        // QoS 0 has none.
        let q0 = frame(&[0x30, 0x04, 0x00, 0x01, b'a', b'x']);
        assert_eq!((q0.packet_id(), q0.with_packet_id(1)), (None, None));
    }

    #[test]
    fn ack_ids_are_patched_after_any_header_length() {
        let short = frame(&[0x40, 2, 0, 1]);
        assert_eq!(&short.with_packet_id(0x0203).expect("id")[..], &[0x40, 2, 2, 3]);
        // A 5.0 PUBACK with a long reason string: two length bytes.
        let mut long = vec![0x40, 0x84, 0x01, 0, 1, 0x10];
        long.extend(std::iter::repeat_n(0u8, 129));
        let f = frame(&long);
        assert_eq!(f.packet_id(), Some(1));
        let p = f.with_packet_id(7).expect("id");
        assert_eq!(&p[3..5], &[0, 7]);
        assert_eq!(p[5], 0x10, "the reason code is untouched");
    }

    #[test]
    fn subscribe_family_and_others() {
        // SUBSCRIBE 0x82, id 00 05, filter "t" QoS 1.
        let s = frame(&[0x82, 0x06, 0x00, 0x05, 0x00, 0x01, b't', 0x01]);
        assert_eq!(s.packet_id(), Some(5));
        // SUBACK, UNSUBACK: first in the body too.
        assert_eq!(frame(&[0x90, 0x03, 0x00, 0x09, 0x01]).packet_id(), Some(9));
        assert_eq!(frame(&[0xB0, 0x02, 0x00, 0x0B]).packet_id(), Some(11));
        // PINGREQ, DISCONNECT: none.
        assert_eq!(frame(PINGREQ).packet_id(), None);
        assert_eq!(frame(&[0xE0, 0x00]).packet_id(), None);
        // A body too short to hold an id is "none", never a panic.
        assert_eq!(frame(&[0x40, 0x01, 0x00]).packet_id(), None);
        assert_eq!(frame(&[0x32, 0x03, 0x00, 0x05, b'a']).packet_id(), None);
    }

    #[test]
    fn connect_level_is_read_without_decoding() {
        // CONNECT: "MQTT" level 5, then garbage the decoder would refuse.
        let c = frame(&[0x10, 0x08, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0xFF]);
        assert_eq!(c.connect_level(), Some(5));
        assert_eq!(frame(&[0x10, 0x02, 0x00, 0x09]).connect_level(), None);
        assert_eq!(frame(PINGREQ).connect_level(), None);
    }
}
