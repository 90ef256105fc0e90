//! Codec benchmarks (divan): PUBLISH decode/encode at 64 B and 4 KiB for QoS 0/1 on
//! 3.1.1 and 5.0, framing throughput, CONNECT v5 with properties, topic matching.
//!
//! Run: `cargo bench --bench codec`.

use bytes::{Bytes, BytesMut};
use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use mqtt_proxy::mqtt::{self, Connect, ConnectProperties, MqttStr, Packet, Protocol, Publish, QoS};

fn main() {
    divan::main();
}

const SIZES: [usize; 2] = [64, 4096];

fn publish(size: usize, qos: QoS) -> Publish {
    Publish {
        qos,
        pkid: if qos == QoS::AtMostOnce { 0 } else { 42 },
        ..Publish::new(MqttStr::from_static("factory/line1/cell7/telemetry"), Bytes::from(vec![0xA5; size]))
    }
}

fn frame(size: usize, qos: QoS, protocol: Protocol) -> mqtt::Frame {
    let bytes = Packet::Publish(publish(size, qos)).to_bytes(protocol).expect("encodes");
    mqtt::Frame::from_bytes(bytes, usize::MAX).expect("frames")
}

#[divan::bench(args = SIZES)]
fn decode_publish_qos0_v311(b: Bencher, size: usize) {
    let f = frame(size, QoS::AtMostOnce, Protocol::V311);
    b.counter(BytesCount::new(f.len())).bench(|| mqtt::decode(black_box(&f), Protocol::V311));
}

/// The forwarding hot path: read a PUBLISH in place (no reference counts touched).
#[divan::bench(args = SIZES)]
fn view_publish_qos0_v311(b: Bencher, size: usize) {
    let f = frame(size, QoS::AtMostOnce, Protocol::V311);
    b.counter(BytesCount::new(f.len()))
        .bench(|| mqtt::PublishView::parse(black_box(&f), Protocol::V311).map(|v| v.payload.len()));
}

#[divan::bench(args = SIZES)]
fn view_publish_qos1_v5(b: Bencher, size: usize) {
    let f = frame(size, QoS::AtLeastOnce, Protocol::V5);
    b.counter(BytesCount::new(f.len()))
        .bench(|| mqtt::PublishView::parse(black_box(&f), Protocol::V5).map(|v| v.payload.len()));
}

#[divan::bench(args = SIZES)]
fn decode_publish_qos1_v311(b: Bencher, size: usize) {
    let f = frame(size, QoS::AtLeastOnce, Protocol::V311);
    b.counter(BytesCount::new(f.len())).bench(|| mqtt::decode(black_box(&f), Protocol::V311));
}

#[divan::bench(args = SIZES)]
fn decode_publish_qos0_v5(b: Bencher, size: usize) {
    let f = frame(size, QoS::AtMostOnce, Protocol::V5);
    b.counter(BytesCount::new(f.len())).bench(|| mqtt::decode(black_box(&f), Protocol::V5));
}

#[divan::bench(args = SIZES)]
fn decode_publish_qos1_v5(b: Bencher, size: usize) {
    let f = frame(size, QoS::AtLeastOnce, Protocol::V5);
    b.counter(BytesCount::new(f.len())).bench(|| mqtt::decode(black_box(&f), Protocol::V5));
}

#[divan::bench(args = SIZES)]
fn encode_publish_qos1_v5(b: Bencher, size: usize) {
    let p = publish(size, QoS::AtLeastOnce);
    let mut buf = BytesMut::with_capacity(size + 64);
    b.counter(BytesCount::new(size)).bench_local(|| {
        buf.clear();
        black_box(&p).encode(Protocol::V5, &mut buf).expect("encodes");
    });
}

#[divan::bench(args = SIZES)]
fn encode_publish_header_only_v5(b: Bencher, size: usize) {
    let p = publish(size, QoS::AtLeastOnce);
    let mut buf = BytesMut::with_capacity(64);
    b.bench_local(|| {
        buf.clear();
        black_box(&p).encode_header(Protocol::V5, &mut buf).expect("encodes");
    });
}

/// 256 QoS 0 PUBLISH frames of `size` bytes of payload, back to back.
fn stream_of(size: usize) -> Bytes {
    let one = Packet::Publish(publish(size, QoS::AtMostOnce)).to_bytes(Protocol::V311).expect("encodes");
    let mut stream = BytesMut::new();
    for _ in 0..256 {
        stream.extend_from_slice(&one);
    }
    stream.freeze()
}

/// Framing throughput: cut 256 frames from one connection buffer.
#[divan::bench(args = SIZES)]
fn frame_split_256(b: Bencher, size: usize) {
    let stream = stream_of(size);
    b.counter(BytesCount::new(stream.len())).with_inputs(|| BytesMut::from(&stream[..])).bench_local_values(
        |mut buf| {
            let mut n = 0;
            while let Ok(Some(f)) = mqtt::Frame::split(&mut buf, usize::MAX) {
                n += f.len();
            }
            n
        },
    );
}

/// Framing + in-place PUBLISH parsing on the same stream (the relay's work).
#[divan::bench(args = SIZES)]
fn frame_and_decode_256(b: Bencher, size: usize) {
    let stream = stream_of(size);
    b.counter(BytesCount::new(stream.len())).with_inputs(|| BytesMut::from(&stream[..])).bench_local_values(
        |mut buf| {
            let mut n = 0;
            while let Ok(Some(f)) = mqtt::Frame::split(&mut buf, usize::MAX) {
                if let Ok(v) = mqtt::PublishView::parse(&f, Protocol::V311) {
                    n += v.payload.len();
                }
            }
            n
        },
    );
}

#[divan::bench]
fn decode_connect_v5_with_properties(b: Bencher) {
    let props = ConnectProperties {
        session_expiry_interval: Some(3600),
        receive_maximum: Some(100),
        maximum_packet_size: Some(1 << 20),
        topic_alias_maximum: Some(10),
        user: vec![(MqttStr::from_static("site"), MqttStr::from_static("plant-7"))],
        ..Default::default()
    };
    let c = Connect {
        protocol: Protocol::V5,
        clean_start: false,
        keep_alive: 60,
        client_id: MqttStr::from_static("device-0001234"),
        will: None,
        username: Some(MqttStr::from_static("Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImV4YW1wbGUifQ.e30.sig")),
        password: None,
        properties: props,
    };
    let bytes = Packet::Connect(Box::new(c)).to_bytes(Protocol::V5).expect("encodes");
    let f = mqtt::Frame::from_bytes(bytes, usize::MAX).expect("frames");
    b.bench(|| mqtt::decode(black_box(&f), Protocol::V5));
}

#[divan::bench(args = ["factory/+/cell7/#", "factory/line1/cell7/telemetry", "+/+/+/+", "#", "other/line1/cell7/telemetry"])]
fn topic_match(filter: &str) -> bool {
    mqtt::topic::matches(black_box(filter), black_box("factory/line1/cell7/telemetry"))
}
