//! Admission and publish limits end to end, against a real Mosquitto: a listener's
//! connect rate and the cap on connections in their CONNECT phase (CONNACK 0x9F;
//! 3.1.1: 3), connections per source address (0x97), and a client's publish rate
//! (backpressure: everything arrives, later; or DISCONNECT 0x96). Each is counted
//! in `mqtt_proxy_limit_hits_total`. No timing assertions: the rates are set so
//! that what happens does not depend on how fast the machine is.

mod common;
use common::broker::Mosquitto;
use common::proxy::{config, Proxy};
use common::raw::{connect_packet, Raw};
use common::session::publish_packet;
use mqtt_proxy::mqtt::{AckKind, Packet, Protocol, QoS, ReasonCode};
use std::net::IpAddr;

fn connack(mut c: Raw, id: &'static str) -> (Raw, ReasonCode) {
    c.send(&connect_packet(c.protocol, id, 30));
    match c.recv() {
        Some(Packet::ConnAck(a)) => (c, a.reason),
        other => panic!("{id}: expected CONNACK, got {other:?}"),
    }
}

fn metrics(extra: &str) -> String {
    format!("{extra}metrics:\n  bind: 127.0.0.1:0\n")
}

#[test]
fn a_listeners_connect_rate_is_shed_with_0x9f() {
    let broker = Mosquitto::start();
    let yaml = config(&[broker.addr()], &metrics(""))
        .replace("    upstream: broker\n", "    upstream: broker\n    connect_rate: {rate: 2, per: 1h}\n");
    let proxy = Proxy::start(&yaml);
    for id in ["first", "second"] {
        let (_c, rc) = connack(Raw::open(proxy.addr, Protocol::V5), id);
        assert_eq!(rc, ReasonCode::Success, "{id}");
    }
    let (_c, rc) = connack(Raw::open(proxy.addr, Protocol::V5), "third");
    assert_eq!(rc, ReasonCode::ConnectionRateExceeded);
    // 3.1.1: return code 3, Server unavailable (a client retries that later).
    let mut v3 = Raw::open(proxy.addr, Protocol::V311);
    v3.send(&connect_packet(Protocol::V311, "fourth", 30));
    assert_eq!(v3.recv_frame().expect("CONNACK").raw().as_ref(), [0x20, 2, 0, 3]);
    proxy.wait_metric("mqtt_proxy_limit_hits_total{limit=\"connect_rate\"} ", 2);
    proxy.wait_log("limit=connect_rate");
}

#[test]
fn a_connect_storm_is_shed_beyond_max_connecting() {
    let broker = Mosquitto::start();
    let yaml = config(&[broker.addr()], &metrics("limits:\n  max_connecting: 2\n"));
    // One core: the two silent connections are accepted before the third.
    let proxy = Proxy::start_with(&yaml, &["--cores", "1"]);
    let silent: Vec<Raw> = (0..2).map(|_| Raw::open(proxy.addr, Protocol::V5)).collect();
    proxy.wait_log_count("connection opened", 2);
    let (_c, rc) = connack(Raw::open(proxy.addr, Protocol::V5), "storm");
    assert_eq!(rc, ReasonCode::ConnectionRateExceeded);
    proxy.wait_metric("mqtt_proxy_limit_hits_total{limit=\"max_connecting\"} ", 1);
    // Once they go, there is room again.
    drop(silent);
    let open_now = || {
        proxy
            .scrape()
            .lines()
            .find_map(|l| l.strip_prefix("mqtt_proxy_connections_open ")?.parse::<u64>().ok())
    };
    while open_now() != Some(0) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (_c, rc) = connack(Raw::open(proxy.addr, Protocol::V5), "calm");
    assert_eq!(rc, ReasonCode::Success);
}

#[test]
fn connections_per_source_address() {
    let broker = Mosquitto::start();
    let yaml = config(&[broker.addr()], &metrics("limits:\n  max_connections_per_ip: 2\n"));
    let proxy = Proxy::start(&yaml);
    let (a, b): (IpAddr, IpAddr) = ("127.0.0.51".parse().unwrap(), "127.0.0.52".parse().unwrap());
    let (mut one, rc) = connack(Raw::open_from(a, proxy.addr, Protocol::V5), "a1");
    assert_eq!(rc, ReasonCode::Success);
    let (_two, rc) = connack(Raw::open_from(a, proxy.addr, Protocol::V5), "a2");
    assert_eq!(rc, ReasonCode::Success);
    let (_three, rc) = connack(Raw::open_from(a, proxy.addr, Protocol::V5), "a3");
    assert_eq!(rc, ReasonCode::QuotaExceeded);
    let (_other, rc) = connack(Raw::open_from(b, proxy.addr, Protocol::V5), "b1");
    assert_eq!(rc, ReasonCode::Success, "another address has its own places");
    // A session that ends gives its place back.
    one.send(&Packet::Disconnect(Default::default()));
    // Its place is given back before its close is logged.
    proxy.wait_log("client_id=\"a1\" protocol=5.0");
    let (_again, rc) = connack(Raw::open_from(a, proxy.addr, Protocol::V5), "a4");
    assert_eq!(rc, ReasonCode::Success);
    proxy.wait_metric("mqtt_proxy_limit_hits_total{limit=\"max_connections_per_ip\"} ", 1);
}

/// Publishes `n` QoS 1 messages one after the other; the PUBACKs (or what ended it).
fn publish_each(c: &mut Raw, n: u16) -> (usize, Vec<Packet>) {
    let mut acked = 0;
    for i in 1..=n {
        c.send(&publish_packet("paced/t", &i.to_string(), QoS::AtLeastOnce, i));
        match c.recv() {
            Some(Packet::Ack(a)) if a.kind == AckKind::PubAck && a.pkid == i => acked += 1,
            Some(other) => return (acked, [vec![other], c.recv_until_closed()].concat()),
            None => return (acked, Vec::new()),
        }
    }
    (acked, Vec::new())
}

#[test]
fn publish_rate_throttles_without_losing_anything() {
    let broker = Mosquitto::start();
    let limit = "limits:\n  publish_rate: {messages: {rate: 50, per: 1s, burst: 5}}\n";
    let proxy = Proxy::start(&config(&[broker.addr()], &metrics(limit)));
    let (mut c, rc) = connack(Raw::open(proxy.addr, Protocol::V5), "steady");
    assert_eq!(rc, ReasonCode::Success);
    // 30 messages against a burst of 5: the proxy pauses its reads (TCP holds the
    // client back), and every message still gets through.
    let (acked, ended) = publish_each(&mut c, 30);
    assert_eq!((acked, ended), (30, Vec::new()));
    proxy.wait_metric("mqtt_proxy_limit_hits_total{limit=\"publish_messages\"} ", 1);
    assert!(!proxy.log().contains("reason=message_rate"));
}

#[test]
fn publish_rate_can_disconnect_with_0x96() {
    let broker = Mosquitto::start();
    let limit = "limits:\n  publish_rate: {messages: {rate: 5, per: 1h}, action: disconnect}\n";
    let proxy = Proxy::start(&config(&[broker.addr()], &metrics(limit)));
    let (mut c, rc) = connack(Raw::open(proxy.addr, Protocol::V5), "flooder");
    assert_eq!(rc, ReasonCode::Success);
    let (acked, ended) = publish_each(&mut c, 10);
    assert!((5..=6).contains(&acked), "the burst of 5 (and the read that went over it): {acked}");
    let last = ended.last().cloned();
    assert!(
        matches!(&last, Some(Packet::Disconnect(d)) if d.reason == ReasonCode::MessageRateTooHigh),
        "{ended:?}"
    );
    proxy.wait_log("reason=message_rate");
    proxy.wait_metric("mqtt_proxy_limit_hits_total{limit=\"publish_messages\"} ", 1);
}

#[test]
fn a_tenants_message_rate_is_shared_by_its_sessions() {
    let broker = Mosquitto::start();
    let routes = "routes:\n  - client_id: \"acme-*\"\n    upstream: broker\n    tenant: acme\n    max_message_rate: {rate: 100, per: 1s, burst: 5}\n";
    let proxy = Proxy::start(&config(&[broker.addr()], &metrics(routes)));
    let (mut a, rc) = connack(Raw::open(proxy.addr, Protocol::V5), "acme-1");
    assert_eq!(rc, ReasonCode::Success);
    let (mut b, rc) = connack(Raw::open(proxy.addr, Protocol::V5), "acme-2");
    assert_eq!(rc, ReasonCode::Success);
    // Together far over the tenant's burst: both are slowed down, nothing is lost.
    for _ in 0..2 {
        assert_eq!(publish_each(&mut a, 20), (20, Vec::new()));
        assert_eq!(publish_each(&mut b, 20), (20, Vec::new()));
    }
    proxy.wait_metric("mqtt_proxy_limit_hits_total{limit=\"tenant_messages\"} ", 1);
    // Another client is not the tenant's.
    let (mut other, rc) = connack(Raw::open(proxy.addr, Protocol::V5), "globex-1");
    assert_eq!(rc, ReasonCode::Success);
    assert_eq!(publish_each(&mut other, 5), (5, Vec::new()));
}

/// The same publish rate on a session that spans two brokers (the multi-broker
/// driver paces its client reads too).
#[test]
fn publish_rate_holds_for_a_session_over_two_brokers() {
    let (plant, line1) = (Mosquitto::start(), Mosquitto::start());
    let yaml = format!(
        "listeners:\n  - name: factory\n    bind: 127.0.0.1:0\n    upstream: plant\n\
         upstreams:\n  - name: plant\n    servers: [\"{}\"]\n  - name: line1\n    servers: [\"{}\"]\n\
         routes:\n  - topics: [\"line1/#\"]\n    upstream: line1\n\
         limits:\n  publish_rate: {{messages: {{rate: 5, per: 1h}}, action: disconnect}}\n",
        plant.addr(),
        line1.addr()
    );
    let proxy = Proxy::start(&metrics(&yaml));
    let (mut c, rc) = connack(Raw::open(proxy.addr, Protocol::V5), "spanning");
    assert_eq!(rc, ReasonCode::Success);
    let (acked, ended) = publish_each(&mut c, 10);
    assert!((5..=6).contains(&acked), "{acked}");
    assert!(
        matches!(ended.last(), Some(Packet::Disconnect(d)) if d.reason == ReasonCode::MessageRateTooHigh),
        "{ended:?}"
    );
    proxy.wait_log("links=2");
    proxy.wait_log("reason=message_rate");
}
