//! Whole sessions of real clients, captured through `scripts/capture-relay.py` between
//! mosquitto 2.0 clients (`mosquitto_pub`/`mosquitto_sub` with -V 5, -V 311, and a raw
//! MQTT 3.1 CONNECT) and a mosquitto 2.0 broker. Every frame of both directions must
//! frame, decode with the version its CONNECT announced, pass the every-prefix rule,
//! and re-encode to the same packet. Re-encoding gives the very same bytes except
//! where the peer wrote properties in another order than ours (the spec leaves the
//! order free): those frames must still have the same length and the same bytes.

mod common;
use bytes::BytesMut;
use common::codec::{check_all_prefixes, encode};
use mqtt_proxy::mqtt::{self, Packet, Protocol, MAX_PACKET_SIZE};

struct Connection {
    client: BytesMut,
    server: BytesMut,
}

fn load(text: &str) -> Vec<Connection> {
    let mut out: Vec<Connection> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            out.push(Connection { client: BytesMut::new(), server: BytesMut::new() });
            continue;
        }
        let (dir, hex) = line.split_once(' ').expect("direction and hex");
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
        let c = out.last_mut().expect("a connection header first");
        match dir {
            "c" => c.client.extend_from_slice(&bytes),
            "s" => c.server.extend_from_slice(&bytes),
            other => panic!("bad direction {other}"),
        }
    }
    out
}

fn frames(mut buf: BytesMut) -> Vec<mqtt::Frame> {
    let mut v = Vec::new();
    while let Some(f) = mqtt::Frame::split(&mut buf, MAX_PACKET_SIZE).expect("valid framing") {
        v.push(f);
    }
    assert!(buf.is_empty(), "capture ends inside a frame");
    v
}

/// Returns (frames checked, packet type histogram).
fn check_file(text: &str) -> (usize, [usize; 16]) {
    let mut seen = [0usize; 16];
    let mut total = 0;
    let mut reordered = 0;
    for conn in load(text) {
        let client = frames(conn.client);
        let Packet::Connect(c) = mqtt::decode(&client[0], Protocol::V5).expect("CONNECT decodes") else {
            panic!("first client packet is not CONNECT")
        };
        let protocol = c.protocol;
        for f in client.iter().chain(frames(conn.server).iter()) {
            let p = check_all_prefixes(f.raw(), protocol);
            let again = encode(&p, protocol);
            if again != f.raw() {
                let (mut a, mut b) = (again.to_vec(), f.raw().to_vec());
                a.sort_unstable();
                b.sort_unstable();
                assert_eq!(a, b, "re-encoding {p:?} changed more than property order");
                reordered += 1;
            }
            assert_eq!(mqtt::decode_bytes(again, protocol, MAX_PACKET_SIZE).as_ref(), Ok(&p));
            seen[usize::from(f.packet_type())] += 1;
            total += 1;
        }
    }
    assert!(reordered < total / 2, "{reordered} of {total} frames re-encoded differently");
    (total, seen)
}

#[test]
fn mosquitto_clients_v5_session_frames_round_trip() {
    let (n, seen) = check_file(include_str!("data/captures/mosquitto_clients_v5.txt"));
    assert!(n >= 30, "only {n} frames");
    // CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, DISCONNECT.
    for t in [1, 2, 3, 4, 5, 6, 7, 8, 9, 14] {
        assert!(seen[t] > 0, "no packet of type {t} in the v5 capture");
    }
}

#[test]
fn mosquitto_clients_v311_and_v31_session_frames_round_trip() {
    let (n, seen) = check_file(include_str!("data/captures/mosquitto_clients_v311_v31.txt"));
    assert!(n >= 30, "only {n} frames");
    for t in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14] {
        assert!(seen[t] > 0, "no packet of type {t} in the v3.1.1 capture");
    }
}
