//! Brokers → client in a multi-broker session: link CONNACKs (and the client's
//! combined CONNACK), deliveries and their ids, answers to the client's publishes
//! and fan-outs, the per-link keep alive, link loss and background re-opening.

use super::connack::narrow;
use super::link::BACKOFF_FIRST;
use super::*;

/// Filters per restoring SUBSCRIBE (keeps each well under any packet size limit).
const RESTORE_CHUNK: usize = 256;

impl Multi<'_> {
    /// A frame from link `k`.
    pub fn from_link(&mut self, k: usize, f: Frame, now: Instant) {
        if self.ended || k >= self.links.len() {
            return;
        }
        let t = f.packet_type();
        match self.links[k].state {
            State::Opening { .. } if t == kind::CONNACK => return self.link_connack(k, &f, now),
            State::Opening { .. } => {
                return self.link_broke(k, Close::UpstreamProtocol(DecodeError::UnexpectedPacket(t)), now)
            }
            // Nothing reaches the client before its CONNACK.
            State::Open { .. } if !self.connack.sent => return self.early.push_back((k, f)),
            State::Open { keep_alive, ping_sent: Some(_) } => {
                // Anything from the broker shows the link is alive.
                self.links[k].state = State::Open { keep_alive, ping_sent: None };
            }
            State::Open { .. } => {}
            // A frame of a connection given up already.
            State::Idle | State::Down { .. } => return,
        }
        match t {
            kind::PINGRESP => return,
            kind::SUBACK | kind::UNSUBACK => return self.fanout_answer(k, &f),
            kind::PUBACK | kind::PUBREC | kind::PUBCOMP => return self.publish_answer(k, &f),
            _ => {}
        }
        let (verdict, rejection) = self.session.from_link(k, &f, self.keep_alive).split();
        if let Some(r) = rejection {
            self.actions.push_back(Action::Rejected(r));
        }
        let f = match verdict {
            Verdict::Forward => f,
            Verdict::Replace(b) => match Frame::from_bytes(b, usize::MAX) {
                Ok(g) => g,
                Err(e) => return self.link_broke(k, Close::UpstreamProtocol(e), now),
            },
            // A delivery dropped here is answered to its broker.
            Verdict::Reply(b) => return self.send_link(k, b, now),
            Verdict::Drop | Verdict::Reauthenticate(_) | Verdict::Rejected(..) => return,
            Verdict::ForwardThenEnd(c) if k == 0 => {
                self.send_client(f.into_raw());
                return self.end(c);
            }
            Verdict::ForwardThenEnd(c) | Verdict::End(c) => return self.link_broke(k, c, now),
        };
        match t {
            kind::PUBLISH => {
                if self.held.iter().any(|(l, _)| *l == k) {
                    // Behind a held delivery of the same link: keep the order.
                    self.held.push_back((k, f));
                } else {
                    self.deliver(k, f, true);
                }
            }
            kind::PUBREL => self.broker_pubrel(k, &f, now),
            kind::CONNACK => {
                self.link_broke(k, Close::UpstreamProtocol(DecodeError::UnexpectedPacket(t)), now)
            }
            // DISCONNECT and AUTH of a secondary broker end that link only.
            _ if k == 0 => self.send_client(f.into_raw()),
            _ => self.link_broke(k, Close::UpstreamDisconnect, now),
        }
    }

    /// Link `k` failed to open, or its connection ended (`why`).
    pub fn link_down(&mut self, k: usize, why: &str, now: Instant) {
        if !self.ended
            && k < self.links.len()
            && matches!(self.links[k].state, State::Opening { .. } | State::Open { .. })
        {
            self.link_broke(k, Close::UpstreamGone(why.to_string()), now);
        }
    }

    /// Timers: PINGREQs, PINGRESP and CONNACK deadlines, re-open attempts.
    pub fn handle_timeout(&mut self, now: Instant) {
        for k in 0..self.links.len() {
            if self.ended {
                return;
            }
            let link = &self.links[k];
            match link.state {
                State::Opening { deadline } if now >= deadline => {
                    self.actions.push_back(Action::Close(k));
                    self.link_broke(k, Close::UpstreamGone("no CONNACK in time".into()), now);
                }
                State::Open { keep_alive, ping_sent } if keep_alive > 0 => {
                    let ka = Duration::from_secs(u64::from(keep_alive));
                    if ping_sent.is_some_and(|at| now >= at + ka) {
                        self.actions.push_back(Action::Close(k));
                        self.link_broke(k, Close::UpstreamGone("no PINGRESP within keep alive".into()), now);
                    } else if now >= link.last_sent + ka / 2 {
                        self.links[k].state = State::Open { keep_alive, ping_sent: ping_sent.or(Some(now)) };
                        self.send_link(k, Bytes::from_static(mqtt::PINGREQ), now);
                    }
                }
                State::Down { retry_at } if link.wanted && now >= retry_at => self.open(k, now),
                _ => {}
            }
        }
    }

    fn link_connack(&mut self, k: usize, f: &Frame, now: Instant) {
        let ack = match mqtt::decode(f, self.protocol) {
            Ok(Packet::ConnAck(a)) => a,
            Ok(_) => return,
            Err(e) => return self.link_broke(k, Close::UpstreamProtocol(e), now),
        };
        if ack.reason.is_error() {
            if k == 0 && !self.connack.sent {
                // The session's own broker refused: the client gets that refusal.
                self.session.from_link(0, f, self.keep_alive);
                self.send_client(f.raw().clone());
                return self.end(Close::UpstreamDisconnect);
            }
            return self.link_broke(k, Close::UpstreamGone(format!("CONNACK {:?}", ack.reason)), now);
        }
        let keep_alive = ack.properties.server_keep_alive.unwrap_or(self.keep_alive);
        let link = &mut self.links[k];
        link.state = State::Open { keep_alive, ping_sent: None };
        link.backoff = BACKOFF_FIRST;
        link.session_present = ack.session_present;
        self.deliveries.reattach(k, ack.session_present);
        if !ack.session_present {
            self.restore(k, now);
        }
        let queued: Vec<Bytes> = self.links[k].queued.drain(..).collect();
        self.links[k].queued_bytes = 0;
        for b in queued {
            self.send_link(k, b, now);
        }
        if let Some(at) = self.connack.waiting.iter().position(|&l| l == k) {
            self.connack.waiting.swap_remove(at);
            if k == 0 {
                self.connack.primary = Some(ack);
            } else {
                self.connack.others.push(Some(ack));
            }
            self.send_connack(now);
        }
    }

    /// The client's CONNACK, once every link opened at CONNECT answered.
    fn send_connack(&mut self, now: Instant) {
        if self.connack.sent || !self.connack.waiting.is_empty() {
            return;
        }
        if self.connack.will_lost {
            // Never a session whose will is nowhere: the driver answers 0x88 / 3.
            return self.end(Close::UpstreamGone("the broker of the will is unavailable".into()));
        }
        let Some(mut ack) = self.connack.primary.take() else { return };
        for other in std::mem::take(&mut self.connack.others) {
            narrow(&mut ack, other.as_ref());
        }
        let Ok(b) = Packet::ConnAck(ack).to_bytes(self.protocol) else { return };
        let Ok(f) = Frame::from_bytes(b.clone(), usize::MAX) else { return };
        self.connack.sent = true;
        match self.session.from_link(0, &f, self.keep_alive) {
            Verdict::Replace(r) => self.send_client(r),
            Verdict::End(c) => self.end(c),
            _ => self.send_client(b),
        }
        // What the links sent meanwhile (e.g. a persistent session's queued messages).
        for (k, f) in std::mem::take(&mut self.early) {
            self.from_link(k, f, now);
        }
    }

    /// A re-opened link whose broker kept no session gets its subscriptions back,
    /// grouped by Subscription Identifier, under ids the client never uses there.
    fn restore(&mut self, k: usize, now: Instant) {
        let mut groups: Vec<(Option<u32>, Vec<SubscribeFilter>)> = Vec::new();
        for (filter, kept) in &self.links[k].subs {
            let Ok(filter) = mqtt::MqttStr::try_from(filter.clone()) else { continue };
            let f = SubscribeFilter { filter, options: kept.options };
            match groups.iter_mut().find(|(id, fs)| *id == kept.id && fs.len() < RESTORE_CHUNK) {
                Some((_, fs)) => fs.push(f),
                None => groups.push((kept.id, vec![f])),
            }
        }
        for (id, filters) in groups {
            let Some(pkid) = self.links[k].allocate(0, Owner::Restore) else { return };
            let p = Packet::Subscribe(Subscribe { pkid, filters, properties: with_subscription_id(id) });
            if let Ok(b) = p.to_bytes(self.protocol) {
                self.send_link(k, b, now);
            }
        }
    }

    /// A broker's SUBACK / UNSUBACK: its part of a fan-out, or a restore's answer.
    fn fanout_answer(&mut self, k: usize, f: &Frame) {
        let Some(id) = f.packet_id() else { return };
        // Only an id a SUBSCRIBE / UNSUBSCRIBE took is freed by an answer to one: a
        // stray SUBACK under a publish's id must not free that id while it is in flight.
        let pkid = match self.links[k].ids.get(&id) {
            Some(&Owner::FanOut(pkid)) => pkid,
            Some(Owner::Restore) => {
                self.links[k].ids.remove(&id);
                return;
            }
            Some(Owner::Publish(_)) | None => return,
        };
        self.links[k].ids.remove(&id);
        let reasons = match mqtt::decode(f, self.protocol) {
            Ok(Packet::SubAck(a)) => a.reasons,
            // 3.1.1 UNSUBACK has no codes: a success per filter.
            Ok(Packet::UnsubAck(a)) if a.reasons.is_empty() => vec![ReasonCode::Success; 65_535],
            Ok(Packet::UnsubAck(a)) => a.reasons,
            _ => Vec::new(),
        };
        if let Some(m) = self.fanouts.answer(k, pkid, &reasons) {
            self.merged(m);
        }
    }

    /// A broker's PUBACK / PUBREC / PUBCOMP for a client publish: to the client
    /// under the client's id, in the order the handshake allows.
    fn publish_answer(&mut self, k: usize, f: &Frame) {
        let Some(link_id) = f.packet_id() else { return };
        let Some(&Owner::Publish(pkid)) = self.links[k].ids.get(&link_id) else { return };
        let Some(o) = self.outgoing.get(&pkid).copied() else { return };
        if o.link != k || o.link_id != link_id {
            return;
        }
        let t = f.packet_type();
        let done = match (t, o.stage) {
            (kind::PUBACK, Stage::AwaitPubAck) | (kind::PUBCOMP, Stage::AwaitPubComp) => true,
            (kind::PUBREC, Stage::AwaitPubRec) => {
                let failed = ack_reason(f, self.protocol).is_some_and(|r| r.is_error());
                if !failed {
                    self.outgoing.insert(pkid, Outgoing { stage: Stage::AwaitPubRel, ..o });
                }
                failed
            }
            _ => return,
        };
        if done {
            self.outgoing.remove(&pkid);
            self.links[k].ids.remove(&link_id);
        }
        if let Some(b) = f.with_packet_id(pkid) {
            self.send_client(b);
        }
    }

    /// A delivery from link `k` (not behind a held one). With `may_hold`, a new
    /// QoS 1/2 delivery over the client's Receive Maximum is held back.
    /// Returns false when it was held.
    fn deliver(&mut self, k: usize, f: Frame, may_hold: bool) -> bool {
        let (qos, link_id) = match PublishView::parse(&f, self.protocol) {
            Ok(p) => (p.qos, p.pkid),
            Err(_) => return true,
        };
        if qos == QoS::AtMostOnce {
            self.send_client(f.into_raw());
            return true;
        }
        let id = match self.deliveries.lookup(k, link_id) {
            // A redelivery (DUP) keeps the id the client knows.
            Some(id) => id,
            None if may_hold && self.deliveries.in_flight() >= self.receive_maximum => {
                self.held.push_back((k, f));
                return false;
            }
            None => match self.deliveries.insert(k, link_id, qos == QoS::ExactlyOnce) {
                Some(id) => id,
                None => {
                    self.end(Close::ClientGone("no free packet identifier".into()));
                    return true;
                }
            },
        };
        if let Some(b) = f.with_packet_id(id) {
            self.send_client(b);
        }
        true
    }

    /// Deliveries held back go out while the client's Receive Maximum allows.
    pub(super) fn release_held(&mut self) {
        while let Some((k, f)) = self.held.pop_front() {
            if self.deliveries.in_flight() >= self.receive_maximum && f.packet_type() == kind::PUBLISH {
                let needs_id = PublishView::parse(&f, self.protocol)
                    .is_ok_and(|p| p.qos != QoS::AtMostOnce && self.deliveries.lookup(k, p.pkid).is_none());
                if needs_id {
                    self.held.push_front((k, f));
                    return;
                }
            }
            self.deliver(k, f, false);
        }
    }

    /// A broker's PUBREL for a delivery: to the client under its id. One for a
    /// delivery the proxy does not know (resent after the client reconnected with
    /// its session) goes to the id the delivery had, so the client releases it.
    fn broker_pubrel(&mut self, k: usize, f: &Frame, now: Instant) {
        let Some(link_id) = f.packet_id() else { return };
        let id = match self.deliveries.lookup(k, link_id) {
            Some(id) => id,
            None => match self.deliveries.insert(k, link_id, true) {
                Some(id) => id,
                None => {
                    let v = self.protocol;
                    return self.send_link(
                        k,
                        ack_bytes(AckKind::PubComp, link_id, ReasonCode::Success, v),
                        now,
                    );
                }
            },
        };
        if let Some(d) = self.deliveries.get_mut(id) {
            d.received = true;
            d.released = true;
        }
        if let Some(b) = f.with_packet_id(id) {
            self.send_client(b);
        }
    }

    /// Link `k` broke (`why`): the session ends with link 0; another link is lost.
    fn link_broke(&mut self, k: usize, why: Close, now: Instant) {
        if k == 0 {
            return self.end(why);
        }
        self.lose(k, now);
    }

    /// Secondary link `k` is gone: everything in flight on it is answered, its ids
    /// forgotten on its side (the client's stay held), and it rests until retried.
    fn lose(&mut self, k: usize, now: Instant) {
        let v5 = self.protocol.is_v5();
        let link = &mut self.links[k];
        link.rest(now);
        link.ids.clear();
        link.queued.clear();
        link.queued_bytes = 0;
        if let Some(at) = self.connack.waiting.iter().position(|&l| l == k) {
            self.connack.waiting.swap_remove(at);
            self.connack.others.push(None);
            if self.will_link == Some(k) {
                self.connack.will_lost = true;
            }
            self.send_connack(now);
        }
        for m in self.fanouts.abandon(k) {
            self.merged(m);
        }
        let mut lost: Vec<(u16, Outgoing)> =
            self.outgoing.iter().filter(|(_, o)| o.link == k).map(|(&p, &o)| (p, o)).collect();
        lost.sort_unstable_by_key(|(p, _)| *p);
        let v = self.protocol;
        for (pkid, o) in lost {
            if !v5 && o.stage != Stage::Lost {
                // 3.1.1 has no refusal codes: the client re-sends after reconnecting.
                return self.end(Close::UpstreamGone("a broker with messages in flight was lost".into()));
            }
            match o.stage {
                Stage::AwaitPubAck => {
                    self.outgoing.remove(&pkid);
                    self.refuse(pkid, QoS::AtLeastOnce);
                }
                Stage::AwaitPubRec => {
                    self.outgoing.remove(&pkid);
                    self.refuse(pkid, QoS::ExactlyOnce);
                }
                Stage::AwaitPubRel => {
                    self.outgoing.insert(pkid, Outgoing { stage: Stage::Lost, ..o });
                }
                Stage::AwaitPubComp => {
                    self.outgoing.remove(&pkid);
                    self.send_client(ack_bytes(
                        AckKind::PubComp,
                        pkid,
                        ReasonCode::PacketIdentifierNotFound,
                        v,
                    ));
                }
                Stage::Lost => {}
            }
        }
        for id in self.deliveries.orphan(k) {
            // PUBREC'd deliveries: no broker will release them now; the proxy does.
            self.send_client(ack_bytes(AckKind::PubRel, id, ReasonCode::Success, v));
        }
        // Held deliveries of a lost link are gone with it (its broker re-sends them
        // if it kept the session).
        self.held.retain(|(l, _)| *l != k);
        self.release_held();
    }
}
