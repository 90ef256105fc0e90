//! Byte vectors for every packet type in MQTT 3.1.1 and 5.0, annotated field by
//! field, each checked with the every-prefix rule and re-encoded byte for byte.
//! Sources: spec examples (3.1.1 §3.1 CONNECT, 5.0 §1.5 data types) and packets as
//! mosquitto 2.0 clients send them (see `codec_captures.rs` for whole sessions).

mod common;
use bytes::Bytes;
use common::codec::{s, vector};
use mqtt_proxy::mqtt::*;

const V3: Protocol = Protocol::V311;
const V5: Protocol = Protocol::V5;

#[test]
fn connect_v311_spec_example_with_will_and_credentials() {
    #[rustfmt::skip]
    let bytes = [
        0x10, 39,                               // CONNECT, remaining length 39
        0x00, 0x04, b'M', b'Q', b'T', b'T',     // protocol name "MQTT"
        0x04,                                   // level 4 (3.1.1)
        0xEE,                                   // user, password, will retain, will QoS 1, will, clean
        0x00, 0x0A,                             // keep alive 10 s
        0x00, 0x03, b'c', b'i', b'd',           // client id "cid"
        0x00, 0x03, b'w', b'/', b't',           // will topic "w/t"
        0x00, 0x03, b'b', b'y', b'e',           // will payload "bye"
        0x00, 0x04, b'u', b's', b'e', b'r',     // user name "user"
        0x00, 0x06, b's', b'e', b'c', b'r', b'e', b't', // password "secret"
    ];
    let expected = Packet::Connect(Box::new(Connect {
        protocol: V3,
        clean_start: true,
        keep_alive: 10,
        client_id: s("cid"),
        will: Some(LastWill {
            topic: s("w/t"),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: WillProperties::default(),
        }),
        username: Some(s("user")),
        password: Some(Bytes::from_static(b"secret")),
        properties: ConnectProperties::default(),
    }));
    vector(&bytes, V3, &expected);
}

#[test]
fn connect_v31_mqisdp() {
    #[rustfmt::skip]
    let bytes = [
        0x10, 19,
        0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', // "MQIsdp"
        0x03,                                   // level 3
        0x02,                                   // clean session
        0x00, 0x3C,                             // keep alive 60
        0x00, 0x05, b'o', b'l', b'd', b'3', b'1', // client id
    ];
    let expected = Packet::Connect(Box::new(Connect {
        protocol: Protocol::V31,
        clean_start: true,
        keep_alive: 60,
        client_id: s("old31"),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    }));
    vector(&bytes, V3, &expected);
}

#[test]
fn connect_v5_with_properties_and_will_properties() {
    #[rustfmt::skip]
    let bytes = [
        0x10, 41,
        0x00, 0x04, b'M', b'Q', b'T', b'T',
        0x05,                                   // level 5
        0xC6,                                   // user, password, will QoS 0, will, clean start
        0x00, 0x3C,                             // keep alive 60
        8,                                      // properties length
        0x11, 0x00, 0x00, 0x00, 0x3C,           //   session expiry interval 60
        0x21, 0x00, 0x14,                       //   receive maximum 20
        0x00, 0x02, b'c', b'5',                 // client id "c5"
        5,                                      // will properties length
        0x18, 0x00, 0x00, 0x00, 0x05,           //   will delay interval 5
        0x00, 0x01, b'w',                       // will topic "w"
        0x00, 0x00,                             // will payload (empty)
        0x00, 0x01, b'u',                       // user name "u"
        0x00, 0x02, 0xFF, 0x00,                 // password: binary, not UTF-8
    ];
    let props = ConnectProperties {
        session_expiry_interval: Some(60),
        receive_maximum: Some(20),
        ..Default::default()
    };
    let wprops = WillProperties { will_delay_interval: Some(5), ..Default::default() };
    let expected = Packet::Connect(Box::new(Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 60,
        client_id: s("c5"),
        will: Some(LastWill {
            topic: s("w"),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: wprops,
        }),
        username: Some(s("u")),
        password: Some(Bytes::from_static(&[0xFF, 0x00])),
        properties: props,
    }));
    vector(&bytes, V5, &expected);
}

#[test]
fn connack_both_versions() {
    // 3.1.1: session present, accepted.
    vector(&[0x20, 2, 0x01, 0x00], V3, &Packet::ConnAck(ConnAck::new(ReasonCode::Success, true)));
    // 3.1.1: return code 5 (not authorized) reads as 0x87.
    vector(&[0x20, 2, 0x00, 0x05], V3, &Packet::ConnAck(ConnAck::new(ReasonCode::NotAuthorized, false)));
    // 5.0 as mosquitto 2.0 answers: receive maximum 20 and topic alias maximum 10.
    #[rustfmt::skip]
    let bytes = [
        0x20, 9,
        0x00,                                   // no session present
        0x00,                                   // success
        6,                                      // properties length
        0x21, 0x00, 0x14,                       //   receive maximum 20
        0x22, 0x00, 0x0A,                       //   topic alias maximum 10
    ];
    let p =
        ConnAckProperties { receive_maximum: Some(20), topic_alias_maximum: Some(10), ..Default::default() };
    let ack = ConnAck { session_present: false, reason: ReasonCode::Success, properties: p };
    // Our encoder writes properties in declaration order: receive max, then alias max.
    vector(&bytes, V5, &Packet::ConnAck(ack));
    vector(
        &[0x20, 3, 0x00, 0x88, 0x00],
        V5,
        &Packet::ConnAck(ConnAck::new(ReasonCode::ServerUnavailable, false)),
    );
}

#[test]
fn publish_qos0_v311_and_qos1_v5() {
    #[rustfmt::skip]
    let v3 = [
        0x30, 10,                               // PUBLISH QoS 0, no dup, no retain
        0x00, 0x03, b'a', b'/', b'b',           // topic "a/b"
        b'h', b'e', b'l', b'l', b'o',           // payload
    ];
    vector(&v3, V3, &Packet::Publish(Publish::new(s("a/b"), Bytes::from_static(b"hello"))));

    #[rustfmt::skip]
    let v5 = [
        0x3B, 22,                               // PUBLISH dup, QoS 1, retain
        0x00, 0x03, b'a', b'/', b'b',           // topic
        0x12, 0x34,                             // packet id 0x1234
        12,                                     // properties length
        0x01, 0x01,                             //   payload format indicator: UTF-8
        0x23, 0x00, 0x05,                       //   topic alias 5
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property k=v
        b'h', b'i',                             // payload
    ];
    let props = PublishProperties {
        payload_format_indicator: Some(1),
        topic_alias: Some(5),
        user: vec![(s("k"), s("v"))],
        ..Default::default()
    };
    let p = Publish {
        dup: true,
        qos: QoS::AtLeastOnce,
        retain: true,
        topic: s("a/b"),
        pkid: 0x1234,
        properties: props,
        payload: Bytes::from_static(b"hi"),
    };
    vector(&v5, V5, &Packet::Publish(p));
}

#[test]
fn publish_v5_empty_topic_with_alias_and_qos2() {
    #[rustfmt::skip]
    let bytes = [
        0x34, 9,                                // PUBLISH QoS 2
        0x00, 0x00,                             // empty topic (alias in use)
        0x00, 0x07,                             // packet id 7
        3, 0x23, 0x00, 0x01,                    // topic alias 1
        b'x',
    ];
    let props = PublishProperties { topic_alias: Some(1), ..Default::default() };
    let p = Publish {
        dup: false,
        qos: QoS::ExactlyOnce,
        retain: false,
        topic: MqttStr::default(),
        pkid: 7,
        properties: props,
        payload: Bytes::from_static(b"x"),
    };
    vector(&bytes, V5, &Packet::Publish(p));
}

#[test]
fn acks_both_versions() {
    for (first, kind) in
        [(0x40, AckKind::PubAck), (0x50, AckKind::PubRec), (0x62, AckKind::PubRel), (0x70, AckKind::PubComp)]
    {
        // 3.1.1 and the 5.0 short form: just the packet id.
        vector(&[first, 2, 0x00, 0x09], V3, &Packet::Ack(Ack::new(kind, 9)));
        vector(&[first, 2, 0x00, 0x09], V5, &Packet::Ack(Ack::new(kind, 9)));
    }
    // 5.0 PUBACK "no matching subscribers" without properties.
    let mut a = Ack::new(AckKind::PubAck, 1);
    a.reason = ReasonCode::NoMatchingSubscribers;
    vector(&[0x40, 3, 0x00, 0x01, 0x10], V5, &Packet::Ack(a));
    // 5.0 PUBREC "not authorized" with a reason string.
    let mut a = Ack::new(AckKind::PubRec, 2);
    a.reason = ReasonCode::NotAuthorized;
    a.properties.reason_string = Some(s("no"));
    #[rustfmt::skip]
    let bytes = [0x50, 9, 0x00, 0x02, 0x87, 5, 0x1F, 0x00, 0x02, b'n', b'o'];
    vector(&bytes, V5, &Packet::Ack(a));
    // 5.0 PUBCOMP packet identifier not found.
    let mut a = Ack::new(AckKind::PubComp, 3);
    a.reason = ReasonCode::PacketIdentifierNotFound;
    vector(&[0x70, 3, 0x00, 0x03, 0x92], V5, &Packet::Ack(a));
}

#[test]
fn subscribe_and_suback() {
    #[rustfmt::skip]
    let v3 = [
        0x82, 14,                               // SUBSCRIBE (flags 0010)
        0x00, 0x01,                             // packet id 1
        0x00, 0x03, b'a', b'/', b'#', 0x01,     // "a/#" QoS 1
        0x00, 0x03, b'+', b'/', b'b', 0x02,     // "+/b" QoS 2
    ];
    let f = |filter, qos| SubscribeFilter {
        filter: s(filter),
        options: SubscriptionOptions { qos, ..Default::default() },
    };
    let sub = Subscribe {
        pkid: 1,
        filters: vec![f("a/#", QoS::AtLeastOnce), f("+/b", QoS::ExactlyOnce)],
        properties: SubscribeProperties::default(),
    };
    vector(&v3, V3, &Packet::Subscribe(sub));

    // As mosquitto_sub -V 5 sends it: subscription identifier 7, options 0x02.
    #[rustfmt::skip]
    let v5 = [
        0x82, 24,
        0x00, 0x01,                             // packet id 1
        0x02, 0x0B, 0x07,                       // properties: subscription identifier 7
        0x00, 0x05, b'c', b'a', b'p', b'/', b'#', 0x02,
        0x00, 0x08, b'c', b'a', b'p', b'2', b'/', b'+', b'/', b'x', 0x2E, // QoS 2, no local, RAP, RH 2
    ];
    let props = SubscribeProperties { subscription_identifier: Some(7), ..Default::default() };
    let sub = Subscribe {
        pkid: 1,
        filters: vec![
            f("cap/#", QoS::ExactlyOnce),
            SubscribeFilter {
                filter: s("cap2/+/x"),
                options: SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::Never,
                },
            },
        ],
        properties: props,
    };
    vector(&v5, V5, &Packet::Subscribe(sub));

    let ack = |reasons: Vec<ReasonCode>| SubAck { pkid: 1, reasons, properties: AckProperties::default() };
    vector(
        &[0x90, 4, 0x00, 0x01, 0x01, 0x80],
        V3,
        &Packet::SubAck(ack(vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError])),
    );
    vector(
        &[0x90, 5, 0x00, 0x01, 0x00, 0x02, 0x87],
        V5,
        &Packet::SubAck(ack(vec![ReasonCode::GrantedQoS2, ReasonCode::NotAuthorized])),
    );
}

#[test]
fn unsubscribe_and_unsuback() {
    let un = Unsubscribe { pkid: 2, filters: vec![s("a/#")], properties: UnsubscribeProperties::default() };
    vector(&[0xA2, 7, 0x00, 0x02, 0x00, 0x03, b'a', b'/', b'#'], V3, &Packet::Unsubscribe(un.clone()));
    vector(&[0xA2, 8, 0x00, 0x02, 0x00, 0x00, 0x03, b'a', b'/', b'#'], V5, &Packet::Unsubscribe(un));
    vector(
        &[0xB0, 2, 0x00, 0x02],
        V3,
        &Packet::UnsubAck(UnsubAck { pkid: 2, reasons: vec![], properties: AckProperties::default() }),
    );
    let ack = UnsubAck {
        pkid: 2,
        reasons: vec![ReasonCode::NoSubscriptionExisted],
        properties: AckProperties::default(),
    };
    vector(&[0xB0, 4, 0x00, 0x02, 0x00, 0x11], V5, &Packet::UnsubAck(ack));
}

#[test]
fn ping_disconnect_auth() {
    for p in [V3, V5] {
        vector(&[0xC0, 0], p, &Packet::PingReq);
        vector(&[0xD0, 0], p, &Packet::PingResp);
        vector(&[0xE0, 0], p, &Packet::Disconnect(Disconnect::default()));
    }
    vector(&[0xE0, 1, 0x04], V5, &Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage)));
    let mut d = Disconnect::new(ReasonCode::SessionTakenOver);
    d.properties.session_expiry_interval = Some(0);
    vector(&[0xE0, 7, 0x8E, 5, 0x11, 0, 0, 0, 0], V5, &Packet::Disconnect(d));

    vector(&[0xF0, 0], V5, &Packet::Auth(Auth::default()));
    let mut a = Auth::new(ReasonCode::ReAuthenticate);
    a.properties.authentication_method = Some(s("jwt"));
    a.properties.authentication_data = Some(Bytes::from_static(b"t"));
    #[rustfmt::skip]
    let bytes = [
        0xF0, 12,
        0x19,                                   // re-authenticate
        10,                                     // properties length
        0x15, 0x00, 0x03, b'j', b'w', b't',     //   authentication method "jwt"
        0x16, 0x00, 0x01, b't',                 //   authentication data "t"
    ];
    vector(&bytes, V5, &Packet::Auth(a));
}

#[test]
fn publish_decoding_shares_the_frame() {
    let raw = Bytes::from_static(&[0x30, 10, 0x00, 0x03, b'a', b'/', b'b', b'h', b'e', b'l', b'l', b'o']);
    let Packet::Publish(p) = decode_bytes(raw.clone(), V3, 64).expect("decodes") else {
        panic!("not a publish")
    };
    let range = raw.as_ptr() as usize..raw.as_ptr() as usize + raw.len();
    assert!(range.contains(&(p.payload.as_ptr() as usize)), "payload must point into the frame");
    assert!(range.contains(&(p.topic.as_bytes().as_ptr() as usize)), "topic must point into the frame");
}

#[test]
fn publish_header_plus_original_payload_equals_full_encoding() {
    let p =
        Publish { pkid: 5, qos: QoS::AtLeastOnce, ..Publish::new(s("t/x"), Bytes::from(vec![7u8; 5000])) };
    let mut head = bytes::BytesMut::new();
    let n = p.encode_header(V5, &mut head).expect("encodes");
    assert_eq!(n, head.len());
    let mut whole = head.to_vec();
    whole.extend_from_slice(&p.payload);
    assert_eq!(whole, Packet::Publish(p).to_bytes(V5).expect("encodes").to_vec());
}
