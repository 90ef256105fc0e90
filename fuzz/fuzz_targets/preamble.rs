//! Fuzz target: what a listener reads before MQTT — a PROXY protocol header (v1,
//! v2, either), a WebSocket upgrade request, and WebSocket frames — from arbitrary
//! bytes. Asserts no panic, that a parsed header or request never claims more bytes
//! than it was given, and that the deframer gives the same MQTT bytes however the
//! input is split in two.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_proxy::proxy_protocol::{self, Accept, Parsed};
use mqtt_proxy::websocket::frames::Deframer;
use mqtt_proxy::websocket::handshake::{self, Request};

/// Feeds `chunks` to a deframer; the MQTT bytes, the signals and the error.
fn deframe(chunks: &[&[u8]]) -> (Vec<u8>, usize, bool) {
    let (mut d, mut raw, mut out) = (Deframer::default(), BytesMut::new(), BytesMut::new());
    let (mut data, mut signals) = (Vec::new(), 0);
    for c in chunks {
        raw.extend_from_slice(c);
        loop {
            let r = d.decode(&mut raw, &mut out);
            data.extend_from_slice(&out.split());
            match r {
                Ok(Some(_)) => signals += 1,
                Ok(None) => break,
                Err(_) => return (data, signals, true),
            }
        }
    }
    (data, signals, false)
}

fuzz_target!(|data: &[u8]| {
    for accept in [Accept::V1, Accept::V2, Accept::Any] {
        if let Ok(Parsed::Done { len, .. }) = proxy_protocol::parse(data, accept) {
            assert!(len <= data.len() && len <= accept.max_len());
        }
    }
    if let Ok(Request::Done { len, .. }) = handshake::parse(data, "/mqtt") {
        assert!(len <= data.len());
    }
    let whole = deframe(&[data]);
    let at = data.first().map_or(0, |b| usize::from(*b)) % (data.len() + 1);
    assert_eq!(deframe(&[&data[..at], &data[at..]]), whole);
});
