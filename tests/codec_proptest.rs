//! Property tests: for arbitrary valid packets of each version,
//! `decode(encode(p)) == p`, and for the frames our encoder produces,
//! `encode(decode(b)) == b`; both also through the streaming framer with the frame
//! split at an arbitrary point.

mod common;
use bytes::BytesMut;
use common::codec::encode;
use common::gen;
use mqtt_proxy::mqtt::{self, Protocol, MAX_PACKET_SIZE};
use proptest::prelude::*;

fn round_trip(p: &mqtt::Packet, protocol: Protocol, cut: usize) -> Result<(), TestCaseError> {
    let bytes = encode(p, protocol);
    let decoded = mqtt::decode_bytes(bytes.clone(), protocol, MAX_PACKET_SIZE);
    prop_assert_eq!(decoded.as_ref(), Ok(p));
    prop_assert_eq!(encode(decoded.as_ref().expect("checked"), protocol), bytes.clone());
    // Streaming: first part alone is incomplete, then the whole frame comes out.
    let cut = cut % bytes.len();
    let mut buf = BytesMut::from(&bytes[..cut]);
    prop_assert_eq!(mqtt::Frame::split(&mut buf, MAX_PACKET_SIZE), Ok(None));
    buf.extend_from_slice(&bytes[cut..]);
    let frame = mqtt::Frame::split(&mut buf, MAX_PACKET_SIZE).expect("frames").expect("complete");
    let again = mqtt::decode(&frame, protocol);
    prop_assert_eq!(again.as_ref(), Ok(p));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn v5_packets_round_trip(p in gen::packet(Protocol::V5), cut in any::<usize>()) {
        round_trip(&p, Protocol::V5, cut)?;
    }

    #[test]
    fn v311_packets_round_trip(p in gen::packet(Protocol::V311), cut in any::<usize>()) {
        round_trip(&p, Protocol::V311, cut)?;
    }

    #[test]
    fn v31_connect_round_trips(c in gen::connect(Protocol::V31), cut in any::<usize>()) {
        round_trip(&mqtt::Packet::Connect(Box::new(c)), Protocol::V311, cut)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_round_trip_when_valid(bytes in proptest::collection::vec(any::<u8>(), 0..64), v5 in any::<bool>()) {
        let protocol = if v5 { Protocol::V5 } else { Protocol::V311 };
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(frame)) = mqtt::Frame::split(&mut buf, MAX_PACKET_SIZE) {
            if let Ok(p) = mqtt::decode(&frame, protocol) {
                let again = encode(&p, protocol);
                let back = mqtt::decode_bytes(again, protocol, MAX_PACKET_SIZE);
                prop_assert_eq!(back.as_ref(), Ok(&p));
            }
        }
    }
}
