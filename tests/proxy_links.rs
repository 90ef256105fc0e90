//! Multi-broker sessions against real Mosquitto brokers, one test per defect of
//! issue #11: every link kept alive on its own clock, a lost link re-opened in the
//! background with its subscriptions, in-flight publishes on a lost link refused
//! (never acknowledged falsely), a will whose broker is down refusing the CONNECT,
//! delivery ids the client holds kept across a link's loss and re-opening,
//! CONNACKs combined, the client's Receive Maximum across links, a silent broker
//! that blocks nothing else, shared subscriptions routed by their filter, and two
//! brokers' dropped QoS 2 deliveries under the same id both completed.
//!
//! Topology: the session's own broker `plant` (link 0), `line1/#` on `line1`,
//! `line2/#` on `line2`.

mod common;
use bytes::Bytes;
use common::broker::Mosquitto;
use common::cli::publish;
use common::gate::Gate;
use common::proxy::Proxy;
use common::raw::Raw;
use common::session::*;
use mqtt_proxy::mqtt::{
    Ack, AckKind, Connect, ConnectProperties, LastWill, MqttStr, Packet, Protocol, QoS, ReasonCode,
    Subscribe, SubscribeFilter, SubscribeProperties, SubscriptionOptions, WillProperties,
};
use std::time::Duration;

fn config(plant: &str, line1: &str, line2: &str) -> String {
    config_with(plant, line1, line2, "")
}

fn config_with(plant: &str, line1: &str, line2: &str, extra: &str) -> String {
    format!(
        "listeners:\n  - name: factory\n    bind: 127.0.0.1:0\n    upstream: plant\n\
         upstreams:\n  - name: plant\n    servers: [\"{plant}\"]\n    connect_timeout: 1s\n\
         \x20 - name: line1\n    servers: [\"{line1}\"]\n    connect_timeout: 1s\n\
         \x20 - name: line2\n    servers: [\"{line2}\"]\n    connect_timeout: 1s\n\
         routes:\n  - topics: [\"line1/#\"]\n    upstream: line1\n  - topics: [\"line2/#\"]\n    upstream: line2\n\
         metrics:\n  bind: 127.0.0.1:0\n{extra}"
    )
}

fn three() -> (Mosquitto, Mosquitto, Mosquitto, Proxy) {
    let (a, l1, l2) = (Mosquitto::start(), Mosquitto::start(), Mosquitto::start());
    let proxy = Proxy::start(&config(&a.addr(), &l1.addr(), &l2.addr()));
    (a, l1, l2, proxy)
}

fn connect_packet(v: Protocol, id: &'static str, keep_alive: u16) -> Connect {
    Connect {
        protocol: v,
        clean_start: true,
        keep_alive,
        client_id: MqttStr::from_static(id),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    }
}

fn open(proxy: &Proxy, c: Connect) -> (Raw, Option<Packet>) {
    let mut raw = Raw::open(proxy.addr, c.protocol);
    raw.send(&Packet::Connect(Box::new(c)));
    let ack = raw.recv();
    (raw, ack)
}

fn ack_of(ps: &[Packet], kind: AckKind, pkid: u16) -> Option<ReasonCode> {
    ps.iter().find_map(|p| match p {
        Packet::Ack(a) if a.kind == kind && a.pkid == pkid => Some(a.reason),
        _ => None,
    })
}

/// An ack with a success code (0x10 No matching subscribers is one).
fn accepted(ps: &[Packet], kind: AckKind, pkid: u16) -> bool {
    ack_of(ps, kind, pkid).is_some_and(|r| !r.is_error())
}

#[test]
fn defect_1_link_0_is_kept_alive_while_the_client_talks_only_to_a_secondary_broker() {
    let (_a, _l1, _l2, proxy) = three();
    for (v, id) in [(Protocol::V5, "keeper-5"), (Protocol::V311, "keeper-3")] {
        // Keep alive 2 s: Mosquitto drops a link silent for 3 s.
        let (mut c, ack) = open(&proxy, connect_packet(v, id, 2));
        assert!(connack_ok(&ack), "{ack:?}");
        // Only line1 hears from the client, for more than 3 × keep alive.
        for pkid in 1..=18u16 {
            c.send(&publish_packet("line1/press", "p", QoS::AtLeastOnce, pkid));
            let got = collect(&mut c, |ps| has_ack(ps, AckKind::PubAck, pkid));
            assert!(accepted(&got, AckKind::PubAck, pkid), "{v:?}: {got:?}");
            // Pacing the client's traffic, not waiting for the proxy.
            std::thread::sleep(Duration::from_millis(400));
        }
        // The session's own broker is still there: a publish to it is acknowledged.
        c.send(&publish_packet("hall/door", "d", QoS::AtLeastOnce, 100));
        let got = collect(&mut c, |ps| has_ack(ps, AckKind::PubAck, 100));
        assert!(accepted(&got, AckKind::PubAck, 100), "{v:?}: {got:?}");
    }
    assert!(!proxy.log().contains("closed_by=upstream"), "{}", proxy.log());
}

#[test]
fn defect_2_a_subscriber_only_client_keeps_receiving_after_its_broker_restarts() {
    let (_a, mut l1, _l2, proxy) = three();
    let (mut c, ack) = open(&proxy, connect_packet(Protocol::V5, "dashboard", 30));
    assert!(connack_ok(&ack), "{ack:?}");
    // `#` on every broker, with Subscription Identifier 7.
    let options = SubscriptionOptions { qos: QoS::AtLeastOnce, ..Default::default() };
    let filters = vec![SubscribeFilter { filter: MqttStr::from_static("#"), options }];
    let properties = SubscribeProperties { subscription_identifier: Some(7), ..Default::default() };
    c.send(&Packet::Subscribe(Subscribe { pkid: 1, filters, properties }));
    collect(&mut c, |ps| ps.iter().any(|p| matches!(p, Packet::SubAck(_))));
    publish(l1.port, &["-q", "1", "-t", "line1/before", "-m", "b"]);
    collect(&mut c, |ps| topics(ps).contains("line1/before b"));
    // line1 dies and comes back empty; the client does nothing at all.
    let port = l1.port;
    l1.kill();
    proxy.wait_log("link lost");
    let l1 = Mosquitto::start_on(port);
    // Retained, so it reaches the restored subscription whenever it lands.
    publish(l1.port, &["-q", "1", "-r", "-t", "line1/after", "-m", "a"]);
    let got = collect(&mut c, |ps| topics(ps).contains("line1/after a"));
    let ids = got.iter().find_map(|p| match p {
        Packet::Publish(x) if &*x.topic == "line1/after" => {
            Some(x.properties.subscription_identifiers.clone())
        }
        _ => None,
    });
    assert_eq!(ids, Some(vec![7]), "restored with its Subscription Identifier");
    let scraped = proxy.scrape();
    let value = |name: &str| -> u64 {
        scraped.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0)
    };
    assert!(value("mqtt_proxy_links_lost_total ") >= 1, "{scraped}");
    assert!(value("mqtt_proxy_links_opened_total ") >= 3, "line1 twice and line2: {scraped}");
}

#[test]
fn defect_2_a_will_whose_broker_is_down_refuses_the_connect() {
    let (_a, _l1, mut l2, proxy) = three();
    l2.kill();
    for v in [Protocol::V5, Protocol::V311] {
        let mut c = connect_packet(v, "willing", 30);
        c.will = Some(LastWill {
            topic: MqttStr::from_static("line2/will"),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: WillProperties::default(),
        });
        let (_c, ack) = open(&proxy, c);
        // 3.1.1 return code 3 decodes as Server unavailable.
        assert!(
            matches!(&ack, Some(Packet::ConnAck(a)) if a.reason == ReasonCode::ServerUnavailable),
            "{v:?}: {ack:?}"
        );
    }
}

#[test]
fn defect_3_in_flight_publishes_on_a_lost_link_are_refused_never_acknowledged() {
    let (_a, mut l1, mut l2, proxy) = three();
    let (mut c, ack) = open(&proxy, connect_packet(Protocol::V5, "in-flight", 30));
    assert!(connack_ok(&ack), "{ack:?}");
    // line2 takes a QoS 2 publish (PUBREC); line1 is frozen: it answers nothing.
    c.send(&publish_packet("line2/x", "2", QoS::ExactlyOnce, 3));
    collect(&mut c, |ps| has_ack(ps, AckKind::PubRec, 3));
    c.send(&publish_packet("line1/warmup", "w", QoS::AtLeastOnce, 9));
    collect(&mut c, |ps| has_ack(ps, AckKind::PubAck, 9));
    l1.freeze();
    c.send(&publish_packet("line1/x", "1", QoS::AtLeastOnce, 1));
    c.send(&publish_packet("line1/y", "1", QoS::ExactlyOnce, 2));
    l1.kill();
    l2.kill();
    let got = collect(&mut c, |ps| has_ack(ps, AckKind::PubAck, 1) && has_ack(ps, AckKind::PubRec, 2));
    assert_eq!(ack_of(&got, AckKind::PubAck, 1), Some(ReasonCode::UnspecifiedError), "{got:?}");
    assert_eq!(ack_of(&got, AckKind::PubRec, 2), Some(ReasonCode::UnspecifiedError), "{got:?}");
    // The PUBREL of the publish line2 had goes nowhere else: PUBCOMP 0x92.
    proxy.wait_log_count("link lost", 2);
    c.send(&Packet::Ack(Ack::new(AckKind::PubRel, 3)));
    let got = collect(&mut c, |ps| has_ack(ps, AckKind::PubComp, 3));
    assert_eq!(ack_of(&got, AckKind::PubComp, 3), Some(ReasonCode::PacketIdentifierNotFound), "{got:?}");
    // The session goes on with its own broker.
    c.send(&publish_packet("hall/x", "h", QoS::AtLeastOnce, 4));
    let got = collect(&mut c, |ps| has_ack(ps, AckKind::PubAck, 4));
    assert!(accepted(&got, AckKind::PubAck, 4), "{got:?}");
}

#[test]
fn defect_4_ids_the_client_holds_survive_the_loss_and_reopening_of_their_link() {
    let (_a, mut l1, _l2, proxy) = three();
    let (mut c, ack) = open(&proxy, connect_packet(Protocol::V5, "holder", 30));
    assert!(connack_ok(&ack), "{ack:?}");
    subscribe(&mut c, 1, &["line1/#"], QoS::ExactlyOnce);
    collect(&mut c, |ps| ps.iter().any(|p| matches!(p, Packet::SubAck(_))));
    // The client holds a QoS 1 delivery (no PUBACK) and a QoS 2 one it PUBREC'd,
    // whose PUBREL the frozen broker never sends.
    publish(l1.port, &["-q", "1", "-t", "line1/a", "-m", "a"]);
    publish(l1.port, &["-q", "2", "-t", "line1/b", "-m", "b"]);
    let mut held = Vec::new();
    while held.len() < 2 {
        match c.recv() {
            Some(Packet::Publish(p)) => held.push((p.pkid, p.qos)),
            other => panic!("{other:?}"),
        }
    }
    l1.freeze();
    let (q2, _) = held.iter().copied().find(|(_, q)| *q == QoS::ExactlyOnce).expect("the QoS 2 delivery");
    c.send(&Packet::Ack(Ack::new(AckKind::PubRec, q2)));
    let port = l1.port;
    l1.kill();
    proxy.wait_log("link lost");
    // No broker can release the PUBREC'd delivery now: the proxy does (the client
    // still holds its id until its PUBCOMP).
    assert!(matches!(c.recv(), Some(Packet::Ack(a)) if a.kind == AckKind::PubRel && a.pkid == q2));
    // line1 comes back empty and numbers its deliveries from 1 again, as before.
    let l1 = Mosquitto::start_on(port);
    proxy.wait_log_count("link opened", 2);
    publish(l1.port, &["-q", "1", "-r", "-t", "line1/c", "-m", "c"]);
    publish(l1.port, &["-q", "2", "-r", "-t", "line1/d", "-m", "d"]);
    let held_ids: Vec<u16> = held.iter().map(|(id, _)| *id).collect();
    let mut fresh = Vec::new();
    while fresh.len() < 2 {
        match c.recv() {
            Some(Packet::Publish(p)) => {
                assert!(
                    !held_ids.contains(&p.pkid),
                    "{} got id {}, held by the client: {held_ids:?}",
                    p.topic,
                    p.pkid
                );
                assert!(!fresh.iter().any(|(id, _)| *id == p.pkid), "two deliveries with id {}", p.pkid);
                fresh.push((p.pkid, p.qos));
            }
            other => panic!("{other:?}"),
        }
    }
    // The client releases everything; the new QoS 2 handshake completes under its id.
    let answer = |kind, id| Packet::Ack(Ack::new(kind, id));
    for (id, qos) in &held {
        c.send(&answer(if *qos == QoS::AtLeastOnce { AckKind::PubAck } else { AckKind::PubComp }, *id));
    }
    for (id, qos) in &fresh {
        c.send(&answer(if *qos == QoS::AtLeastOnce { AckKind::PubAck } else { AckKind::PubRec }, *id));
    }
    let (d, _) = fresh.iter().copied().find(|(_, q)| *q == QoS::ExactlyOnce).expect("QoS 2");
    let got = collect(&mut c, |ps| has_ack(ps, AckKind::PubRel, d));
    assert!(has_ack(&got, AckKind::PubRel, d), "{got:?}");
}

#[test]
fn defect_9_two_brokers_dropped_qos2_deliveries_with_the_same_id_are_both_completed() {
    // A delivery rule drops `+/bad`; each broker lets one QoS 1/2 message at a time
    // be in flight to a session, so a handshake left open stalls that link for good.
    let brokers = "max_inflight_messages 1\n";
    let a = Mosquitto::start();
    let l1 = Mosquitto::start_with(common::broker::free_port(), brokers);
    let l2 = Mosquitto::start_with(common::broker::free_port(), brokers);
    // line1 behind a gate that can hold what the proxy sends it.
    let gate = Gate::start(l1.addr());
    let rule = "schemas:\n  - filter: +/bad\n    direction: deliver\n    content: {model: int32, min: 0}\n";
    let proxy = Proxy::start(&config_with(&a.addr(), &gate.addr, &l2.addr(), rule));
    let refused =
        "mqtt_proxy_schema_rejected_total{filter=\"+/bad\",direction=\"deliver\",reason=\"syntax\"} ";
    for (n, (v, id)) in (0u64..).zip([(Protocol::V311, "dropper-3"), (Protocol::V5, "dropper-5")]) {
        let mut connect = connect_packet(v, id, 30);
        if v.is_v5() {
            connect.properties.receive_maximum = Some(1);
        }
        let (mut c, ack) = open(&proxy, connect);
        assert!(connack_ok(&ack), "{v:?}: {ack:?}");
        subscribe(&mut c, 1, &["#"], QoS::ExactlyOnce);
        collect(&mut c, |ps| ps.iter().any(|p| matches!(p, Packet::SubAck(_))));
        // Both brokers deliver a QoS 2 message the rule drops, both under their first
        // id; line1's PUBREL is held back (the proxy's PUBREC waits in the gate)
        // until line2's has come.
        gate.hold();
        publish(l1.port, &["-q", "2", "-t", "line1/bad", "-m", "x"]);
        proxy.wait_metric(refused, 2 * n + 1);
        publish(l2.port, &["-q", "2", "-t", "line2/bad", "-m", "x"]);
        proxy.wait_metric(refused, 2 * n + 2);
        gate.release();
        // Both handshakes were completed by the proxy: both brokers deliver again.
        publish(l1.port, &["-q", "1", "-t", "line1/good", "-m", "g"]);
        publish(l2.port, &["-q", "1", "-t", "line2/good", "-m", "g"]);
        let got = collect(&mut c, |ps| {
            let t = topics(ps);
            t.contains("line1/good g") && t.contains("line2/good g")
        });
        assert!(
            !got.iter().any(|p| matches!(p, Packet::Publish(x) if x.topic.ends_with("/bad"))),
            "{v:?}: {got:?}"
        );
        assert!(
            !got.iter().any(|p| matches!(p, Packet::Ack(a) if a.kind == AckKind::PubRel)),
            "{v:?}: a PUBREL for a delivery the client never had: {got:?}"
        );
    }
}

#[test]
fn defect_5_the_connack_combines_every_broker() {
    let (a, l2) = (Mosquitto::start(), Mosquitto::start());
    let l1 = Mosquitto::start_with(common::broker::free_port(), "max_qos 1\nretain_available false\n");
    let proxy = Proxy::start(&config(&a.addr(), &l1.addr(), &l2.addr()));
    // A persistent session opens every link at CONNECT.
    let mut c = connect_packet(Protocol::V5, "combined", 30);
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(60);
    let (_c, ack) = open(&proxy, c);
    let Some(Packet::ConnAck(ack)) = ack else { panic!("{ack:?}") };
    assert_eq!(ack.reason, ReasonCode::Success);
    assert_eq!(ack.properties.maximum_qos, Some(1), "line1's limit reaches the client");
    assert_eq!(ack.properties.retain_available, Some(0));
}

#[test]
fn defect_6_receive_maximum_counts_every_broker() {
    let (a, l1, l2, proxy) = three();
    let mut c = connect_packet(Protocol::V5, "slow-reader", 30);
    c.properties.receive_maximum = Some(2);
    let (mut c, ack) = open(&proxy, c);
    assert!(connack_ok(&ack), "{ack:?}");
    subscribe(&mut c, 1, &["#"], QoS::AtLeastOnce);
    collect(&mut c, |ps| ps.iter().any(|p| matches!(p, Packet::SubAck(_))));
    for (port, t) in [(a.port, "hall"), (l1.port, "line1"), (l2.port, "line2")] {
        for n in 0..2 {
            publish(port, &["-q", "1", "-t", &format!("{t}/m"), "-m", &n.to_string()]);
        }
    }
    // Each broker alone would send 2 (its own count); together at most 2 unacknowledged.
    let mut unacked = Vec::new();
    let mut received = 0;
    while received < 6 {
        match c.recv_within(Duration::from_millis(700)) {
            Some(Packet::Publish(p)) => {
                received += 1;
                unacked.push(p.pkid);
                assert!(unacked.len() <= 2, "{} deliveries unacknowledged: {unacked:?}", unacked.len());
            }
            Some(other) => panic!("{other:?}"),
            None => {
                // Quiet with 2 in flight: acknowledge one, the next may come.
                assert_eq!(unacked.len(), 2, "stalled with {unacked:?} after {received}");
                let id = unacked.remove(0);
                c.send(&Packet::Ack(Ack::new(AckKind::PubAck, id)));
            }
        }
    }
}

#[test]
fn defect_7_a_silent_broker_blocks_nothing_else() {
    let (a, l1) = (Mosquitto::start(), Mosquitto::start());
    // line2 accepts connections and never answers a CONNECT.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr").to_string();
    let held = std::thread::spawn(move || silent.incoming().take(4).flatten().collect::<Vec<_>>());
    let proxy = Proxy::start(&config(&a.addr(), &l1.addr(), &addr));
    let (mut c, ack) = open(&proxy, connect_packet(Protocol::V5, "patient", 30));
    assert!(connack_ok(&ack), "{ack:?}");
    c.send(&publish_packet("line2/x", "slow", QoS::AtLeastOnce, 1));
    c.send(&publish_packet("hall/x", "fast", QoS::AtLeastOnce, 2));
    c.send(&publish_packet("line1/x", "fast", QoS::AtLeastOnce, 3));
    let got = collect(&mut c, |ps| has_ack(ps, AckKind::PubAck, 1));
    let order: Vec<u16> = got
        .iter()
        .filter_map(|p| match p {
            Packet::Ack(a) if a.kind == AckKind::PubAck => Some(a.pkid),
            _ => None,
        })
        .collect();
    // Two different brokers answer 2 and 3: either may be first; both before 1.
    assert_eq!(order.len(), 3, "{order:?}");
    assert_eq!(order[2], 1, "the healthy brokers answered while line2 was opening: {order:?}");
    assert!(order[..2].contains(&2) && order[..2].contains(&3), "{order:?}");
    assert_eq!(ack_of(&got, AckKind::PubAck, 1), Some(ReasonCode::UnspecifiedError));
    drop(proxy);
    drop(held);
}

#[test]
fn defect_8_shared_subscriptions_reach_the_broker_of_their_filter() {
    let (_a, l1, _l2, proxy) = three();
    let (mut c, ack) = open(&proxy, connect_packet(Protocol::V5, "sharer", 30));
    assert!(connack_ok(&ack), "{ack:?}");
    subscribe(&mut c, 1, &["$share/workers/line1/#"], QoS::AtLeastOnce);
    let got = collect(&mut c, |ps| ps.iter().any(|p| matches!(p, Packet::SubAck(_))));
    assert!(matches!(got.last(), Some(Packet::SubAck(s)) if s.reasons == vec![ReasonCode::GrantedQoS1]));
    publish(l1.port, &["-q", "1", "-t", "line1/job", "-m", "j"]);
    collect(&mut c, |ps| topics(ps).contains("line1/job j"));
}
