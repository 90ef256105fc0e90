//! A simulated network for the multi-broker session: one model client, three model
//! brokers, FIFO wires between them and the state machine, a virtual clock, and a
//! seeded random schedule that interleaves client traffic, broker deliveries, acks
//! reordered across links, link losses, failed and slow re-opens and the passage
//! of time. Invariants are checked after every step:
//!
//! - no success PUBACK / PUBREC / PUBCOMP reaches the client before the broker that
//!   took the message acknowledged it (refusal codes are allowed);
//! - every client QoS 1/2 publish and every SUBSCRIBE is answered exactly once (at
//!   the end, after a quiet drain, nothing is left unanswered);
//! - a new delivery never carries an id the client still holds;
//! - the client never holds more deliveries than its Receive Maximum;
//! - a broker only gets PUBREL for a PUBLISH it received, and acks only for its
//!   own deliveries;
//! - the proxy writes to every open link at least once per keep alive, and only
//!   to links that are open.
//!
//! Deterministic: the same seed gives the same run, so a failing seed is a test.

use super::*;
use crate::mqtt::{Connect, ConnectProperties, MqttStr, Publish, SubscriptionOptions};
use std::collections::{HashMap, HashSet};

/// SplitMix64: small, seedable, good enough for schedules.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
}

/// Topics `l{k}/…` go to link k; filters `l{k}/…` to link k, wildcards to all.
pub struct PrefixRouter(pub usize);

impl Router for PrefixRouter {
    fn publish_link(&self, topic: &str) -> usize {
        link_of(topic, self.0).unwrap_or(0)
    }
    fn subscribe_links(&self, filter: &str, out: &mut Vec<usize>) {
        match link_of(filter, self.0) {
            Some(k) => out.push(k),
            None if filter.starts_with('#') || filter.starts_with('+') => out.extend(0..self.0),
            None => {}
        }
    }
}

fn link_of(t: &str, links: usize) -> Option<usize> {
    let rest = t.strip_prefix('l')?;
    let (n, _) = rest.split_once('/')?;
    n.parse().ok().filter(|&k| k < links)
}

/// A model broker behind one link.
#[derive(Default)]
struct Broker {
    connected: bool,
    /// Proxy → broker, in order.
    inbox: VecDeque<Bytes>,
    /// Broker → proxy, in order.
    outbox: VecDeque<Bytes>,
    /// QoS 2 publishes received (PUBREC sent), by link id → message.
    qos2_in: HashMap<u16, String>,
    /// Its own deliveries in flight: id → (QoS 2?, PUBREC received?).
    out: HashMap<u16, (bool, bool)>,
    next_id: u16,
    subscribed: bool,
    /// Last time the proxy wrote to it (the keep-alive clock), and its keep alive.
    last_heard: Option<Instant>,
    keep_alive: u16,
    /// An Open is pending.
    opening: bool,
}

/// What the client has in flight.
#[derive(Debug, Clone)]
struct Sent {
    msg: String,
    qos: QoS,
    released: bool,
}

/// The world.
pub struct Sim<'a> {
    rng: Rng,
    v: Protocol,
    now: Instant,
    m: Multi<'a>,
    brokers: Vec<Broker>,
    to_client: VecDeque<Bytes>,
    from_client: VecDeque<Bytes>,
    /// Messages a broker acknowledged (PUBACK or PUBREC), and QoS 2 it released (PUBCOMP).
    acked: HashSet<String>,
    completed: HashSet<String>,
    /// Client publishes in flight by client id, and SUBSCRIBE / UNSUBSCRIBE ids.
    sent: HashMap<u16, Sent>,
    subscribing: HashSet<u16>,
    /// Deliveries the client holds: id → (QoS 2?, PUBREC sent?).
    held: HashMap<u16, (bool, bool)>,
    /// Acks the client owes, sent later in random order.
    owed: Vec<Bytes>,
    receive_maximum: usize,
    msg_no: u64,
    connacked: bool,
    pub ended: Option<Close>,
    pub violations: Vec<String>,
    pub steps: usize,
}

fn encode(p: Packet, v: Protocol) -> Bytes {
    p.to_bytes(v).expect("model packets encode")
}

fn frame(b: Bytes) -> Frame {
    Frame::from_bytes(b, usize::MAX).expect("one frame")
}

fn decode(b: &Bytes, v: Protocol) -> Packet {
    mqtt::decode_bytes(b.clone(), v, usize::MAX).expect("the proxy writes valid packets")
}

/// The CONNECT every link opens with (the model brokers do not read it).
fn connect_bytes(v: Protocol) -> Bytes {
    let c = Connect {
        protocol: v,
        clean_start: true,
        keep_alive: 10,
        client_id: MqttStr::from_static("sim"),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    };
    encode(Packet::Connect(Box::new(c)), v)
}

/// The session of a run: lives as long as the run (the machine borrows it).
pub fn session(v: Protocol) -> Session {
    Session::new(v, 10, None).without_topic_aliases()
}

/// The setup of a run with `links` links and the client's Receive Maximum.
pub fn setup(v: Protocol, links: usize, receive_maximum: u16) -> Setup {
    Setup {
        protocol: v,
        connects: vec![connect_bytes(v); links],
        open_at_connect: vec![],
        will_link: None,
        keep_alive: 10,
        receive_maximum,
        open_timeout: Duration::from_secs(4),
    }
}

impl<'a> Sim<'a> {
    pub fn new(seed: u64, m: Multi<'a>, v: Protocol, receive_maximum: u16, now: Instant) -> Self {
        let links = m.links();
        let mut s = Sim {
            rng: Rng::new(seed),
            v,
            now,
            m,
            brokers: (0..links).map(|_| Broker::default()).collect(),
            to_client: VecDeque::new(),
            from_client: VecDeque::new(),
            acked: HashSet::new(),
            completed: HashSet::new(),
            sent: HashMap::new(),
            subscribing: HashSet::new(),
            held: HashMap::new(),
            owed: Vec::new(),
            receive_maximum: usize::from(receive_maximum),
            msg_no: 0,
            connacked: false,
            ended: None,
            violations: Vec::new(),
            steps: 0,
        };
        // Link 0 got the client's CONNECT from the driver.
        s.brokers[0].opening = true;
        s.drain_actions();
        s
    }

    fn bad(&mut self, what: String) {
        if self.violations.len() < 20 {
            self.violations.push(format!("step {}: {what}", self.steps));
        }
    }

    fn drain_actions(&mut self) {
        while let Some(a) = self.m.poll_action() {
            match a {
                Action::ToClient(b) => self.to_client.push_back(b),
                Action::ToLink(k, b) => {
                    if !self.brokers[k].connected {
                        self.bad(format!("write to link {k}, which is not open"));
                        continue;
                    }
                    self.brokers[k].last_heard = Some(self.now);
                    self.brokers[k].inbox.push_back(b);
                }
                Action::Open(k, _) => {
                    if self.brokers[k].connected {
                        self.bad(format!("open of link {k}, which is open"));
                    }
                    self.brokers[k].opening = true;
                }
                Action::Close(k) => self.disconnect(k),
                Action::End(c) => self.ended = Some(c),
                Action::Reauthenticate(_) | Action::Rejected(_) => {}
            }
        }
    }

    fn disconnect(&mut self, k: usize) {
        let b = &mut self.brokers[k];
        b.connected = false;
        b.opening = false;
        b.inbox.clear();
        b.outbox.clear();
        b.last_heard = None;
        // Clean sessions: the broker forgets the link's state.
        b.qos2_in.clear();
        b.out.clear();
        b.subscribed = false;
    }

    /// One random step.
    pub fn step(&mut self, faults: bool, traffic: bool) {
        self.steps += 1;
        let links = self.brokers.len();
        match self.rng.below(12) {
            0 | 1 if traffic => self.client_sends(),
            2 => self.client_receives(),
            3 => self.client_pays_an_ack(),
            4 => self.client_to_proxy(),
            5 | 6 => {
                if let Some(k) = self.pick(|b| !b.inbox.is_empty()) {
                    self.broker_receives(k)
                }
            }
            7 => {
                if let Some(k) = self.pick(|b| !b.outbox.is_empty()) {
                    self.broker_to_proxy(k)
                }
            }
            8 if traffic => {
                let k = self.rng.below(links);
                self.broker_publishes(k)
            }
            9 => {
                if let Some(k) = self.pick(|b| b.opening) {
                    self.resolve_open(k, faults)
                }
            }
            10 if faults && self.rng.percent(15) => {
                // A secondary link dies (link 0 dying ends the session: rare).
                let k = if self.rng.percent(5) { 0 } else { 1 + self.rng.below(links - 1) };
                if self.brokers[k].connected || self.brokers[k].opening {
                    self.disconnect(k);
                    self.m.link_down(k, "killed", self.now);
                }
            }
            _ => self.tick(),
        }
        self.drain_actions();
        self.check_keep_alive();
        if let Err(e) = self.m.check() {
            self.bad(e);
        }
    }

    /// A random broker for which `which` holds.
    fn pick(&mut self, which: impl Fn(&Broker) -> bool) -> Option<usize> {
        let ks: Vec<usize> = (0..self.brokers.len()).filter(|&k| which(&self.brokers[k])).collect();
        (!ks.is_empty()).then(|| ks[self.rng.below(ks.len())])
    }

    fn tick(&mut self) {
        let step = Duration::from_millis(1 + self.rng.below(300) as u64);
        let due = self.m.poll_timeout();
        self.now = match due {
            Some(t) if t < self.now + step => t.max(self.now),
            _ => self.now + step,
        };
        if due.is_some_and(|t| t <= self.now) {
            self.m.handle_timeout(self.now);
        }
    }

    fn check_keep_alive(&mut self) {
        for k in 0..self.brokers.len() {
            let b = &self.brokers[k];
            if let (true, Some(at)) = (b.connected, b.last_heard) {
                let limit = Duration::from_secs(u64::from(b.keep_alive));
                if b.keep_alive > 0 && self.now > at + limit {
                    let silent = self.now - at;
                    self.bad(format!("link {k} silent for {silent:?} (keep alive {limit:?})"));
                }
            }
        }
    }

    fn resolve_open(&mut self, k: usize, faults: bool) {
        if !self.brokers[k].opening {
            return;
        }
        if faults && k > 0 && self.rng.percent(30) {
            self.brokers[k].opening = false;
            return self.m.link_down(k, "refused", self.now);
        }
        if faults && self.rng.percent(10) {
            // Slow: answer later (or never, if the proxy gives up first).
            return;
        }
        let ka = [0, 4, 6, 10][self.rng.below(4)];
        let b = &mut self.brokers[k];
        b.opening = false;
        b.connected = true;
        b.last_heard = Some(self.now);
        b.keep_alive = if ka > 0 && self.v.is_v5() { ka } else { 10 };
        let mut ack = ConnAck::new(ReasonCode::Success, false);
        if ka > 0 && self.v.is_v5() {
            ack.properties.server_keep_alive = Some(ka);
        }
        b.outbox.push_back(encode(Packet::ConnAck(ack), self.v));
    }

    fn free_client_id(&mut self) -> Option<u16> {
        (0..50)
            .map(|_| 1 + self.rng.below(40) as u16)
            .find(|id| !self.sent.contains_key(id) && !self.subscribing.contains(id))
    }

    fn client_sends(&mut self) {
        if !self.connacked || self.ended.is_some() {
            return;
        }
        let v = self.v;
        if self.rng.percent(10) {
            let Some(pkid) = self.free_client_id() else { return };
            let filter = ["#", "l1/#", "l2/+", "$share/g/l2/#", "l0/a"][self.rng.below(5)];
            let p = if self.rng.percent(80) {
                let options = SubscriptionOptions { qos: QoS::ExactlyOnce, ..Default::default() };
                let f = SubscribeFilter { filter: MqttStr::from_static(filter), options };
                Packet::Subscribe(Subscribe { pkid, filters: vec![f], properties: Default::default() })
            } else {
                let filters = vec![MqttStr::from_static(filter)];
                Packet::Unsubscribe(Unsubscribe { pkid, filters, properties: Default::default() })
            };
            self.subscribing.insert(pkid);
            return self.from_client.push_back(encode(p, v));
        }
        let topic = ["l0/a", "l1/a", "l2/b", "x/y"][self.rng.below(4)];
        let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][self.rng.below(3)];
        self.msg_no += 1;
        let msg = format!("m{}", self.msg_no);
        let mut p = Publish::new(MqttStr::from_static(topic), Bytes::from(msg.clone()));
        p.qos = qos;
        if qos != QoS::AtMostOnce {
            if self.sent.len() >= 10 {
                return;
            }
            let Some(pkid) = self.free_client_id() else { return };
            p.pkid = pkid;
            self.sent.insert(pkid, Sent { msg, qos, released: false });
        }
        self.from_client.push_back(encode(Packet::Publish(p), v));
    }

    fn client_to_proxy(&mut self) {
        if !self.m.client_readable() {
            return;
        }
        if let Some(b) = self.from_client.pop_front() {
            self.m.from_client(frame(b), self.now);
        }
    }

    fn client_pays_an_ack(&mut self) {
        if self.owed.is_empty() {
            return;
        }
        let i = self.rng.below(self.owed.len());
        let b = self.owed.swap_remove(i);
        self.client_writes(b);
    }

    /// The client writes an ack: PUBACK releases its id at once, PUBREC marks it.
    fn client_writes(&mut self, b: Bytes) {
        self.note_client_ack(&b);
        self.from_client.push_back(b);
    }

    fn client_receives(&mut self) {
        let Some(b) = self.to_client.pop_front() else { return };
        let v = self.v;
        match decode(&b, v) {
            Packet::ConnAck(_) => self.connacked = true,
            Packet::Ack(a) => self.client_gets_ack(a),
            Packet::SubAck(a) => self.answered_fanout(a.pkid),
            Packet::UnsubAck(a) => self.answered_fanout(a.pkid),
            Packet::Publish(p) if p.qos == QoS::AtMostOnce => {}
            Packet::Publish(p) => {
                let qos2 = p.qos == QoS::ExactlyOnce;
                if self.held.contains_key(&p.pkid) && !p.dup {
                    self.bad(format!("new delivery with id {} the client still holds", p.pkid));
                }
                self.held.insert(p.pkid, (qos2, false));
                if self.held.len() > self.receive_maximum {
                    let n = self.held.len();
                    self.bad(format!("{n} deliveries in flight, Receive Maximum {}", self.receive_maximum));
                }
                let kind = if qos2 { AckKind::PubRec } else { AckKind::PubAck };
                self.owed.push(encode(Packet::Ack(Ack::new(kind, p.pkid)), v));
            }
            Packet::PingResp | Packet::Disconnect(_) => {}
            other => self.bad(format!("unexpected packet to the client: {other:?}")),
        }
    }

    fn answered_fanout(&mut self, pkid: u16) {
        if !self.subscribing.remove(&pkid) {
            self.bad(format!("SUBACK/UNSUBACK {pkid} answers nothing in flight"));
        }
    }

    fn client_gets_ack(&mut self, a: Ack) {
        let v = self.v;
        let refused = a.reason.is_error();
        match a.kind {
            AckKind::PubAck | AckKind::PubRec | AckKind::PubComp => {
                let Some(s) = self.sent.get(&a.pkid).cloned() else {
                    return self.bad(format!("{:?} {} answers nothing in flight", a.kind, a.pkid));
                };
                let expected = match (s.qos, s.released) {
                    (QoS::AtLeastOnce, _) => AckKind::PubAck,
                    (_, false) => AckKind::PubRec,
                    (_, true) => AckKind::PubComp,
                };
                if a.kind != expected {
                    return self.bad(format!("{:?} {} while {:?} was due", a.kind, a.pkid, expected));
                }
                let proof = if a.kind == AckKind::PubComp { &self.completed } else { &self.acked };
                if !refused && !proof.contains(&s.msg) {
                    self.bad(format!(
                        "{:?} {} for {} before its broker acknowledged it",
                        a.kind, a.pkid, s.msg
                    ));
                }
                if a.kind == AckKind::PubRec && !refused {
                    self.sent.insert(a.pkid, Sent { released: true, ..s });
                    self.from_client.push_back(encode(Packet::Ack(Ack::new(AckKind::PubRel, a.pkid)), v));
                } else {
                    self.sent.remove(&a.pkid);
                }
            }
            AckKind::PubRel => {
                match self.held.get_mut(&a.pkid) {
                    Some((true, true)) => {}
                    _ => self.bad(format!("PUBREL {} for an id the client does not hold at PUBREC", a.pkid)),
                }
                self.held.remove(&a.pkid);
                self.owed.push(encode(Packet::Ack(Ack::new(AckKind::PubComp, a.pkid)), v));
            }
        }
    }

    fn note_client_ack(&mut self, b: &Bytes) {
        if let Packet::Ack(a) = decode(b, self.v) {
            match a.kind {
                AckKind::PubAck => {
                    self.held.remove(&a.pkid);
                }
                AckKind::PubRec => {
                    if let Some(h) = self.held.get_mut(&a.pkid) {
                        h.1 = true;
                    }
                }
                _ => {}
            }
        }
    }

    fn broker_receives(&mut self, k: usize) {
        let Some(b) = self.brokers[k].inbox.pop_front() else { return };
        let v = self.v;
        let reply = |p: Packet| encode(p, v);
        let out = match decode(&b, v) {
            Packet::Publish(p) => {
                let msg = String::from_utf8_lossy(&p.payload).to_string();
                match p.qos {
                    QoS::AtMostOnce => None,
                    QoS::AtLeastOnce => {
                        self.acked.insert(msg);
                        Some(reply(Packet::Ack(Ack::new(AckKind::PubAck, p.pkid))))
                    }
                    QoS::ExactlyOnce => {
                        self.acked.insert(msg.clone());
                        self.brokers[k].qos2_in.insert(p.pkid, msg);
                        Some(reply(Packet::Ack(Ack::new(AckKind::PubRec, p.pkid))))
                    }
                }
            }
            Packet::Ack(a) if a.kind == AckKind::PubRel => match self.brokers[k].qos2_in.remove(&a.pkid) {
                Some(msg) => {
                    self.completed.insert(msg);
                    Some(reply(Packet::Ack(Ack::new(AckKind::PubComp, a.pkid))))
                }
                None => {
                    self.bad(format!("link {k} got PUBREL {} for a PUBLISH it never received", a.pkid));
                    None
                }
            },
            Packet::Ack(a) => {
                let entry = self.brokers[k].out.get(&a.pkid).copied();
                match (a.kind, entry) {
                    (AckKind::PubAck, Some((false, _))) | (AckKind::PubComp, Some((true, true))) => {
                        self.brokers[k].out.remove(&a.pkid);
                        None
                    }
                    (AckKind::PubRec, Some((true, false))) => {
                        self.brokers[k].out.insert(a.pkid, (true, true));
                        Some(reply(Packet::Ack(Ack::new(AckKind::PubRel, a.pkid))))
                    }
                    _ => {
                        self.bad(format!("link {k} got {:?} {} for nothing it sent", a.kind, a.pkid));
                        None
                    }
                }
            }
            Packet::Subscribe(s) => {
                self.brokers[k].subscribed = true;
                let reasons = vec![ReasonCode::GrantedQoS2; s.filters.len()];
                Some(reply(Packet::SubAck(SubAck { pkid: s.pkid, reasons, properties: Default::default() })))
            }
            Packet::Unsubscribe(u) => {
                let reasons = vec![ReasonCode::Success; u.filters.len()];
                Some(reply(Packet::UnsubAck(UnsubAck {
                    pkid: u.pkid,
                    reasons,
                    properties: Default::default(),
                })))
            }
            Packet::PingReq => Some(reply(Packet::PingResp)),
            Packet::Disconnect(_) => None,
            other => {
                self.bad(format!("link {k} got {other:?}"));
                None
            }
        };
        if let Some(o) = out {
            self.brokers[k].outbox.push_back(o);
        }
    }

    fn broker_publishes(&mut self, k: usize) {
        let b = &mut self.brokers[k];
        if !b.connected || b.out.len() >= 8 {
            return;
        }
        let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][self.rng.below(3)];
        let mut p = Publish::new(MqttStr::from_static("l/x"), Bytes::from_static(b"d"));
        p.qos = qos;
        let b = &mut self.brokers[k];
        if qos != QoS::AtMostOnce {
            let id = (0..u16::MAX)
                .map(|i| (u32::from(b.next_id) + u32::from(i)) % 65_535 + 1)
                .map(|i| i as u16)
                .find(|id| !b.out.contains_key(id));
            let Some(id) = id else { return };
            b.next_id = id;
            b.out.insert(id, (qos == QoS::ExactlyOnce, false));
            p.pkid = id;
        }
        let bytes = encode(Packet::Publish(p), self.v);
        self.brokers[k].outbox.push_back(bytes);
    }

    fn broker_to_proxy(&mut self, k: usize) {
        if !self.m.link_readable(k) {
            return;
        }
        if let Some(b) = self.brokers[k].outbox.pop_front() {
            self.m.from_link(k, frame(b), self.now);
        }
    }

    /// Runs `steps` random steps with faults, then drains without faults or new
    /// traffic; checks that nothing was left unanswered.
    pub fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            if self.ended.is_some() {
                return;
            }
            self.step(true, true);
        }
        for _ in 0..20_000 {
            if self.ended.is_some() || self.quiet() {
                break;
            }
            // Pay every ack, then let the schedule run without faults.
            while let Some(b) = self.owed.pop() {
                self.client_writes(b);
            }
            self.step(false, false);
        }
        if self.ended.is_none() {
            if !self.sent.is_empty() {
                let left: Vec<_> = self.sent.keys().collect();
                let msg = format!("client publishes never answered: {left:?}");
                self.bad(msg);
            }
            if !self.subscribing.is_empty() {
                let msg = format!("SUBSCRIBE/UNSUBSCRIBE never answered: {:?}", self.subscribing);
                self.bad(msg);
            }
        }
    }

    fn quiet(&self) -> bool {
        self.sent.is_empty()
            && self.subscribing.is_empty()
            && self.to_client.is_empty()
            && self.from_client.is_empty()
            && self.owed.is_empty()
            && self.brokers.iter().all(|b| b.inbox.is_empty() && b.outbox.is_empty())
    }
}
