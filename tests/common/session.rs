//! A session-level client for the routing tests: CONNECT through the proxy, send
//! publishes and subscriptions, and collect what comes back while acknowledging
//! deliveries as a compliant client must.
#![allow(dead_code)]

use super::proxy::Proxy;
use super::raw::Raw;
use bytes::Bytes;
use mqtt_proxy::mqtt::{
    Ack, AckKind, Connect, ConnectProperties, MqttStr, Packet, Protocol, Publish, QoS, ReasonCode,
};
use std::collections::HashSet;

pub fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

pub fn connect(proxy: &Proxy, v: Protocol, id: &str, user: Option<String>) -> (Raw, Option<Packet>) {
    connect_with(proxy, v, id, user, true)
}

pub fn connect_with(
    proxy: &Proxy,
    v: Protocol,
    id: &str,
    user: Option<String>,
    clean: bool,
) -> (Raw, Option<Packet>) {
    let mut c = Raw::open(proxy.addr, v);
    c.send(&Packet::Connect(Box::new(Connect {
        protocol: v,
        clean_start: clean,
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

pub fn connack_ok(p: &Option<Packet>) -> bool {
    matches!(p, Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success)
}

pub fn publish_packet(topic: &str, payload: &str, qos: QoS, pkid: u16) -> Packet {
    let t = MqttStr::from_static(leak(topic.to_string()));
    Packet::Publish(Publish { qos, pkid, ..Publish::new(t, Bytes::from(payload.to_string())) })
}

pub fn subscribe(c: &mut Raw, pkid: u16, filters: &[&str], qos: QoS) {
    c.send(&super::raw::subscribe_packet(pkid, filters, qos));
}

/// Reads packets, acknowledging deliveries as a client must, until `done` holds
/// for what was collected.
pub fn collect(c: &mut Raw, done: impl Fn(&[Packet]) -> bool) -> Vec<Packet> {
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

pub fn topics(ps: &[Packet]) -> HashSet<String> {
    ps.iter()
        .filter_map(|p| match p {
            Packet::Publish(x) => Some(format!("{} {}", x.topic, String::from_utf8_lossy(&x.payload))),
            _ => None,
        })
        .collect()
}

pub fn has_ack(ps: &[Packet], kind: AckKind, pkid: u16) -> bool {
    ps.iter().any(|p| matches!(p, Packet::Ack(a) if a.kind == kind && a.pkid == pkid))
}
