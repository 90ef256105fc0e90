//! Fuzz target: frames and decodes arbitrary bytes as MQTT 3.1.1 and 5.0 and, for
//! every packet that decodes, asserts encode → decode gives the same packet and that
//! re-encoding is stable.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_proxy::mqtt::{self, Protocol};

fuzz_target!(|data: &[u8]| {
    for protocol in [Protocol::V311, Protocol::V5] {
        let mut buf = BytesMut::from(data);
        while let Ok(Some(frame)) = mqtt::Frame::split(&mut buf, 1 << 16) {
            let Ok(packet) = mqtt::decode(&frame, protocol) else { continue };
            let bytes = packet.to_bytes(protocol).expect("a decoded packet re-encodes");
            let again = mqtt::decode_bytes(bytes.clone(), protocol, usize::MAX).expect("our own encoding decodes");
            assert_eq!(again, packet);
            assert_eq!(again.to_bytes(protocol).expect("re-encodes"), bytes);
        }
    }
});
