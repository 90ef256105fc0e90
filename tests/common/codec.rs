//! Helpers shared by the codec test files: every-prefix checking and round trips.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use mqtt_proxy::mqtt::{self, FrameCheck, Packet, Protocol, MAX_PACKET_SIZE};

/// Asserts the linkerd-style every-prefix property on one frame and returns its packet:
/// each shorter prefix is incomplete, the exact frame decodes, and the same frame
/// followed by extra bytes decodes to the same packet and leaves the extra bytes.
pub fn check_all_prefixes(bytes: &[u8], protocol: Protocol) -> Packet {
    for cut in 0..bytes.len() {
        match mqtt::frame::check(&bytes[..cut], MAX_PACKET_SIZE) {
            Ok(FrameCheck::Incomplete { needed }) => {
                assert!(needed >= 1 && cut + needed <= bytes.len())
            }
            other => panic!("prefix of {cut}/{} bytes gave {other:?}", bytes.len()),
        }
        let mut buf = BytesMut::from(&bytes[..cut]);
        assert_eq!(mqtt::Frame::split(&mut buf, MAX_PACKET_SIZE), Ok(None));
        assert_eq!(buf.len(), cut, "an incomplete frame must not consume input");
    }
    let packet = mqtt::decode_bytes(Bytes::copy_from_slice(bytes), protocol, MAX_PACKET_SIZE)
        .unwrap_or_else(|e| panic!("vector does not decode: {e:?}"));
    let mut longer = BytesMut::from(bytes);
    longer.extend_from_slice(&[0xC0, 0x00, 0x30]);
    let frame = mqtt::Frame::split(&mut longer, MAX_PACKET_SIZE).expect("frames").expect("complete");
    assert_eq!(frame.raw().as_ref(), bytes);
    assert_eq!(mqtt::decode(&frame, protocol).as_ref(), Ok(&packet));
    assert_eq!(&longer[..], &[0xC0, 0x00, 0x30]);
    packet
}

/// Encodes a packet and returns the bytes.
pub fn encode(p: &Packet, protocol: Protocol) -> Bytes {
    p.to_bytes(protocol).unwrap_or_else(|e| panic!("encode {p:?}: {e}"))
}

/// decode(bytes) must equal `expected`, pass the prefix check, and re-encode to `bytes`.
pub fn vector(bytes: &[u8], protocol: Protocol, expected: &Packet) {
    let got = check_all_prefixes(bytes, protocol);
    assert_eq!(&got, expected);
    assert_eq!(encode(&got, protocol).as_ref(), bytes, "re-encoding {expected:?}");
}

/// A string for tests.
pub fn s(x: &'static str) -> mqtt::MqttStr {
    mqtt::MqttStr::from_static(x)
}

/// Decodes `bytes` expecting an error.
pub fn decode_err(bytes: &[u8], protocol: Protocol) -> mqtt::DecodeError {
    match mqtt::decode_bytes(Bytes::copy_from_slice(bytes), protocol, MAX_PACKET_SIZE) {
        Ok(p) => panic!("expected an error, decoded {p:?}"),
        Err(e) => e,
    }
}
