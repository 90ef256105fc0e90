//! Routing end to end with several real Mosquitto brokers: topic routes spanning
//! brokers in one session (QoS 1 and 2, merged SUBACKs, deliveries from every
//! broker), tenants from a token claim (mount points on a shared broker, a tenant
//! on its own broker, a tenant connection limit), sticky placement on a group of
//! three servers, and failover when a broker dies under load.

mod common;
use bytes::Bytes;
use common::broker::Mosquitto;
use common::cli::{publish, Sub};
use common::proxy::Proxy;
use common::raw::Raw;
use mqtt_proxy::mqtt::{
    Ack, AckKind, Connect, ConnectProperties, MqttStr, Packet, Protocol, Publish, QoS, ReasonCode, Subscribe,
    SubscribeFilter, SubscriptionOptions,
};
use std::collections::{HashMap, HashSet};

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn connect(proxy: &Proxy, v: Protocol, id: &str, user: Option<String>) -> (Raw, Option<Packet>) {
    let mut c = Raw::open(proxy.addr, v);
    c.send(&Packet::Connect(Box::new(Connect {
        protocol: v,
        clean_start: true,
        keep_alive: 30,
        client_id: MqttStr::from_static(leak(id.to_string())),
        will: None,
        username: user.map(|u| MqttStr::from_static(leak(u))),
        password: None,
        properties: ConnectProperties::default(),
    })));
    let p = c.recv();
    (c, p)
}

fn connack_ok(p: &Option<Packet>) -> bool {
    matches!(p, Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success)
}

fn publish_packet(topic: &str, payload: &str, qos: QoS, pkid: u16) -> Packet {
    let t = MqttStr::from_static(leak(topic.to_string()));
    Packet::Publish(Publish { qos, pkid, ..Publish::new(t, Bytes::from(payload.to_string())) })
}

fn subscribe(c: &mut Raw, pkid: u16, filters: &[&str], qos: QoS) {
    let filters = filters
        .iter()
        .map(|f| SubscribeFilter {
            filter: MqttStr::from_static(leak(f.to_string())),
            options: SubscriptionOptions { qos, ..Default::default() },
        })
        .collect();
    c.send(&Packet::Subscribe(Subscribe { pkid, filters, properties: Default::default() }));
}

/// Reads packets, acknowledging deliveries as a client must, until `done` holds
/// for what was collected.
fn collect(c: &mut Raw, done: impl Fn(&[Packet]) -> bool) -> Vec<Packet> {
    let mut seen = Vec::new();
    while !done(&seen) {
        let Some(p) = c.recv() else { panic!("connection closed; seen {seen:?}") };
        match &p {
            Packet::Publish(x) if x.qos == QoS::AtLeastOnce => {
                c.send(&Packet::Ack(Ack::new(AckKind::PubAck, x.pkid)))
            }
            Packet::Publish(x) if x.qos == QoS::ExactlyOnce => {
                c.send(&Packet::Ack(Ack::new(AckKind::PubRec, x.pkid)))
            }
            Packet::Ack(a) if a.kind == AckKind::PubRel => {
                c.send(&Packet::Ack(Ack::new(AckKind::PubComp, a.pkid)))
            }
            _ => {}
        }
        seen.push(p);
    }
    seen
}

fn topics(ps: &[Packet]) -> HashSet<String> {
    ps.iter()
        .filter_map(|p| match p {
            Packet::Publish(x) => Some(format!("{} {}", x.topic, String::from_utf8_lossy(&x.payload))),
            _ => None,
        })
        .collect()
}

fn has_ack(ps: &[Packet], kind: AckKind, pkid: u16) -> bool {
    ps.iter().any(|p| matches!(p, Packet::Ack(a) if a.kind == kind && a.pkid == pkid))
}

fn topic_config(a: &Mosquitto, l1: &Mosquitto, l2: &Mosquitto) -> String {
    format!(
        "listeners:\n  - name: factory\n    bind: 127.0.0.1:0\n    upstream: plant\n\
         upstreams:\n  - name: plant\n    servers: [\"{}\"]\n  - name: line1\n    servers: [\"{}\"]\n  - name: line2\n    servers: [\"{}\"]\n\
         routes:\n  - topics: [\"line1/#\"]\n    upstream: line1\n  - topics: [\"line2/#\"]\n    upstream: line2\n",
        a.addr(),
        l1.addr(),
        l2.addr()
    )
}

#[test]
fn one_session_spans_brokers_by_topic() {
    let (a, l1, l2) = (Mosquitto::start(), Mosquitto::start(), Mosquitto::start());
    let proxy = Proxy::start(&topic_config(&a, &l1, &l2));
    for (v, n) in [(Protocol::V311, "3"), (Protocol::V5, "5")] {
        // What each broker really got, seen by subscribers connected to it directly.
        let mut on_a = Sub::start(a.port, &["-t", "#", "-q", "1"]);
        let mut on_l1 = Sub::start(l1.port, &["-t", "#", "-q", "1"]);
        let mut on_l2 = Sub::start(l2.port, &["-t", "#", "-q", "1"]);
        let (mut c, ack) = connect(&proxy, v, &format!("spanning-{n}"), None);
        assert!(connack_ok(&ack), "{ack:?}");
        // `#` goes to all three brokers; the SUBACK is merged into one.
        subscribe(&mut c, 1, &["#"], QoS::ExactlyOnce);
        let got = collect(&mut c, |ps| ps.iter().any(|p| matches!(p, Packet::SubAck(_))));
        let Some(Packet::SubAck(s)) = got.last() else { panic!("no SUBACK") };
        assert_eq!((s.pkid, s.reasons.clone()), (1, vec![ReasonCode::GrantedQoS2]));

        c.send(&publish_packet("line1/press", &format!("q1-{n}"), QoS::AtLeastOnce, 10));
        c.send(&publish_packet("line2/press", &format!("q2-{n}"), QoS::ExactlyOnce, 11));
        c.send(&publish_packet("hall/door", &format!("q0-{n}"), QoS::AtLeastOnce, 12));
        let got = collect(&mut c, |ps| {
            has_ack(ps, AckKind::PubAck, 10)
                && has_ack(ps, AckKind::PubRec, 11)
                && has_ack(ps, AckKind::PubAck, 12)
        });
        c.send(&Packet::Ack(Ack::new(AckKind::PubRel, 11)));
        let mut all = got;
        all.extend(collect(&mut c, |ps| has_ack(ps, AckKind::PubComp, 11)));
        // Its own three messages come back through its `#`, from three brokers.
        let want: HashSet<String> =
            [format!("line1/press q1-{n}"), format!("line2/press q2-{n}"), format!("hall/door q0-{n}")]
                .into();
        let all_so_far = all.clone();
        let mut all = all_so_far;
        while !want.is_subset(&topics(&all)) {
            all.extend(collect(&mut c, |ps| !ps.is_empty()));
        }
        // Each message reached exactly its own broker.
        assert_eq!(on_l1.next_message(), Some(format!("line1/press q1-{n}")));
        assert_eq!(on_l2.next_message(), Some(format!("line2/press q2-{n}")));
        assert_eq!(
            on_a.next_message(),
            Some(format!("hall/door q0-{n}")),
            "line1/line2 must not reach plant"
        );

        // Deliveries from two brokers, both numbering them 1: distinct ids towards the client.
        publish(l1.port, &["-q", "1", "-t", "line1/x", "-m", "from-l1"]);
        publish(l2.port, &["-q", "1", "-t", "line2/x", "-m", "from-l2"]);
        let got = collect(&mut c, |ps| {
            let t = topics(ps);
            t.contains("line1/x from-l1") && t.contains("line2/x from-l2")
        });
        let ids: Vec<u16> = got
            .iter()
            .filter_map(|p| match p {
                Packet::Publish(x) if x.topic.starts_with("line") => Some(x.pkid),
                _ => None,
            })
            .collect();
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1], "two brokers' deliveries share a packet id towards the client");
        assert!(ids.iter().all(|&i| i != 0));
        c.send(&Packet::Disconnect(Default::default()));
    }
    proxy.wait_log("links=3");
}
