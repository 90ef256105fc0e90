//! Payload validation end to end, against a real Mosquitto with real clients:
//! mosquitto_pub/mosquitto_sub for 3.1.1 and 5.0 (valid payloads arrive, invalid
//! ones never reach the subscriber), rumqttc for the 5.0 publisher's 0x99, our raw
//! client for the `disconnect` policies, and the delivery direction.
//!
//! "Never arrives" is proven without sleeping: each invalid message is followed by
//! a valid marker from the next, completed publish, and the subscriber's next line
//! must be that marker (Mosquitto delivers in order).

mod common;
use bytes::Bytes;
use common::broker::Mosquitto;
use common::cli::{publish, Sub};
use common::proxy::Proxy;
use common::raw::Raw;
use mqtt_proxy::mqtt::{
    Ack, AckKind, Disconnect, MqttStr, Packet, Protocol, Publish, PublishProperties, QoS, ReasonCode,
};
use std::time::Duration;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn config(broker: &str, extra: &str) -> String {
    format!(
        "listeners:\n  - name: factory\n    bind: 127.0.0.1:0\n    upstream: broker\n\
         upstreams:\n  - name: broker\n    servers: [\"{broker}\"]\n\
         metrics:\n  bind: 127.0.0.1:0\n\
         catalogs:\n  - name: local\n    inline:\n      telemetry: '{{\"type\":\"object\",\"required\":[\"device\",\"t\"],\"properties\":{{\"device\":{{\"type\":\"string\"}},\"t\":{{\"type\":\"number\",\"maximum\":150}}}}}}'\n\
         \x20 - name: files\n    filesystem:\n      reading: {ROOT}/config/schemas/reading.avsc\n      machine: {ROOT}/config/schemas/machine.proto\n\
         schemas:\n\
         \x20 - filter: factory/+/telemetry\n    content: {{model: json, catalog: local, subject: telemetry}}\n\
         \x20 - filter: factory/+/reading\n    content: {{model: avro, catalog: files, subject: reading}}\n\
         \x20 - filter: factory/+/state\n    content: {{model: protobuf, catalog: files, subject: machine, message: factory.MachineState}}\n\
         \x20 - filter: out/#\n    direction: deliver\n    content: {{model: int32, min: 0}}\n{extra}"
    )
}

fn avro_reading(unit: i32) -> Vec<u8> {
    use apache_avro::types::Value;
    let text = std::fs::read_to_string(format!("{ROOT}/config/schemas/reading.avsc")).expect("avsc");
    let schema = apache_avro::Schema::parse_str(&text).expect("schema");
    let v = Value::Record(vec![
        ("sensor".into(), Value::String("s-1".into())),
        ("value".into(), Value::Double(3.5)),
        ("unit".into(), {
            let i = if unit > 2 { 0 } else { unit as usize };
            Value::Enum(i as u32, ["C", "F", "BAR"][i].into())
        }),
        ("at".into(), Value::TimestampMillis(1_700_000_000_000)),
        ("note".into(), Value::Union(0, Box::new(Value::Null))),
    ]);
    let mut b = apache_avro::to_avro_datum(&schema, v).expect("encodes");
    if unit > 2 {
        // Out-of-range enum index written by hand (apache-avro refuses to).
        let at = 1 + 3 + 8;
        b[at] = (unit as u8) << 1;
    }
    b
}

fn proto_state() -> Vec<u8> {
    use prost::Message as _;
    use prost_reflect::{DynamicMessage, Value};
    let mut c = protox::Compiler::new([format!("{ROOT}/config/schemas")]).expect("compiler");
    c.open_file("machine.proto").expect("compiles");
    let d = c.descriptor_pool().get_message_by_name("factory.MachineState").expect("message");
    let mut m = DynamicMessage::new(d);
    m.set_field_by_name("machine", Value::String("press-4".into()));
    m.set_field_by_name("state", Value::EnumNumber(3));
    m.set_field_by_name("alarms", Value::List(vec![Value::String("overheat".into())]));
    m.encode_to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Publishes `payload` through the proxy with mosquitto_pub (QoS 1).
fn pub_file(port: u16, version: &str, topic: &str, payload: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("payload");
    std::fs::write(&f, payload).expect("write payload");
    publish(port, &["-V", version, "-q", "1", "-t", topic, "-f", f.to_str().expect("path")]);
}

#[test]
fn valid_payloads_arrive_and_invalid_ones_never_reach_the_subscriber() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&broker.addr(), ""));
    for (version, sub_version) in [("mqttv311", "mqttv5"), ("mqttv5", "mqttv311")] {
        // The subscriber is directly on the broker: what it sees is what got through.
        let mut sub =
            Sub::start(broker.port, &["-V", sub_version, "-q", "1", "-t", "factory/#", "-F", "%t %x"]);
        let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
            (
                "factory/l1/telemetry",
                br#"{"device":"d1","t":21.5}"#.to_vec(),
                br#"{"device":"d1","t":500}"#.to_vec(),
            ),
            ("factory/l1/telemetry", br#"{"device":"d1","t":1}"#.to_vec(), b"not json".to_vec()),
            ("factory/l1/telemetry", br#"{"device":"d1","t":2}"#.to_vec(), Vec::new()),
            ("factory/l1/reading", avro_reading(1), avro_reading(7)),
            ("factory/l1/reading", avro_reading(2), avro_reading(0)[..5].to_vec()),
            ("factory/l1/state", proto_state(), proto_state()[..4].to_vec()),
            ("factory/l1/state", proto_state(), vec![0x0a, 0x02, 0xff, 0xfe]),
        ];
        for (topic, valid, invalid) in cases {
            pub_file(proxy.port(), version, topic, &valid);
            assert_eq!(
                sub.next_message(),
                Some(format!("{topic} {}", hex(&valid))),
                "{version}: valid on {topic}"
            );
            pub_file(proxy.port(), version, topic, &invalid);
            let marker = br#"{"device":"marker","t":0}"#;
            pub_file(proxy.port(), version, "factory/marker/telemetry", marker);
            assert_eq!(
                sub.next_message(),
                Some(format!("factory/marker/telemetry {}", hex(marker))),
                "{version}: an invalid payload on {topic} reached the broker"
            );
        }
        // Topics without a rule are not checked.
        pub_file(proxy.port(), version, "factory/l1/free", b"anything");
        assert_eq!(sub.next_message(), Some(format!("factory/l1/free {}", hex(b"anything"))));
    }
    let log = proxy.wait_log("payload refused");
    assert!(log.contains("rule=factory/+/telemetry"), "{log}");
    let metrics = proxy.scrape();
    assert!(
        metrics.contains(
            "mqtt_proxy_schema_rejected_total{filter=\"factory/+/reading\",direction=\"publish\",reason=\"schema\"} 2\n"
        ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_publisher_sees_payload_format_invalid() {
    use rumqttc::v5::mqttbytes::v5::{Packet as P, PubAckReason, PubRecReason};
    use rumqttc::v5::mqttbytes::QoS as Q;
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&broker.addr(), ""));
    let mut opts = MqttOptions::new("rumqttc-schema", "127.0.0.1", proxy.port());
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut ev) = AsyncClient::new(opts, 10);
    let topic = "factory/l2/telemetry";
    client.publish(topic, Q::AtLeastOnce, false, r#"{"device":"x","t":1}"#).await.expect("queue");
    client.publish(topic, Q::AtLeastOnce, false, r#"{"t":1}"#).await.expect("queue");
    client.publish(topic, Q::ExactlyOnce, false, "[]").await.expect("queue");
    let (mut acks, mut recs) = (Vec::new(), Vec::new());
    let wait = async {
        while acks.len() < 2 || recs.is_empty() {
            match ev.poll().await.expect("connection stays up") {
                Event::Incoming(P::PubAck(a)) => acks.push(a.reason),
                Event::Incoming(P::PubRec(r)) => recs.push(r.reason),
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait).await.expect("acknowledged");
    // The valid one reached Mosquitto (no subscriber: 0x10); the invalid ones did not.
    assert_eq!(acks, vec![PubAckReason::NoMatchingSubscribers, PubAckReason::PayloadFormatInvalid]);
    assert_eq!(recs, vec![PubRecReason::PayloadFormatInvalid]);
}

fn raw_publish(topic: &'static str, payload: &'static [u8], qos: QoS, pkid: u16) -> Packet {
    Packet::Publish(Publish {
        qos,
        pkid,
        ..Publish::new(MqttStr::from_static(topic), Bytes::from_static(payload))
    })
}

#[test]
fn disconnect_policies_end_the_session() {
    let broker = Mosquitto::start();
    let extra = "\x20 - filter: strict/#\n    content: {model: boolean}\n    on_invalid: {v3: disconnect, v5: disconnect}\n";
    let proxy = Proxy::start(&config(&broker.addr(), extra));
    let (mut c, ack) = Raw::connect(proxy.addr, Protocol::V5, "strict5", 30);
    assert!(matches!(ack, Some(Packet::ConnAck(_))));
    c.send(&raw_publish("strict/a", b"true", QoS::AtLeastOnce, 1));
    assert!(matches!(c.recv(), Some(Packet::Ack(Ack { kind: AckKind::PubAck, pkid: 1, .. }))));
    c.send(&raw_publish("strict/a", b"maybe", QoS::AtMostOnce, 0));
    assert_eq!(
        c.recv_until_closed(),
        vec![Packet::Disconnect(Disconnect::new(ReasonCode::PayloadFormatInvalid))]
    );
    let (mut c, _) = Raw::connect(proxy.addr, Protocol::V311, "strict3", 30);
    c.send(&raw_publish("strict/a", b"maybe", QoS::AtLeastOnce, 2));
    assert_eq!(c.recv_until_closed(), vec![], "3.1.1: closed without an answer");
    proxy.wait_log("reason=invalid_payload");
    // 5.0 Payload Format Indicator = 1 requires UTF-8, on any checked topic.
    let (mut c, _) = Raw::connect(proxy.addr, Protocol::V5, "pfi", 30);
    let mut p = Publish::new(MqttStr::from_static("factory/l3/telemetry"), Bytes::from_static(b"\xff"));
    p.qos = QoS::AtLeastOnce;
    p.pkid = 3;
    p.properties = PublishProperties { payload_format_indicator: Some(1), ..Default::default() };
    c.send(&Packet::Publish(p));
    let Some(Packet::Ack(a)) = c.recv() else { panic!("no PUBACK") };
    assert_eq!((a.pkid, a.reason), (3, ReasonCode::PayloadFormatInvalid));
}

#[test]
fn invalid_deliveries_are_dropped_for_the_subscriber() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&broker.addr(), ""));
    for (q, version) in [("1", "mqttv5"), ("2", "mqttv311"), ("0", "mqttv5")] {
        // The subscriber is behind the proxy; publishers write straight to the broker.
        let mut sub = Sub::start(proxy.port(), &["-V", version, "-q", q, "-t", "out/#"]);
        // 25 invalid in a row: more than Mosquitto's 20 in flight, so a QoS 1/2 flow the
        // proxy failed to complete towards the broker would hold back the valid ones.
        for (payload, valid, repeat) in
            [("42", true, "1"), ("-3", false, "1"), ("x", false, "25"), ("7", true, "1")]
        {
            publish(broker.port, &["-q", q, "-t", "out/n", "-m", payload, "--repeat", repeat]);
            if valid {
                assert_eq!(sub.next_message(), Some(format!("out/n {payload}")), "QoS {q} {version}");
            }
        }
    }
    let metrics = proxy.scrape();
    assert!(
        metrics.contains(
            "mqtt_proxy_schema_rejected_total{filter=\"out/#\",direction=\"deliver\",reason=\"constraint\"} 3\n"
        ),
        "{metrics}"
    );
    assert!(metrics.contains(
        "mqtt_proxy_schema_rejected_total{filter=\"out/#\",direction=\"deliver\",reason=\"syntax\"} 75\n"
    ));
}
