//! The session of one client over several brokers, as a sans-I/O state machine
//! (quinn-proto style): the driver feeds it events (a frame from the client, a
//! frame from link k, link k failed or ended, a timer fired) with the current time,
//! and carries out the [`Action`]s it queues (write to the client, write to link k,
//! open or close link k, check a re-authentication token, end the session). It asks
//! [`Multi::poll_timeout`] when to call [`Multi::handle_timeout`], and
//! [`Multi::client_readable`] / [`Multi::link_readable`] whether to read on (the
//! backpressure of the Receive Maximum and of the CONNACK wait).
//!
//! Every frame still passes the single-broker [`Session`] first (ACL, validation,
//! mount point), as on a one-broker hop. What this adds:
//!
//! - **Links.** Link 0 is the session's own broker (the driver opened it with the
//!   client's CONNECT); the others open on first use, or at CONNECT for the will's
//!   broker and for every link of a persistent session. The client's CONNACK waits
//!   for every link opened at CONNECT and combines their answers ([`connack`]); a
//!   will whose broker cannot be reached refuses the CONNECT (0x88 / 3).
//! - **Routing.** Publishes go to the link of their topic ([`Router`]);
//!   SUBSCRIBE / UNSUBSCRIBE fan out to every link whose routes can match (a shared
//!   subscription by its inner filter) and their answers merge ([`fanout`]).
//! - **Packet ids** ([`ids`], [`link`]): client ids pass through to a link unless
//!   the proxy's own packets hold them there; deliveries get client-side ids that
//!   stay held until the client releases them, also across a link loss.
//! - **Keep alive per link**: a PINGREQ when nothing went to a link for half of its
//!   keep alive (the broker's Server Keep Alive where given); a PINGREQ unanswered
//!   for a whole keep alive loses the link.
//! - **Loss and re-open**: a lost secondary link is re-opened in the background
//!   with capped exponential backoff and gets its subscriptions back (options and
//!   Subscription Identifiers) when its broker kept no session. Its client
//!   publishes in flight are refused (5.0: PUBACK/PUBREC 0x80, a PUBREL PUBCOMP
//!   0x92) or, on 3.1.1, the client is disconnected so it re-sends; nothing is
//!   acknowledged that its broker did not acknowledge. Losing link 0 ends the session.
//! - **Receive Maximum across links**: at most the client's Receive Maximum QoS 1/2
//!   deliveries are unacknowledged; beyond, deliveries are held and their links
//!   are not read until the client acknowledges.
//!
//! Not here: sockets, timers, the clock (time is an argument), logging.

pub mod connack;
pub mod fanout;
pub mod ids;
pub mod link;
pub mod replay;
#[cfg(test)]
mod sim;

use super::{Close, Rejection, Session, Verdict};
use crate::mqtt::{
    self, kind, Ack, AckKind, ConnAck, DecodeError, Frame, Packet, Protocol, PublishView, QoS, ReasonCode,
    SubAck, Subscribe, SubscribeFilter, SubscribeProperties, UnsubAck, Unsubscribe,
};
use bytes::Bytes;
use fanout::{FanOuts, Merged};
use ids::{Deliveries, Outgoing, Outgoings, Stage};
use link::{Link, Owner, State};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Bytes of deliveries held back per link before that link is no longer read.
pub const HELD_BYTES: usize = 64 * 1024;

/// Where a session's topics and filters go (the route table, seen from one session).
pub trait Router {
    /// The link of a client publish to `topic` (as the broker sees it).
    fn publish_link(&self, topic: &str) -> usize;
    /// The links a subscription `filter` (as the broker sees it, no `$share/`
    /// prefix) can match on; link 0 always.
    fn subscribe_links(&self, filter: &str, out: &mut Vec<usize>);
}

/// How a multi-broker session starts.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The client's protocol version.
    pub protocol: Protocol,
    /// The CONNECT each link opens with (link 0's was sent already).
    pub connects: Vec<Bytes>,
    /// Links besides link 0 to open at CONNECT (the will's, or all for a
    /// persistent session); the client's CONNACK waits for them.
    pub open_at_connect: Vec<usize>,
    /// The link whose CONNECT carries the will.
    pub will_link: Option<usize>,
    /// The keep alive the CONNECTs ask for (the client's).
    pub keep_alive: u16,
    /// The client's Receive Maximum (65,535 when it set none).
    pub receive_maximum: u16,
    /// How long a link may take from CONNECT to CONNACK.
    pub open_timeout: Duration,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes to the client.
    ToClient(Bytes),
    /// Write these bytes to link k.
    ToLink(usize, Bytes),
    /// Open link k (connect, then write this CONNECT); report its frames or failure.
    Open(usize, Bytes),
    /// Drop link k's connection (no DISCONNECT); report nothing more of it.
    Close(usize),
    /// Check this 5.0 re-authentication token, then call [`Multi::reauthenticated`].
    Reauthenticate(String),
    /// Log and count a payload refused by validation.
    Rejected(Box<Rejection>),
    /// The session is over.
    End(Close),
}

/// What the client's CONNACK waits for.
#[derive(Debug, Default)]
struct ConnAckWait {
    /// Links opened at CONNECT that have not answered.
    waiting: Vec<usize>,
    /// Link 0's CONNACK.
    primary: Option<ConnAck>,
    /// The other links' answers (`None`: failed).
    others: Vec<Option<ConnAck>>,
    /// The will's broker could not be reached.
    will_lost: bool,
    /// Sent to the client.
    sent: bool,
}

/// A session over several broker links.
pub struct Multi<'a> {
    session: &'a Session,
    router: &'a dyn Router,
    protocol: Protocol,
    keep_alive: u16,
    receive_maximum: usize,
    open_timeout: Duration,
    will_link: Option<usize>,
    links: Vec<Link>,
    outgoing: Outgoings,
    deliveries: Deliveries,
    fanouts: FanOuts,
    connack: ConnAckWait,
    /// Deliveries held back by the client's Receive Maximum, in arrival order.
    held: VecDeque<(usize, Frame)>,
    /// Frames of links that opened before the client's CONNACK went out.
    early: VecDeque<(usize, Frame)>,
    actions: VecDeque<Action>,
    ended: bool,
    /// QoS 0 publishes dropped because their broker was down (or its queue full),
    /// not yet reported.
    unavailable_drops: u64,
}

/// A filter as routes see it: a shared subscription by its inner filter.
pub fn routed_filter(filter: &str) -> &str {
    match filter.strip_prefix("$share/").and_then(|rest| rest.split_once('/')) {
        Some((_, inner)) => inner,
        None => filter,
    }
}

fn ack_bytes(kind: AckKind, pkid: u16, reason: ReasonCode, v: Protocol) -> Bytes {
    let p = Packet::Ack(Ack { reason, ..Ack::new(kind, pkid) });
    // An ack without properties always encodes.
    p.to_bytes(v).unwrap_or_default()
}

impl<'a> Multi<'a> {
    /// A session whose link 0 was just sent its CONNECT at `now`.
    pub fn new(setup: Setup, session: &'a Session, router: &'a dyn Router, now: Instant) -> Self {
        let links: Vec<Link> = setup.connects.into_iter().map(|c| Link::new(c, now)).collect();
        let mut m = Multi {
            session,
            router,
            protocol: setup.protocol,
            keep_alive: setup.keep_alive,
            receive_maximum: usize::from(setup.receive_maximum.max(1)),
            open_timeout: setup.open_timeout,
            will_link: setup.will_link,
            links,
            outgoing: Outgoings::default(),
            deliveries: Deliveries::default(),
            fanouts: FanOuts::default(),
            connack: ConnAckWait { waiting: vec![0], ..Default::default() },
            held: VecDeque::new(),
            early: VecDeque::new(),
            actions: VecDeque::new(),
            ended: false,
            unavailable_drops: 0,
        };
        m.links[0].state = State::Opening { deadline: now + m.open_timeout };
        m.links[0].wanted = true;
        for k in setup.open_at_connect {
            if k > 0 && k < m.links.len() && !m.connack.waiting.contains(&k) {
                m.connack.waiting.push(k);
                m.open(k, now);
            }
        }
        m
    }

    /// QoS 0 publishes dropped since the last call because their broker was
    /// unavailable (for live metrics).
    pub fn take_unavailable_drops(&mut self) -> u64 {
        std::mem::take(&mut self.unavailable_drops)
    }

    /// The next action to carry out.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Multi::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        self.links.iter().filter_map(Link::next_timeout).min()
    }

    /// True once the client may be read (its CONNACK went out).
    pub fn client_readable(&self) -> bool {
        self.connack.sent && !self.ended
    }

    /// False while link `k` must not be read: before the client's CONNACK (once the
    /// link's own CONNACK came), and while its held-back deliveries (the client is
    /// at its Receive Maximum) reach [`HELD_BYTES`]. Below that the link is read on,
    /// so the PUBRELs that free the client's ids are not stuck behind a delivery.
    pub fn link_readable(&self, k: usize) -> bool {
        let waiting = !self.connack.sent && self.links.get(k).is_some_and(Link::is_open);
        let held: usize = self.held.iter().filter(|(l, _)| *l == k).map(|(_, f)| f.len()).sum();
        !self.ended && !waiting && held < HELD_BYTES
    }

    /// Number of links.
    pub fn links(&self) -> usize {
        self.links.len()
    }

    /// Checks the machine's own consistency (for tests and fuzzing): link-side ids
    /// and client publishes in flight point at each other, delivery maps agree.
    pub fn check(&self) -> Result<(), String> {
        if self.ended {
            return Ok(());
        }
        for (k, link) in self.links.iter().enumerate() {
            for (&id, owner) in &link.ids {
                if let Owner::Publish(pkid) = owner {
                    match self.outgoing.get(pkid) {
                        Some(o) if o.link == k && o.link_id == id => {}
                        other => return Err(format!("link {k} id {id} owned by publish {pkid}: {other:?}")),
                    }
                }
            }
        }
        for (k, link) in self.links.iter().enumerate() {
            let bytes: usize = link.subs.keys().map(String::len).sum();
            if bytes != link.kept_bytes || bytes > link::KEPT_BYTES {
                return Err(format!("link {k} keeps {bytes} bytes of filters, counted {}", link.kept_bytes));
            }
        }
        for (pkid, o) in &self.outgoing {
            let owned = self.links[o.link].ids.get(&o.link_id) == Some(&Owner::Publish(*pkid));
            if o.stage != Stage::Lost && !owned {
                return Err(format!("publish {pkid} in flight as {o:?} without its link id"));
            }
        }
        self.deliveries.check()
    }

    fn end(&mut self, c: Close) {
        if !self.ended {
            self.ended = true;
            self.actions.push_back(Action::End(c));
        }
    }

    fn send_client(&mut self, b: Bytes) {
        self.actions.push_back(Action::ToClient(b));
    }

    fn send_link(&mut self, k: usize, b: Bytes, now: Instant) {
        self.links[k].last_sent = now;
        self.actions.push_back(Action::ToLink(k, b));
    }

    /// Starts opening link `k` (if it is not open or opening).
    fn open(&mut self, k: usize, now: Instant) {
        let link = &mut self.links[k];
        if matches!(link.state, State::Idle | State::Down { .. }) {
            link.state = State::Opening { deadline: now + self.open_timeout };
            link.wanted = true;
            link.last_sent = now;
            self.actions.push_back(Action::Open(k, link.connect.clone()));
        }
    }

    /// Sends to link `k`, queueing while it opens (and opening it if it never was).
    /// `false`: nothing sent (down, or its queue is full).
    fn send_or_queue(&mut self, k: usize, b: Bytes, now: Instant) -> bool {
        if self.links[k].state == State::Idle {
            self.open(k, now);
        }
        match self.links[k].state {
            State::Open { .. } => {
                self.send_link(k, b, now);
                true
            }
            State::Opening { .. } => self.links[k].enqueue(b),
            State::Idle | State::Down { .. } => false,
        }
    }

    /// Refuses a client publish whose broker did not take it: 5.0 PUBACK/PUBREC
    /// 0x80; 3.1.1 cannot say so, so the client is disconnected (it re-sends).
    fn refuse(&mut self, pkid: u16, qos: QoS) {
        let v = self.protocol;
        match (qos, v.is_v5()) {
            (QoS::AtMostOnce, _) => {}
            (QoS::AtLeastOnce, true) => {
                self.send_client(ack_bytes(AckKind::PubAck, pkid, ReasonCode::UnspecifiedError, v))
            }
            (QoS::ExactlyOnce, true) => {
                self.send_client(ack_bytes(AckKind::PubRec, pkid, ReasonCode::UnspecifiedError, v))
            }
            (_, false) => self.end(Close::UpstreamGone("the broker of this topic is unavailable".into())),
        }
    }

    // ----- the client -----

    /// A frame from the client.
    pub fn from_client(&mut self, frame: Frame, now: Instant) {
        if self.ended {
            return;
        }
        let (verdict, rejection) = self.session.from_client(&frame).split();
        if let Some(r) = rejection {
            self.actions.push_back(Action::Rejected(r));
        }
        match verdict {
            Verdict::Forward => self.route(frame, now),
            Verdict::Replace(b) => match Frame::from_bytes(b, usize::MAX) {
                Ok(f) => self.route(f, now),
                Err(e) => self.end(Close::ClientProtocol(e)),
            },
            Verdict::ForwardThenEnd(c) => {
                self.route(frame, now);
                self.end(c);
            }
            Verdict::Reply(b) => self.send_client(b),
            Verdict::Drop | Verdict::Rejected(..) => {}
            Verdict::Reauthenticate(token) => self.actions.push_back(Action::Reauthenticate(token)),
            Verdict::End(c) => self.end(c),
        }
    }

    /// The guard's answer to [`Action::Reauthenticate`].
    pub fn reauthenticated(&mut self, ok: bool) {
        if self.ended {
            return;
        }
        match (ok, self.session.reauth_ok()) {
            (true, Verdict::Reply(b)) => self.send_client(b),
            _ => self.end(Close::ReauthFailed),
        }
    }

    /// A client frame the session accepted: to its link(s).
    fn route(&mut self, f: Frame, now: Instant) {
        let v = self.protocol;
        match f.packet_type() {
            kind::PUBLISH => self.publish(f, now),
            kind::PUBREL => self.client_pubrel(&f, now),
            kind::PUBACK | kind::PUBREC | kind::PUBCOMP => self.client_ack(&f, now),
            kind::SUBSCRIBE => match mqtt::decode(&f, v) {
                Ok(Packet::Subscribe(s)) => self.subscribe(s, now),
                Ok(_) => {}
                Err(e) => self.end(Close::ClientProtocol(e)),
            },
            kind::UNSUBSCRIBE => match mqtt::decode(&f, v) {
                Ok(Packet::Unsubscribe(u)) => self.unsubscribe(u, now),
                Ok(_) => {}
                Err(e) => self.end(Close::ClientProtocol(e)),
            },
            // The proxy is the client's server: it answers, links keep their own clocks.
            kind::PINGREQ => self.send_client(Bytes::from_static(mqtt::PINGRESP)),
            kind::DISCONNECT => {
                for k in 0..self.links.len() {
                    if self.links[k].is_open() {
                        self.send_link(k, f.raw().clone(), now);
                    }
                }
            }
            _ => {
                self.send_or_queue(0, f.into_raw(), now);
            }
        }
    }

    fn publish(&mut self, f: Frame, now: Instant) {
        let (topic_link, qos, pkid) = match PublishView::parse_client(&f, self.protocol) {
            Ok(p) => (self.router.publish_link(p.topic), p.qos, p.pkid),
            Err(e) => return self.end(Close::ClientProtocol(e)),
        };
        if qos == QoS::AtMostOnce {
            // Nothing to answer: dropped when its broker is down.
            if !self.send_or_queue(topic_link, f.into_raw(), now) {
                self.unavailable_drops += 1;
            }
            return;
        }
        if let Some(o) = self.outgoing.get(&pkid).copied() {
            // A re-send (DUP) of a publish still in flight goes where the first went.
            if matches!(o.stage, Stage::AwaitPubAck | Stage::AwaitPubRec) {
                if let Some(b) = f.with_packet_id(o.link_id) {
                    self.send_or_queue(o.link, b, now);
                }
                return;
            }
            // An id the client still holds [MQTT-2.2.1-2].
            return self.end(Close::ClientProtocol(DecodeError::UnexpectedPacket(kind::PUBLISH)));
        }
        let k = topic_link;
        if self.links[k].state == State::Idle {
            self.open(k, now);
        }
        if matches!(self.links[k].state, State::Down { .. }) {
            return self.refuse(pkid, qos);
        }
        let Some(link_id) = self.links[k].allocate(pkid, Owner::Publish(pkid)) else {
            return self.refuse(pkid, qos);
        };
        let Some(b) = f.with_packet_id(link_id) else { return };
        if !self.send_or_queue(k, b, now) {
            self.links[k].ids.remove(&link_id);
            return self.refuse(pkid, qos);
        }
        let stage = if qos == QoS::AtLeastOnce { Stage::AwaitPubAck } else { Stage::AwaitPubRec };
        self.outgoing.insert(pkid, Outgoing { link: k, link_id, stage });
    }

    /// The client's PUBREL for its QoS 2 publish: to the link whose broker has it,
    /// never to another (0x92 when that link was lost).
    fn client_pubrel(&mut self, f: &Frame, now: Instant) {
        let Some(pkid) = f.packet_id() else { return };
        match self.outgoing.get(&pkid).copied() {
            Some(o @ Outgoing { stage: Stage::AwaitPubRel | Stage::AwaitPubComp, .. })
                if self.links[o.link].is_open() =>
            {
                if let Some(b) = f.with_packet_id(o.link_id) {
                    self.send_link(o.link, b, now);
                }
                self.outgoing.insert(pkid, Outgoing { stage: Stage::AwaitPubComp, ..o });
            }
            // Before PUBREC: not a PUBREL the client may send yet; ignored.
            Some(Outgoing { stage: Stage::AwaitPubAck | Stage::AwaitPubRec, .. }) => {}
            _ => {
                self.outgoing.remove(&pkid);
                let v = self.protocol;
                self.send_client(ack_bytes(AckKind::PubComp, pkid, ReasonCode::PacketIdentifierNotFound, v));
            }
        }
    }

    /// The client answers a delivery: back to its broker under the broker's id.
    fn client_ack(&mut self, f: &Frame, now: Instant) {
        let Some(id) = f.packet_id() else { return };
        let t = f.packet_type();
        let failed = t == kind::PUBREC && ack_reason(f, self.protocol).is_some_and(|r| r.is_error());
        let Some(d) = self.deliveries.get_mut(id) else { return };
        let (link, link_id, orphan) = (d.link, d.link_id, d.orphan);
        let release = match t {
            kind::PUBACK if !d.qos2 => true,
            kind::PUBREC if d.qos2 && !d.received => {
                d.received = true;
                failed
            }
            kind::PUBCOMP if d.qos2 && d.received => true,
            // An answer of the wrong kind for this id: nothing to pass on.
            _ => return,
        };
        if release {
            self.deliveries.remove(id);
        }
        if orphan {
            if t == kind::PUBREC && !failed {
                // No broker will release it: the proxy does, so the id is free again.
                if let Some(d) = self.deliveries.get_mut(id) {
                    d.released = true;
                }
                let v = self.protocol;
                self.send_client(ack_bytes(AckKind::PubRel, id, ReasonCode::Success, v));
            }
        } else if let Some(b) = f.with_packet_id(link_id) {
            self.send_link(link, b, now);
        }
        if release {
            self.release_held();
        }
    }

    fn subscribe(&mut self, s: Subscribe, now: Instant) {
        let names: Vec<String> = s.filters.iter().map(|f| f.filter.to_string()).collect();
        let Some(parts) = self.plan(s.pkid, false, &names, now) else { return };
        for (k, positions) in parts {
            let filters: Vec<SubscribeFilter> = positions.iter().map(|&i| s.filters[i].clone()).collect();
            for f in &filters {
                self.links[k].keep(f, s.properties.subscription_identifier);
            }
            let p = Packet::Subscribe(Subscribe { pkid: 0, filters, properties: s.properties.clone() });
            self.send_part(k, s.pkid, p, now);
        }
    }

    fn unsubscribe(&mut self, u: Unsubscribe, now: Instant) {
        let names: Vec<String> = u.filters.iter().map(|f| f.to_string()).collect();
        let Some(parts) = self.plan(u.pkid, true, &names, now) else { return };
        for (k, positions) in parts {
            let filters: Vec<_> = positions.iter().map(|&i| u.filters[i].clone()).collect();
            for f in &filters {
                self.links[k].forget(f);
            }
            let p = Packet::Unsubscribe(Unsubscribe { pkid: 0, filters, properties: u.properties.clone() });
            self.send_part(k, u.pkid, p, now);
        }
    }

    /// Groups filter positions by link (opening links on the way) and starts the
    /// fan-out; `None` when it was answered at once (every link down).
    fn plan(
        &mut self,
        pkid: u16,
        unsubscribe: bool,
        filters: &[String],
        now: Instant,
    ) -> Option<Vec<(usize, Vec<usize>)>> {
        let mut parts: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut failed = Vec::new();
        let mut targets = Vec::new();
        // Bytes of new filters this SUBSCRIBE adds to each link's kept subscriptions.
        let mut adding = vec![0; self.links.len()];
        for (i, f) in filters.iter().enumerate() {
            targets.clear();
            targets.push(0);
            self.router.subscribe_links(routed_filter(f), &mut targets);
            targets.sort_unstable();
            targets.dedup();
            for &k in &targets {
                if !unsubscribe && !self.links[k].can_keep(f, adding[k]) {
                    failed.push((i, ReasonCode::QuotaExceeded));
                    continue;
                }
                if self.links[k].state == State::Idle {
                    self.open(k, now);
                }
                if matches!(self.links[k].state, State::Down { .. }) {
                    failed.push((i, ReasonCode::UnspecifiedError));
                    continue;
                }
                if !unsubscribe && !self.links[k].subs.contains_key(f.as_str()) {
                    adding[k] += f.len();
                }
                match parts.iter_mut().find(|(l, _)| *l == k) {
                    Some((_, v)) => v.push(i),
                    None => parts.push((k, vec![i])),
                }
            }
        }
        match self.fanouts.start(pkid, unsubscribe, filters.len(), parts.clone(), &failed) {
            Some(m) => {
                self.merged(m);
                None
            }
            None => Some(parts),
        }
    }

    /// Sends link `k` its part of fan-out `pkid` under a link-side id.
    fn send_part(&mut self, k: usize, pkid: u16, mut p: Packet, now: Instant) {
        let v = self.protocol;
        let sent = match self.links[k].allocate(pkid, Owner::FanOut(pkid)) {
            Some(id) => {
                match &mut p {
                    Packet::Subscribe(s) => s.pkid = id,
                    Packet::Unsubscribe(u) => u.pkid = id,
                    _ => {}
                }
                let ok = p.to_bytes(v).is_ok_and(|b| self.send_or_queue(k, b, now));
                if !ok {
                    self.links[k].ids.remove(&id);
                }
                ok
            }
            None => false,
        };
        if !sent {
            if let Some(m) = self.fanouts.answer(k, pkid, &[]) {
                self.merged(m);
            }
        }
    }

    /// A merged SUBACK / UNSUBACK to the client, through the session (which puts
    /// back the codes of filters its ACL denied).
    fn merged(&mut self, m: Merged) {
        let v = self.protocol;
        let p = match m.unsubscribe {
            true => Packet::UnsubAck(UnsubAck {
                pkid: m.pkid,
                reasons: m.reasons,
                properties: Default::default(),
            }),
            false => {
                Packet::SubAck(SubAck { pkid: m.pkid, reasons: m.reasons, properties: Default::default() })
            }
        };
        let Ok(b) = p.to_bytes(v) else { return };
        let Ok(f) = Frame::from_bytes(b.clone(), usize::MAX) else { return };
        match self.session.from_link(0, &f, self.keep_alive) {
            Verdict::Replace(r) => self.send_client(r),
            Verdict::End(c) => self.end(c),
            _ => self.send_client(b),
        }
    }
}

/// The reason code of a 5.0 ack (`None`: 3.1.1, or malformed).
fn ack_reason(f: &Frame, v: Protocol) -> Option<ReasonCode> {
    match mqtt::decode(f, v) {
        Ok(Packet::Ack(a)) => Some(a.reason),
        _ => None,
    }
}

mod downward;

#[cfg(test)]
mod tests;

/// Subscribe properties carrying one Subscription Identifier (restores).
fn with_subscription_id(id: Option<u32>) -> SubscribeProperties {
    SubscribeProperties { subscription_identifier: id, ..Default::default() }
}
