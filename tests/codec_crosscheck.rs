//! Cross-check against an independent implementation: rumqttc's `mqttbytes`
//! (v4 = MQTT 3.1.1, v5). For thousands of generated packets, what we encode decodes
//! there to the same fields, and what it encodes (from the same fields) decodes here
//! to the packet we started from.

mod common;
use bytes::{Bytes, BytesMut};
use common::gen;
use mqtt_proxy::mqtt::{self, Packet, Protocol, QoS};
use proptest::prelude::*;
use rumqttc::mqttbytes::v4 as r4;
use rumqttc::v5::mqttbytes::v5 as r5;

const MAX: usize = 1 << 20;

fn rq(q: QoS) -> rumqttc::mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => rumqttc::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::mqttbytes::QoS::ExactlyOnce,
    }
}

fn rq5(q: QoS) -> rumqttc::v5::mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

fn ours(p: &Packet, v: Protocol) -> BytesMut {
    BytesMut::from(&p.to_bytes(v).expect("encodes")[..])
}

fn back(b: BytesMut, v: Protocol) -> Packet {
    mqtt::decode_bytes(b.freeze(), v, MAX).expect("our decoder reads rumqttc's bytes")
}

fn r4_publish(p: &mqtt::Publish) -> r4::Publish {
    r4::Publish {
        dup: p.dup,
        qos: rq(p.qos),
        retain: p.retain,
        topic: p.topic.to_string(),
        pkid: p.pkid,
        payload: p.payload.clone(),
    }
}

fn r5_publish_props(p: &mqtt::PublishProperties) -> Option<r5::PublishProperties> {
    if p.is_empty() {
        return None;
    }
    Some(r5::PublishProperties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        topic_alias: p.topic_alias,
        response_topic: p.response_topic.as_ref().map(|s| s.to_string()),
        correlation_data: p.correlation_data.clone(),
        user_properties: p.user.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        subscription_identifiers: p.subscription_identifiers.iter().map(|n| *n as usize).collect(),
        content_type: p.content_type.as_ref().map(|s| s.to_string()),
    })
}

fn r5_publish(p: &mqtt::Publish) -> r5::Publish {
    r5::Publish {
        dup: p.dup,
        qos: rq5(p.qos),
        retain: p.retain,
        topic: p.topic.as_bytes().clone(),
        pkid: p.pkid,
        payload: p.payload.clone(),
        properties: r5_publish_props(&p.properties),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn v311_publish(p in gen::publish(Protocol::V311)) {
        let theirs = r4::Packet::read(&mut ours(&Packet::Publish(p.clone()), Protocol::V311), MAX).expect("rumqttc reads ours");
        prop_assert_eq!(theirs, r4::Packet::Publish(r4_publish(&p)));
        let mut buf = BytesMut::new();
        r4_publish(&p).write(&mut buf).expect("rumqttc writes");
        prop_assert_eq!(back(buf, Protocol::V311), Packet::Publish(p));
    }

    #[test]
    fn v5_publish_with_properties(p in gen::publish(Protocol::V5)) {
        let theirs = r5::Packet::read(&mut ours(&Packet::Publish(p.clone()), Protocol::V5), Some(MAX as u32)).expect("rumqttc reads ours");
        prop_assert_eq!(theirs, r5::Packet::Publish(r5_publish(&p)));
        let mut buf = BytesMut::new();
        r5::Packet::Publish(r5_publish(&p)).write(&mut buf, None).expect("rumqttc writes");
        prop_assert_eq!(back(buf, Protocol::V5), Packet::Publish(p));
    }

    #[test]
    fn v311_subscribe(s in gen::subscribe(Protocol::V311)) {
        let r = r4::Subscribe {
            pkid: s.pkid,
            filters: s.filters.iter().map(|f| r4::SubscribeFilter::new(f.filter.to_string(), rq(f.options.qos))).collect(),
        };
        let theirs = r4::Packet::read(&mut ours(&Packet::Subscribe(s.clone()), Protocol::V311), MAX).expect("rumqttc reads ours");
        prop_assert_eq!(theirs, r4::Packet::Subscribe(r.clone()));
        let mut buf = BytesMut::new();
        r.write(&mut buf).expect("rumqttc writes");
        prop_assert_eq!(back(buf, Protocol::V311), Packet::Subscribe(s));
    }

    #[test]
    fn v5_subscribe(s in gen::subscribe(Protocol::V5)) {
        let props = if s.properties.is_empty() { None } else {
            Some(r5::SubscribeProperties {
                id: s.properties.subscription_identifier.map(|n| n as usize),
                user_properties: s.properties.user.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            })
        };
        let r = r5::Subscribe {
            pkid: s.pkid,
            filters: s.filters.iter().map(|f| r5::Filter {
                path: f.filter.to_string(),
                qos: rq5(f.options.qos),
                nolocal: f.options.no_local,
                preserve_retain: f.options.retain_as_published,
                retain_forward_rule: match f.options.retain_handling {
                    mqtt::RetainHandling::OnSubscribe => r5::RetainForwardRule::OnEverySubscribe,
                    mqtt::RetainHandling::OnNewSubscribe => r5::RetainForwardRule::OnNewSubscribe,
                    mqtt::RetainHandling::Never => r5::RetainForwardRule::Never,
                },
            }).collect(),
            properties: props,
        };
        let theirs = r5::Packet::read(&mut ours(&Packet::Subscribe(s.clone()), Protocol::V5), None).expect("rumqttc reads ours");
        prop_assert_eq!(theirs, r5::Packet::Subscribe(r.clone()));
        let mut buf = BytesMut::new();
        r5::Packet::Subscribe(r).write(&mut buf, None).expect("rumqttc writes");
        prop_assert_eq!(back(buf, Protocol::V5), Packet::Subscribe(s));
    }

    #[test]
    fn v311_acks(a in gen::ack(Protocol::V311)) {
        let r = match a.kind {
            mqtt::AckKind::PubAck => r4::Packet::PubAck(r4::PubAck::new(a.pkid)),
            mqtt::AckKind::PubRec => r4::Packet::PubRec(r4::PubRec::new(a.pkid)),
            mqtt::AckKind::PubRel => r4::Packet::PubRel(r4::PubRel::new(a.pkid)),
            mqtt::AckKind::PubComp => r4::Packet::PubComp(r4::PubComp::new(a.pkid)),
        };
        let theirs = r4::Packet::read(&mut ours(&Packet::Ack(a.clone()), Protocol::V311), MAX).expect("rumqttc reads ours");
        prop_assert_eq!(&theirs, &r);
        let mut buf = BytesMut::new();
        r.write(&mut buf, MAX).expect("rumqttc writes");
        prop_assert_eq!(back(buf, Protocol::V311), Packet::Ack(a));
    }

    #[test]
    fn v311_connect(c in gen::connect(Protocol::V311), pass in "[a-z0-9]{0,12}") {
        let mut c = c;
        // rumqttc's 3.1.1 login is a pair of strings that it omits when empty (and it
        // would write a password without a user name, which 3.1.1 forbids): use a
        // non-empty user name and a UTF-8 password present only when non-empty.
        if c.username.is_some() || c.password.is_some() {
            c.username = Some(mqtt::MqttStr::from_static("user"));
            c.password = (!pass.is_empty()).then(|| Bytes::from(pass.clone()));
        }
        let r = r4::Connect {
            protocol: rumqttc::mqttbytes::Protocol::V4,
            keep_alive: c.keep_alive,
            client_id: c.client_id.to_string(),
            clean_session: c.clean_start,
            last_will: c.will.as_ref().map(|w| r4::LastWill { topic: w.topic.to_string(), message: w.payload.clone(), qos: rq(w.qos), retain: w.retain }),
            login: c.username.as_ref().map(|u| r4::Login { username: u.to_string(), password: pass.clone() }),
        };
        let theirs = r4::Packet::read(&mut ours(&Packet::Connect(Box::new(c.clone())), Protocol::V311), MAX).expect("rumqttc reads ours");
        prop_assert_eq!(theirs, r4::Packet::Connect(r.clone()));
        let mut buf = BytesMut::new();
        r.write(&mut buf).expect("rumqttc writes");
        prop_assert_eq!(back(buf, Protocol::V311), Packet::Connect(Box::new(c)));
    }

    #[test]
    fn v311_unsubscribe(pkid in 1u16.., filters in proptest::collection::vec(gen::topic_filter(), 1..4)) {
        let u = mqtt::Unsubscribe { pkid, filters: filters.clone(), properties: Default::default() };
        let r = r4::Unsubscribe { pkid, topics: filters.iter().map(|f| f.to_string()).collect() };
        let theirs = r4::Packet::read(&mut ours(&Packet::Unsubscribe(u.clone()), Protocol::V311), MAX).expect("rumqttc reads ours");
        prop_assert_eq!(theirs, r4::Packet::Unsubscribe(r.clone()));
        let mut buf = BytesMut::new();
        r.write(&mut buf).expect("rumqttc writes");
        prop_assert_eq!(back(buf, Protocol::V311), Packet::Unsubscribe(u));
    }
}
