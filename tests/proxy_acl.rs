//! Topic ACLs with templates from the token, end to end with a real Mosquitto, for
//! MQTT 5.0 and 3.1.1: a device publishes only under `devices/{sub}/`, subscribes
//! only within its own tree or `broadcast/#`, and must use its subject as client id.

mod common;
use bytes::Bytes;
use common::broker::Mosquitto;
use common::cli::Sub;
use common::proxy::Proxy;
use common::raw::Raw;
use mqtt_proxy::mqtt::{
    Ack, AckKind, Connect, ConnectProperties, MqttStr, Packet, Protocol, Publish, QoS, ReasonCode,
};
use std::collections::HashMap;

const TOKENS: &str = include_str!("fixtures/jwt/TEST-ONLY-tokens.json");

fn user() -> String {
    let t: HashMap<String, String> = serde_json::from_str(TOKENS).expect("tokens");
    format!("Bearer {}", t["pyjwt-rs256-stream"])
}

fn config(broker: &str) -> String {
    let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt/TEST-ONLY-jwks.json");
    format!(
        "listeners:\n  - name: devices\n    bind: 127.0.0.1:0\n    upstream: broker\n    guard: jwt\n    scopes: [\"mqtt:stream\"]\n    acl:\n      publish: [\"devices/{{sub}}/#\"]\n      subscribe: [\"devices/{{sub}}/#\", \"broadcast/#\"]\n      client_id: \"{{sub}}\"\n\
         upstreams:\n  - name: broker\n    servers: [\"{broker}\"]\n\
         guards:\n  - name: jwt\n    jwks_file: {jwks}\n"
    )
}

fn connect(proxy: &Proxy, v: Protocol, id: &'static str) -> (Raw, Option<Packet>) {
    let mut c = Raw::open(proxy.addr, v);
    c.send(&Packet::Connect(Box::new(Connect {
        protocol: v,
        clean_start: true,
        keep_alive: 30,
        client_id: MqttStr::from_static(id),
        will: None,
        username: Some(MqttStr::try_from(user()).expect("user")),
        password: None,
        properties: ConnectProperties::default(),
    })));
    let ack = c.recv();
    (c, ack)
}

fn publish(topic: &'static str, qos: QoS, pkid: u16) -> Packet {
    Packet::Publish(Publish {
        qos,
        pkid,
        ..Publish::new(MqttStr::from_static(topic), Bytes::from_static(b"m"))
    })
}

fn subscribe(pkid: u16, filters: &[&'static str]) -> Packet {
    common::raw::subscribe_packet(pkid, filters, QoS::AtLeastOnce)
}

#[test]
fn client_id_must_be_the_subject() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&broker.addr()));
    let (_c, ack) = connect(&proxy, Protocol::V5, "someone-else");
    assert!(matches!(ack, Some(Packet::ConnAck(a)) if a.reason == ReasonCode::NotAuthorized));
    let (_c, ack) = connect(&proxy, Protocol::V5, "device-42");
    assert!(matches!(ack, Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success));
    proxy.wait_log("reason=client identifier not allowed");
}

#[test]
fn publish_and_subscribe_acls_both_versions() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&broker.addr()));
    for v in [Protocol::V5, Protocol::V311] {
        // Everything that reaches the broker under devices/# is seen here.
        let mut watcher = Sub::start(broker.port, &["-t", "devices/#"]);
        let (mut c, ack) = connect(&proxy, v, "device-42");
        assert!(matches!(ack, Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success), "{v}");

        // Denied QoS 1 publish: 5.0 gets 0x87, 3.1.1 a plain PUBACK (acknowledge and drop).
        c.send(&publish("devices/device-7/cmd", QoS::AtLeastOnce, 1));
        let expected = if v.is_v5() { ReasonCode::NotAuthorized } else { ReasonCode::Success };
        assert_eq!(
            c.recv(),
            Some(Packet::Ack(Ack { reason: expected, ..Ack::new(AckKind::PubAck, 1) })),
            "{v}"
        );
        // Denied QoS 0: dropped silently. Allowed: reaches the broker.
        c.send(&publish("devices/device-7/cmd", QoS::AtMostOnce, 0));
        c.send(&publish("devices/device-42/temp", QoS::AtLeastOnce, 2));
        assert_eq!(c.recv(), Some(Packet::Ack(Ack::new(AckKind::PubAck, 2))), "{v}");
        // The watcher's first message is the allowed one: nothing denied got through.
        assert_eq!(watcher.next_message().as_deref(), Some("devices/device-42/temp m"), "{v}");

        // Subscribe: own tree and broadcast granted, another device's tree refused.
        c.send(&subscribe(3, &["devices/device-42/#", "devices/+/temp", "broadcast/#"]));
        let denied = if v.is_v5() { ReasonCode::NotAuthorized } else { ReasonCode::UnspecifiedError };
        match c.recv() {
            Some(Packet::SubAck(a)) => {
                assert_eq!(a.pkid, 3);
                assert_eq!(a.reasons, vec![ReasonCode::GrantedQoS1, denied, ReasonCode::GrantedQoS1], "{v}");
            }
            other => panic!("{v}: expected SUBACK, got {other:?}"),
        }
        c.send(&Packet::Disconnect(Default::default()));
        assert_eq!(c.recv_until_closed(), vec![]);
    }
    let log = proxy.wait_log("denied_publish=2");
    assert!(log.contains("denied_subscribe=1"), "{log}");
}
