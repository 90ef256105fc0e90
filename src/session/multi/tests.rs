//! The multi-broker state machine, driven by the simulated network (thousands of
//! seeded runs) and by hand for each defect of issue #11.

use super::sim::{self, PrefixRouter, Sim};
use super::*;

fn runs(v: Protocol, seeds: std::ops::Range<u64>, steps: usize, receive_maximum: u16) {
    let seeds_len = (seeds.end - seeds.start) as usize;
    let router = PrefixRouter(3);
    let (mut ended, mut steps_run) = (0, 0);
    let mut reasons = std::collections::BTreeMap::new();
    for seed in seeds {
        let session = sim::session(v);
        let now = Instant::now();
        let m = Multi::new(sim::setup(v, 3, receive_maximum), &session, &router, now);
        let mut s = Sim::new(seed, m, v, receive_maximum, now);
        s.run(steps);
        assert!(s.violations.is_empty(), "{v:?} seed {seed}: {:#?}", s.violations);
        ended += usize::from(s.ended.is_some());
        if let Some(c) = &s.ended {
            *reasons.entry(c.to_string()).or_insert(0usize) += 1;
        }
        steps_run += s.steps;
    }
    let n = seeds_len;
    eprintln!("{v:?}: {n} runs, {ended} ended early, {} steps on average; {reasons:?}", steps_run / n);
    // The schedule must not end runs so early that they test nothing.
    assert!(steps_run / n > steps / 4, "runs end too early");
}

#[test]
fn simulated_network_v5() {
    runs(Protocol::V5, 0..1500, 400, 5);
}

#[test]
fn simulated_network_v311() {
    runs(Protocol::V311, 10_000..11_000, 400, 65_535);
}

#[test]
fn simulated_network_v5_roomy_receive_maximum() {
    runs(Protocol::V5, 20_000..21_000, 400, 100);
}

// ----- by hand: one test per defect of issue #11 -----

use crate::mqtt::{MqttStr, Publish, SubscriptionOptions};

/// Where an action goes, with its packet decoded (for readable assertions).
#[derive(Debug, Clone, PartialEq)]
enum Out {
    Client(Packet),
    Link(usize, Packet),
    Open(usize),
    Close(usize),
    End(Close),
}

struct Hand<'a> {
    m: Multi<'a>,
    v: Protocol,
    now: Instant,
}

impl<'a> Hand<'a> {
    fn new(session: &'a Session, router: &'a PrefixRouter, setup: Setup) -> Self {
        let v = setup.protocol;
        let now = Instant::now();
        Hand { m: Multi::new(setup, session, router, now), v, now }
    }

    fn out(&mut self) -> Vec<Out> {
        let v = self.v;
        let dec = |b: Bytes| mqtt::decode_bytes(b, v, usize::MAX).expect("valid");
        std::iter::from_fn(|| self.m.poll_action())
            .filter_map(|a| match a {
                Action::ToClient(b) => Some(Out::Client(dec(b))),
                Action::ToLink(k, b) => Some(Out::Link(k, dec(b))),
                Action::Open(k, _) => Some(Out::Open(k)),
                Action::Close(k) => Some(Out::Close(k)),
                Action::End(c) => Some(Out::End(c)),
                _ => None,
            })
            .collect()
    }

    fn client(&mut self, p: Packet) -> Vec<Out> {
        let f = Frame::from_bytes(p.to_bytes(self.v).expect("encodes"), usize::MAX).expect("frame");
        self.m.from_client(f, self.now);
        self.out()
    }

    fn link(&mut self, k: usize, p: Packet) -> Vec<Out> {
        let f = Frame::from_bytes(p.to_bytes(self.v).expect("encodes"), usize::MAX).expect("frame");
        self.m.from_link(k, f, self.now);
        self.out()
    }

    fn connack(&mut self, k: usize, ack: ConnAck) -> Vec<Out> {
        self.link(k, Packet::ConnAck(ack))
    }

    /// Advances the clock by `d`, firing every timer due on the way.
    fn wait(&mut self, d: Duration) -> Vec<Out> {
        let end = self.now + d;
        let mut out = Vec::new();
        while let Some(t) = self.m.poll_timeout().filter(|&t| t <= end) {
            self.now = t.max(self.now);
            self.m.handle_timeout(self.now);
            out.extend(self.out());
        }
        self.now = end;
        out
    }
}

fn ok() -> ConnAck {
    ConnAck::new(ReasonCode::Success, false)
}

fn publish(topic: &'static str, qos: QoS, pkid: u16) -> Packet {
    Packet::Publish(Publish {
        qos,
        pkid,
        ..Publish::new(MqttStr::from_static(topic), Bytes::from_static(b"p"))
    })
}

fn ack(kind: AckKind, pkid: u16) -> Packet {
    Packet::Ack(Ack::new(kind, pkid))
}

fn ack_with(kind: AckKind, pkid: u16, reason: ReasonCode) -> Packet {
    Packet::Ack(Ack { reason, ..Ack::new(kind, pkid) })
}

fn subscribe(pkid: u16, filter: &'static str, id: Option<u32>) -> Packet {
    let no_local = !filter.starts_with("$share/");
    let options = SubscriptionOptions { qos: QoS::AtLeastOnce, no_local, ..Default::default() };
    Packet::Subscribe(Subscribe {
        pkid,
        filters: vec![SubscribeFilter { filter: MqttStr::from_static(filter), options }],
        properties: with_subscription_id(id),
    })
}

fn v5(links: usize) -> Setup {
    sim::setup(Protocol::V5, links, 65_535)
}

/// A session with links 0 and 1 open and the client's CONNACK out.
fn two_open<'a>(session: &'a Session, router: &'a PrefixRouter, setup: Setup) -> Hand<'a> {
    let mut h = Hand::new(session, router, setup);
    assert!(matches!(h.connack(0, ok())[..], [Out::Client(Packet::ConnAck(_))]));
    assert_eq!(h.client(publish("l1/a", QoS::AtMostOnce, 0)), vec![Out::Open(1)]);
    // Link 1 opened on first use; its CONNACK flushes the queued publish.
    let out = h.connack(1, ok());
    assert!(matches!(&out[..], [Out::Link(1, Packet::Publish(_))]), "{out:?}");
    h
}

#[test]
fn defect_1_every_link_is_kept_alive_on_its_own_clock() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(2));
    let mut h = two_open(&s, &r, v5(2));
    // The client talks only to link 1, for three keep alives (10 s each).
    let mut pings0 = 0;
    for _ in 0..60 {
        let out = h.wait(Duration::from_millis(500));
        pings0 += out.iter().filter(|o| **o == Out::Link(0, Packet::PingReq)).count();
        let sent = h.client(publish("l1/a", QoS::AtMostOnce, 0));
        assert!(matches!(&sent[..], [Out::Link(1, _)]));
        // Every PINGREQ is answered, so no link is lost.
        if pings0 > 0 {
            assert_eq!(h.link(0, Packet::PingResp), vec![]);
        }
    }
    assert!(pings0 >= 5, "link 0 got {pings0} PINGREQs in 30 s with a 10 s keep alive");
    assert!(h.m.client_readable(), "the session goes on");
}

#[test]
fn defect_1_an_unanswered_pingreq_loses_the_link_and_a_server_keep_alive_is_used() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(2));
    let mut h = two_open(&s, &r, v5(2));
    let _ = h.wait(Duration::from_secs(5));
    assert_eq!(h.link(0, Packet::PingResp), vec![]);
    // Link 1 never answers: lost after its keep alive, then re-opened. Link 0
    // answers its PINGREQs.
    let mut out = Vec::new();
    for _ in 0..16 {
        let step = h.wait(Duration::from_secs(1));
        if step.contains(&Out::Link(0, Packet::PingReq)) {
            assert_eq!(h.link(0, Packet::PingResp), vec![]);
        }
        out.extend(step);
    }
    assert!(!out.iter().any(|o| matches!(o, Out::End(_))), "{out:?}");
    assert!(out.contains(&Out::Close(1)), "{out:?}");
    assert!(out.contains(&Out::Open(1)), "re-opened in the background: {out:?}");
    // A broker that says Server Keep Alive 2 is pinged every second.
    let mut a = ok();
    a.properties.server_keep_alive = Some(2);
    assert_eq!(h.connack(1, a), vec![]);
    let out = h.wait(Duration::from_millis(1_000));
    assert!(out.contains(&Out::Link(1, Packet::PingReq)), "{out:?}");
}

#[test]
fn defect_2_a_lost_link_comes_back_alone_with_its_subscriptions() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(2));
    let mut h = two_open(&s, &r, v5(2));
    // A pure subscriber: `#` goes to both links, with a Subscription Identifier.
    let out = h.client(subscribe(7, "#", Some(42)));
    assert_eq!(out.len(), 2, "{out:?}");
    let suback = |pkid| {
        Packet::SubAck(SubAck {
            pkid,
            reasons: vec![ReasonCode::GrantedQoS1],
            properties: Default::default(),
        })
    };
    assert_eq!(h.link(0, suback(7)), vec![]);
    assert!(matches!(&h.link(1, suback(7))[..], [Out::Client(Packet::SubAck(a))] if a.pkid == 7));
    // The client has QoS 1 publish 65535 in flight on link 1 when it dies; the
    // restore must not take that id.
    let _ = h.client(publish("l1/a", QoS::AtLeastOnce, 65_535));
    h.m.link_down(1, "killed", h.now);
    let out = h.out();
    assert!(
        out.contains(&Out::Client(ack_with(AckKind::PubAck, 65_535, ReasonCode::UnspecifiedError))),
        "{out:?}"
    );
    // No client activity at all: the link is retried with growing waits.
    let out = h.wait(Duration::from_millis(250));
    assert_eq!(out, vec![Out::Open(1)]);
    h.m.link_down(1, "refused", h.now);
    assert_eq!(h.wait(Duration::from_millis(300)), vec![], "the second wait is longer");
    assert_eq!(h.wait(Duration::from_millis(200)), vec![Out::Open(1)]);
    // Back without a session: its subscription returns, options and identifier kept.
    let _ = h.client(publish("l1/a", QoS::AtLeastOnce, 9));
    let out = h.connack(1, ok());
    let Some(Out::Link(1, Packet::Subscribe(sub))) = out.first() else { panic!("no restore: {out:?}") };
    assert_eq!(sub.properties.subscription_identifier, Some(42));
    assert_eq!(&*sub.filters[0].filter, "#");
    assert!(sub.filters[0].options.no_local);
    assert_ne!(sub.pkid, 9, "not an id the client uses there");
    assert!(matches!(&out[1..], [Out::Link(1, Packet::Publish(p))] if p.pkid == 9), "{out:?}");
    // Its SUBACK is the proxy's own: the client never sees it.
    assert_eq!(h.link(1, suback(sub.pkid)), vec![]);
}

#[test]
fn defect_2_a_will_whose_broker_is_unreachable_refuses_the_connect() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(2));
    let setup = Setup { open_at_connect: vec![1], will_link: Some(1), ..v5(2) };
    let mut h = Hand::new(&s, &r, setup);
    assert_eq!(h.out(), vec![Out::Open(1)]);
    assert_eq!(h.connack(0, ok()), vec![], "the CONNACK waits for the will's broker");
    h.m.link_down(1, "refused", h.now);
    let out = h.out();
    assert!(matches!(&out[..], [Out::End(Close::UpstreamGone(_))]), "{out:?}");
    assert!(!s.connack_seen(), "no CONNACK went out: the driver answers 0x88 / 3");
}

#[test]
fn defect_3_in_flight_publishes_on_a_lost_link_are_refused_never_acknowledged() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(2));
    let mut h = two_open(&s, &r, v5(2));
    let _ = h.client(publish("l1/a", QoS::AtLeastOnce, 1));
    let _ = h.client(publish("l1/b", QoS::ExactlyOnce, 2));
    let _ = h.client(publish("l1/c", QoS::ExactlyOnce, 3));
    // The broker took 3 (PUBREC), and the client released it (PUBREL on link 1).
    assert_eq!(h.link(1, ack(AckKind::PubRec, 3)), vec![Out::Client(ack(AckKind::PubRec, 3))]);
    assert_eq!(h.client(ack(AckKind::PubRel, 3)), vec![Out::Link(1, ack(AckKind::PubRel, 3))]);
    let _ = h.client(publish("l1/d", QoS::ExactlyOnce, 4));
    assert_eq!(h.link(1, ack(AckKind::PubRec, 4)), vec![Out::Client(ack(AckKind::PubRec, 4))]);
    h.m.link_down(1, "killed", h.now);
    let out = h.out();
    let e = ReasonCode::UnspecifiedError;
    assert!(out.contains(&Out::Client(ack_with(AckKind::PubAck, 1, e))), "{out:?}");
    assert!(out.contains(&Out::Client(ack_with(AckKind::PubRec, 2, e))), "{out:?}");
    let gone = ReasonCode::PacketIdentifierNotFound;
    assert!(out.contains(&Out::Client(ack_with(AckKind::PubComp, 3, gone))), "{out:?}");
    assert_eq!(out.len(), 3, "4 waits for its PUBREL: {out:?}");
    // The PUBREL of a publish whose broker is gone never goes to another broker.
    assert_eq!(h.client(ack(AckKind::PubRel, 4)), vec![Out::Client(ack_with(AckKind::PubComp, 4, gone))]);
    assert_eq!(h.client(ack(AckKind::PubRel, 77)), vec![Out::Client(ack_with(AckKind::PubComp, 77, gone))]);
    // A publish while the link rests is refused at once.
    assert_eq!(
        h.client(publish("l1/e", QoS::AtLeastOnce, 5)),
        vec![Out::Client(ack_with(AckKind::PubAck, 5, e))]
    );
}

#[test]
fn defect_3_a_v311_client_is_disconnected_to_resend() {
    let (s, r) = (sim::session(Protocol::V311), PrefixRouter(2));
    let setup = sim::setup(Protocol::V311, 2, 65_535);
    let mut h = two_open(&s, &r, setup);
    let _ = h.client(publish("l1/a", QoS::AtLeastOnce, 1));
    h.m.link_down(1, "killed", h.now);
    let out = h.out();
    assert!(matches!(&out[..], [Out::End(Close::UpstreamGone(_))]), "no false PUBACK: {out:?}");
}

#[test]
fn defect_4_ids_the_client_holds_outlive_their_link() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(2));
    let mut h = two_open(&s, &r, v5(2));
    // A QoS 2 delivery from link 1, PUBREC'd by the client, then link 1 dies.
    let out = h.link(1, publish("l1/x", QoS::ExactlyOnce, 1));
    let Some(Out::Client(Packet::Publish(p))) = out.first() else { panic!("{out:?}") };
    let held = p.pkid;
    assert_eq!(h.client(ack(AckKind::PubRec, held)), vec![Out::Link(1, ack(AckKind::PubRec, 1))]);
    h.m.link_down(1, "killed", h.now);
    // The proxy releases it (no broker will), and the id stays held until PUBCOMP.
    assert_eq!(h.out(), vec![Out::Client(ack(AckKind::PubRel, held))]);
    let _ = h.wait(Duration::from_millis(250));
    let _ = h.connack(1, ok());
    // Link 1's new session numbers from 1 again; so does link 0 with the same
    // preferred id: neither may get the held id.
    for (k, id) in [(1, 1), (0, held)] {
        let out = h.link(k, publish("l/y", QoS::AtLeastOnce, id));
        let Some(Out::Client(Packet::Publish(p))) = out.first() else { panic!("{out:?}") };
        assert_ne!(p.pkid, held, "id {held} reused while the client holds it");
    }
    assert_eq!(h.client(ack(AckKind::PubComp, held)), vec![], "answered here: its broker is gone");
}

#[test]
fn defect_5_the_client_connack_combines_every_link_opened_at_connect() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(3));
    let setup = Setup { open_at_connect: vec![1, 2], ..v5(3) };
    let mut h = Hand::new(&s, &r, setup);
    assert_eq!(h.out(), vec![Out::Open(1), Out::Open(2)]);
    let mut a = ConnAck::new(ReasonCode::Success, true);
    a.properties.receive_maximum = Some(100);
    assert_eq!(h.connack(0, a), vec![]);
    let mut b = ConnAck::new(ReasonCode::Success, true);
    b.properties.receive_maximum = Some(10);
    b.properties.maximum_qos = Some(1);
    assert_eq!(h.connack(1, b), vec![]);
    assert!(!h.m.client_readable(), "the client waits for every link");
    // A queued message link 1 sent meanwhile waits for the client's CONNACK.
    assert!(!h.m.link_readable(1));
    assert_eq!(h.link(1, publish("l1/q", QoS::AtMostOnce, 0)), vec![]);
    let mut c = ConnAck::new(ReasonCode::Success, false);
    c.properties.wildcard_subscription_available = Some(0);
    let out = h.connack(2, c);
    let [Out::Client(Packet::ConnAck(got)), Out::Client(Packet::Publish(q))] = &out[..] else {
        panic!("{out:?}")
    };
    assert!(!got.session_present, "link 2 had no session");
    assert_eq!(got.properties.receive_maximum, Some(10));
    assert_eq!(got.properties.maximum_qos, Some(1));
    assert_eq!(got.properties.wildcard_subscription_available, Some(0));
    assert_eq!(&*q.topic, "l1/q");
}

#[test]
fn defect_6_receive_maximum_counts_every_link() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(2));
    let setup = sim::setup(Protocol::V5, 2, 2);
    let mut h = two_open(&s, &r, setup);
    let one = h.link(0, publish("l0/a", QoS::AtLeastOnce, 1));
    let two = h.link(1, publish("l1/a", QoS::AtLeastOnce, 1));
    assert_eq!((one.len(), two.len()), (1, 1));
    // A third is held, and so is what follows it on that link; the other link's
    // QoS 0 still flows.
    assert_eq!(h.link(1, publish("l1/b", QoS::AtLeastOnce, 2)), vec![]);
    assert_eq!(h.link(1, publish("l1/c", QoS::AtMostOnce, 0)), vec![]);
    assert_eq!(h.link(0, publish("l0/z", QoS::AtMostOnce, 0)).len(), 1);
    let Some(Out::Client(Packet::Publish(p))) = one.first() else { panic!() };
    let out = h.client(ack(AckKind::PubAck, p.pkid));
    let topics: Vec<String> = out
        .iter()
        .filter_map(|o| match o {
            Out::Client(Packet::Publish(p)) => Some(p.topic.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(topics, vec!["l1/b", "l1/c"], "released in order: {out:?}");
}

#[test]
fn defect_7_a_link_that_opens_slowly_blocks_nothing_else() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(3));
    let mut h = Hand::new(&s, &r, v5(3));
    let _ = h.connack(0, ok());
    // Link 2 is opening (no CONNACK yet); its publish is queued, not waited for.
    assert_eq!(h.client(publish("l2/a", QoS::AtLeastOnce, 1)), vec![Out::Open(2)]);
    // Meanwhile the client's traffic to link 0 and its pings go on.
    assert!(matches!(&h.client(publish("l0/a", QoS::AtLeastOnce, 2))[..], [Out::Link(0, _)]));
    assert_eq!(h.client(Packet::PingReq), vec![Out::Client(Packet::PingResp)]);
    // Link 2 never answers: after the open timeout its publish is refused.
    let out = h.wait(Duration::from_secs(5));
    assert!(
        out.contains(&Out::Client(ack_with(AckKind::PubAck, 1, ReasonCode::UnspecifiedError))),
        "{out:?}"
    );
}

#[test]
fn defect_8_shared_subscriptions_route_by_their_inner_filter() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(3));
    let mut h = Hand::new(&s, &r, v5(3));
    let _ = h.connack(0, ok());
    let out = h.client(subscribe(3, "$share/g/l2/#", None));
    assert!(out.contains(&Out::Open(2)), "{out:?}");
    assert_eq!(routed_filter("$share/g/l2/#"), "l2/#");
    assert_eq!(routed_filter("$share/g"), "$share/g");
    assert_eq!(routed_filter("l2/#"), "l2/#");
}

#[test]
fn defect_9_dropped_deliveries_are_kept_per_link() {
    use crate::session::refuse::Dropped;
    let d = Dropped::default();
    let _ = d.accept_qos2(1, 5, Protocol::V5);
    assert!(d.pubrel(2, 5, Protocol::V5).is_none(), "link 2's id 5 is another message");
    assert!(d.pubrel(1, 5, Protocol::V5).is_some());
}

#[test]
fn the_subscriptions_a_link_keeps_for_restoring_are_bounded() {
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(2));
    let mut h = two_open(&s, &r, v5(2));
    // 20 filters of 60,000 bytes for link 1 (and, as always, the session's own
    // broker): 17 fit a link's 1 MiB of kept filters.
    let long = |n: usize| format!("l1/{n:02}{}", "x".repeat(60_000 - 5));
    let sub = |pkid: u16, names: Vec<String>| {
        let options = SubscriptionOptions { qos: QoS::AtLeastOnce, ..Default::default() };
        let filters = names
            .into_iter()
            .map(|f| SubscribeFilter { filter: MqttStr::try_from(f).expect("filter"), options })
            .collect();
        Packet::Subscribe(Subscribe { pkid, filters, properties: Default::default() })
    };
    // (link, link-side id, filters) of each SUBSCRIBE sent; never printed whole.
    let sent = |out: &[Out]| -> Vec<(usize, u16, usize)> {
        out.iter()
            .filter_map(|o| match o {
                Out::Link(k, Packet::Subscribe(s)) => Some((*k, s.pkid, s.filters.len())),
                _ => None,
            })
            .collect()
    };
    let out = h.client(sub(3, (0..20).map(long).collect()));
    let parts = sent(&out);
    assert_eq!(parts.iter().map(|(k, _, n)| (*k, *n)).collect::<Vec<_>>(), vec![(0, 17), (1, 17)]);
    let mut merged = None;
    for (k, id, n) in parts {
        let granted =
            SubAck { pkid: id, reasons: vec![ReasonCode::GrantedQoS1; n], properties: Default::default() };
        for o in h.link(k, Packet::SubAck(granted)) {
            if let Out::Client(Packet::SubAck(a)) = o {
                merged = Some(a);
            }
        }
    }
    let merged = merged.expect("one merged SUBACK");
    let over = merged.reasons.iter().filter(|r| **r == ReasonCode::QuotaExceeded).count();
    assert_eq!((merged.reasons.len(), over), (20, 3), "{:?}", merged.reasons);
    assert!(h.m.check().is_ok());
    // An UNSUBSCRIBE frees room; a filter already kept is not another one.
    let unsub = Packet::Unsubscribe(Unsubscribe {
        pkid: 4,
        filters: vec![MqttStr::try_from(long(0)).expect("filter")],
        properties: Default::default(),
    });
    let out = h.client(unsub);
    assert_eq!(out.iter().filter(|o| matches!(o, Out::Link(_, Packet::Unsubscribe(_)))).count(), 2);
    let out = h.client(sub(5, vec![long(1), long(18)]));
    assert_eq!(sent(&out).iter().map(|(k, _, n)| (*k, *n)).collect::<Vec<_>>(), vec![(0, 2), (1, 2)]);
    assert!(h.m.check().is_ok());
}

// ----- fuzz findings, kept as regression tests -----

#[test]
fn fuzz_no_action_after_the_end() {
    let data = [
        34, 7, 9, 0, 0, 6, 32, 9, 0, 0, 6, 34, 0, 10, 170, 0, 33, 20, 9, 0, 32, 84, 2, 0, 189, 189, 39, 173,
        189, 189, 189, 189, 255, 255, 255, 189, 157, 189, 255, 255, 0, 0, 0, 0, 0, 0, 159, 223, 6, 153, 223,
        252, 255,
    ];
    super::replay::replay(&data);
}

#[test]
fn fuzz_a_publish_in_flight_keeps_its_link_id() {
    let data = [
        211, 146, 0, 0, 16, 32, 2, 0, 0, 91, 15, 252, 252, 252, 252, 252, 6, 6, 6, 6, 6, 206, 0, 0, 0, 6, 12,
        21, 0, 252, 250, 186, 0, 0, 0, 0, 0, 0, 38, 0, 0, 0, 0, 2, 0, 0, 16, 17, 0, 2, 32, 182, 3, 3, 4, 221,
        224, 201, 3, 3, 3, 3, 3, 3, 113, 50, 20, 0, 5, 99, 97, 112, 47, 99, 0, 2, 0, 0, 0, 38, 0, 0, 0, 0, 2,
        0, 0, 50, 20, 0, 5, 99, 97, 112, 47, 38, 2, 41, 0, 99, 0, 0, 0, 0, 0, 0, 2, 0, 0, 50, 20, 0, 5, 99,
        97, 112, 47, 38, 2, 4, 0, 99, 0, 0, 0, 0, 0, 0, 2, 0, 0, 52, 20, 0, 5, 99, 97, 112, 47, 37, 0, 32, 0,
        16, 32, 2, 1, 0, 182, 3, 3, 4, 221, 224, 201, 3, 3, 3, 253, 252, 255, 236, 32, 2, 79, 79, 79, 79, 79,
        79, 79, 79, 79, 79, 79, 79, 79, 79, 79, 2, 4, 79, 79, 79, 79, 0, 0, 0, 0, 11, 52, 0, 0, 2, 0, 0, 50,
        20, 0, 5, 99, 97, 112, 47, 37, 0, 32, 0, 16, 32, 2, 1, 1, 182, 3, 3, 4, 221, 224, 201, 3, 3, 3, 3,
        46, 3, 0, 16, 32, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 113, 80, 2, 0, 113, 80, 2, 0, 99, 0, 2, 4, 11, 17, 2,
        0, 0, 0, 0, 0, 0, 0, 0, 55, 31, 219, 4, 2, 32, 182, 3, 3, 4, 221, 224, 201, 3, 3, 3, 3, 3, 3, 113,
        50, 20, 0, 5, 99, 97, 112, 47, 99, 0, 2, 0, 0, 0, 38, 0, 0, 0, 0, 2, 0, 0, 50, 20, 0, 5, 99, 97, 112,
        47, 38, 2, 41, 0, 99, 0, 0, 0, 0, 0, 0, 2, 0, 0, 50, 20, 0, 5, 99, 97, 112, 47, 38, 2, 4, 0, 99, 0,
        0, 0, 0, 0, 0, 2, 0, 0, 50, 20, 0, 5, 99, 97, 112, 47, 37, 0, 32, 0, 16, 32, 2, 1, 0, 182, 3, 3, 4,
        221, 224, 201, 3, 3, 3, 253, 252, 255, 236, 32, 2, 79, 79, 79, 79, 79, 79, 79, 79, 79, 79, 79, 79,
        79, 79, 79, 79, 79, 79, 79, 2, 4, 0, 0, 0, 0, 11, 52, 0, 0, 0, 0, 0, 52, 0, 224, 201, 0, 3, 3,
    ];
    super::replay::replay(&data);
}

#[test]
fn fuzz_actions_are_carried_out_after_every_frame_as_the_driver_does() {
    let data = [
        96, 0, 6, 32, 9, 0, 0, 6, 34, 0, 74, 48, 0, 33, 83, 0, 98, 2, 91, 64, 98, 2, 98, 33, 91, 0, 98, 2,
        91, 221, 98, 2, 39, 28, 98, 2, 0, 178, 58, 12, 0, 5, 99, 33, 112, 47, 9, 161, 0, 0, 55, 0, 98, 2, 0,
        5, 99, 33, 112, 47, 9, 161, 0, 0, 55, 0, 158, 250, 98, 33, 39, 0, 152, 253, 0, 0, 0, 0, 0, 0, 0, 20,
        0, 98, 2, 91, 221, 98, 2, 39, 28, 98, 2, 0, 20, 58, 45, 0, 5, 108, 50, 47, 89, 37, 89, 0, 0, 57, 9,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 18, 168, 169, 27, 0, 0, 0, 0, 0, 0, 0, 0, 6, 34, 0, 10, 170, 0, 19,
        252, 29, 91, 33, 255, 255, 0, 45, 0, 6, 32, 9, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 34, 0, 10, 170, 253,
        236, 13, 13, 13, 13, 0, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 18,
        168, 169, 27, 0, 0, 0, 0, 0, 12, 0, 5, 99, 33, 20, 130, 123, 79, 79, 79, 79, 79, 79, 113, 113, 0, 0,
        0, 0, 0, 0, 0, 113, 113, 113, 113, 113, 113, 113, 113, 115, 113, 113, 113, 175, 175, 175, 175, 175,
        175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 255, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 38, 58, 134, 32, 3, 0, 0, 0, 113, 113, 113, 113, 113, 113, 113, 0, 0, 0, 0,
        0, 0, 0, 113, 113, 113, 113, 113, 113, 115, 113, 113, 113, 113, 235, 113, 113, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 113, 113, 113, 113,
        113, 113, 113, 113, 113, 113, 113, 113, 0, 98, 2, 91, 33, 91, 0, 98, 255, 255, 255, 255, 255, 255, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 6, 34, 0, 10, 170, 0, 0, 0, 0, 0, 0,
        0, 113, 113, 113, 113, 113, 113, 115, 113, 113, 113, 113, 235, 113, 113, 113, 113, 113, 113, 113,
        113, 113, 113, 113, 113, 113, 113, 0, 98, 2, 91, 33, 188, 188, 188, 188, 188, 188, 188, 91, 0, 98,
        255, 255, 255, 255, 255, 255, 255, 2, 33, 20, 130, 123, 79, 79, 79, 79, 79, 79, 113, 113, 0, 0, 0, 0,
        0, 0, 0, 113, 113, 113, 113, 113, 113, 113, 113, 115, 113, 113, 113, 175, 175, 175, 175, 175, 175,
        175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 175, 255, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 38, 58, 134, 32, 3, 0, 0, 0, 113, 113, 113, 113, 113, 113, 113, 0, 0, 0, 0, 0,
        0, 0, 113, 113, 113, 113, 113, 113, 115, 113, 113, 113, 113, 235, 113, 113, 113, 113, 113, 113, 113,
        113, 113, 113, 113, 113, 113, 113, 0, 98, 2, 91, 33, 91, 0, 98, 255, 255, 255, 255, 255, 255, 255, 2,
        33, 20, 130, 123, 79, 79, 79, 79, 79, 79, 44, 32, 0, 0, 0, 0, 0, 0, 113, 113, 113, 113, 113, 113,
        113, 0, 0, 0, 0, 0, 0, 0, 113, 113, 113, 113, 113, 113, 115, 113, 113, 113, 49, 235, 113, 113, 211,
        211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211,
        211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211,
        211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 211, 113, 113, 113, 113, 113, 113, 113, 113, 113,
        113, 113, 113, 0, 98, 2, 91, 33, 91, 0, 98, 2, 91, 28, 98, 6, 91, 113, 42, 9, 0, 0, 6, 45, 32, 9, 0,
        0, 0, 20, 0, 0, 0, 0, 0, 10, 170, 0, 19, 6, 0, 8, 33, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 38, 58, 134, 32, 3, 0, 0, 0, 113, 113, 113, 113, 113, 113, 113, 0, 0, 0, 0, 0, 0, 0, 113,
        121, 113, 113, 113, 113, 115, 113, 113, 113, 113, 235, 0, 19, 252, 29, 189, 189, 189, 189, 189, 189,
        189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189,
        189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189, 189,
        189, 189, 189, 91, 33, 255, 255, 0, 45, 0, 6, 32, 9, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 34, 0, 10,
        170, 0, 19, 13, 13, 13, 13, 0, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        255, 255, 0, 0, 255, 255, 255, 255, 255, 255, 255, 0, 255, 255, 255, 39, 255, 255, 249, 221, 255,
        255, 255, 0, 38, 58, 134, 32, 9, 1, 0, 0, 95, 155, 143, 255, 90, 89, 14, 47, 0, 0, 6, 255, 0, 34,
        196, 10, 33, 10, 28, 244, 154, 42, 2,
    ];
    super::replay::replay(&data);
}

#[test]
fn defect_4_a_pubrel_resent_after_a_persistent_reconnect_reaches_the_id_the_client_holds() {
    // The client held delivery 16,385 (link 1's broker id 1) when it left; back with
    // its session, the broker re-sends PUBREL 1 before anything new.
    let (s, r) = (sim::session(Protocol::V5), PrefixRouter(2));
    let mut h = two_open(&s, &r, v5(2));
    let out = h.link(1, ack(AckKind::PubRel, 1));
    assert_eq!(out, vec![Out::Client(ack(AckKind::PubRel, ids::preferred(1, 1)))]);
    // A new delivery on link 1 meanwhile does not get the held id.
    let out = h.link(1, publish("l1/n", QoS::AtLeastOnce, 2));
    assert!(
        matches!(&out[..], [Out::Client(Packet::Publish(p))] if p.pkid != ids::preferred(1, 1)),
        "{out:?}"
    );
    // The client's PUBCOMP goes back to the broker under its id.
    assert_eq!(
        h.client(ack(AckKind::PubComp, ids::preferred(1, 1))),
        vec![Out::Link(1, ack(AckKind::PubComp, 1))]
    );
}
