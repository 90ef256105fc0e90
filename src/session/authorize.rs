//! Authorization inside a session: the expanded topic ACL applied to each PUBLISH
//! and SUBSCRIBE of the client, the answers the proxy gives itself for what it will
//! not forward, and the SUBACKs it has to complete. Pure (part of the session state
//! machine).
//!
//! - Denied PUBLISH: refused as [`super::refuse`] says, with 0x87 (3.1.1: acknowledge
//!   and drop, or close when `v3_denied_publish: disconnect`).
//! - SUBSCRIBE: denied filters are removed before forwarding and their SUBACK code
//!   (0x87; 3.1.1: 0x80) is put back in place when the broker's SUBACK comes; if all
//!   are denied the proxy answers alone.
//! - Subscription quota (`limits.max_subscriptions_per_session`): the distinct
//!   filters the session holds are counted (SUBSCRIBE adds, UNSUBSCRIBE removes;
//!   copied out of the frames, so at most the limit of them are kept); filters over
//!   it are removed like denied ones and answered 0x97 Quota exceeded (3.1.1: 0x80).
//!   A filter the broker itself refused still counts until it is unsubscribed.
//! - MQTT 5.0 topic aliases are resolved by the session, so an aliased PUBLISH is
//!   judged by its real topic.

use super::close::Close;
use super::refuse::{reply, Dropped, Policy};
use super::verdict::Verdict;
use crate::auth::acl::{Acl, Limits, V3Denied};
use crate::mqtt::{self, Packet, Protocol, QoS, ReasonCode, SubAck, Subscribe};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

/// Positions of the filters of a SUBSCRIBE the proxy refused, ascending, with their codes.
type Refused = Vec<(usize, ReasonCode)>;

/// A cap on a session's subscriptions, and the filters it holds.
#[derive(Debug)]
struct Quota {
    max: usize,
    held: HashSet<Box<str>>,
}

/// The authorization state of one session.
#[derive(Debug)]
pub struct Authorizer {
    acl: Acl,
    v3: V3Denied,
    /// SUBSCRIBE pkid → its refused filters and how many filters it had.
    pending: RefCell<HashMap<u16, (Refused, usize)>>,
    /// The subscription quota, if any.
    quota: Option<RefCell<Quota>>,
    /// Publishes refused so far.
    pub denied_publish: Cell<u64>,
    /// Subscription filters refused so far.
    pub denied_subscribe: Cell<u64>,
    /// What of those two the driver has reported (metrics are counted as they happen).
    reported: Cell<(u64, u64)>,
}

impl Authorizer {
    /// An authorizer for an expanded ACL.
    pub fn new(acl: Acl, v3: V3Denied) -> Self {
        Authorizer {
            acl,
            v3,
            pending: RefCell::default(),
            quota: None,
            denied_publish: Cell::default(),
            denied_subscribe: Cell::default(),
            reported: Cell::default(),
        }
    }

    /// Publishes and subscription filters refused since the last call.
    pub fn take_unreported(&self) -> (u64, u64) {
        let (p, s) = self.reported.get();
        let now = (self.denied_publish.get(), self.denied_subscribe.get());
        self.reported.set(now);
        (now.0 - p, now.1 - s)
    }

    /// The same authorizer, holding the session to at most `max` subscriptions.
    pub fn with_subscription_limit(mut self, max: Option<usize>) -> Self {
        self.quota = max.map(|max| RefCell::new(Quota { max, held: HashSet::new() }));
        self
    }

    /// True when UNSUBSCRIBEs must be seen (they free quota).
    pub fn counts_subscriptions(&self) -> bool {
        self.quota.is_some()
    }

    /// An UNSUBSCRIBE of `filters` (as the client wrote them).
    pub fn unsubscribed<'f>(&self, filters: impl IntoIterator<Item = &'f str>) {
        if let Some(q) = &self.quota {
            let mut q = q.borrow_mut();
            for f in filters {
                q.held.remove(f);
            }
        }
    }

    /// A PUBLISH from the client to `topic` (aliases already resolved): the limits
    /// of its ACL entry when allowed, else the proxy's answer: 0x87 outside the ACL;
    /// above the entry's QoS or retained where it forbids that, 5.0 DISCONNECT 0x9B /
    /// 0x9A (the codes MQTT has for these; a PUBACK cannot carry them), 3.1.1 as a
    /// denied publish.
    pub fn publish(
        &self,
        topic: &str,
        (qos, retain): (QoS, bool),
        pkid: u16,
        v: Protocol,
        dropped: &Dropped,
    ) -> Result<Limits, Verdict> {
        let limits = self.acl.publish_limits(topic);
        let reason = if !self.acl.can_publish(topic) {
            ReasonCode::NotAuthorized
        } else if limits.max_qos.is_some_and(|m| qos > m) {
            ReasonCode::QoSNotSupported
        } else if limits.no_retain && retain {
            ReasonCode::RetainNotSupported
        } else {
            return Ok(limits);
        };
        self.denied_publish.set(self.denied_publish.get() + 1);
        let limit = reason != ReasonCode::NotAuthorized;
        let policy = Policy { reason, v5_disconnect: limit, v3_disconnect: self.v3 == V3Denied::Disconnect };
        Err(dropped.refuse(qos, pkid, v, policy, || match limit {
            true => Close::TopicLimit(topic.to_string(), reason),
            false => Close::Denied(topic.to_string()),
        }))
    }

    /// A SUBSCRIBE from the client: `Ok((allowed filters, trimmed?))` to forward, or
    /// the proxy's own answer when every filter is denied.
    pub fn trim(&self, mut sub: Subscribe, v: Protocol) -> Result<(Subscribe, bool), Verdict> {
        // QoS caps of the filters' ACL entries: the broker is asked for no more.
        let mut capped = false;
        if !self.acl.subscribe_limits.is_empty() {
            for f in &mut sub.filters {
                if let Some(cap) = self.acl.subscribe_cap(&f.filter).filter(|c| f.options.qos > *c) {
                    f.options.qos = cap;
                    capped = true;
                }
            }
        }
        let mut quota = self.quota.as_ref().map(RefCell::borrow_mut);
        let mut denied: Refused = Vec::new();
        for (i, f) in sub.filters.iter().enumerate() {
            if !self.acl.can_subscribe(&f.filter) {
                denied.push((i, ReasonCode::NotAuthorized));
            } else if let Some(q) = quota.as_mut().filter(|q| !q.held.contains(f.filter.as_str())) {
                if q.held.len() >= q.max {
                    denied.push((i, ReasonCode::QuotaExceeded));
                } else {
                    q.held.insert(f.filter.as_str().into());
                }
            }
        }
        drop(quota);
        if denied.is_empty() {
            return Ok((sub, capped));
        }
        self.denied_subscribe.set(self.denied_subscribe.get() + denied.len() as u64);
        let total = sub.filters.len();
        if denied.len() == total {
            let reasons = denied.iter().map(|(_, r)| *r).collect();
            return Err(reply(
                Packet::SubAck(SubAck { pkid: sub.pkid, reasons, properties: Default::default() }),
                v,
            ));
        }
        // `denied` is in ascending order: one pass, not a search per filter (a 1 MiB
        // SUBSCRIBE holds ~130k filters).
        let mut i = 0;
        let mut next_denied = denied.iter().peekable();
        sub.filters.retain(|_| {
            let keep = next_denied.next_if(|(at, _)| *at == i).is_none();
            i += 1;
            keep
        });
        self.pending.borrow_mut().insert(sub.pkid, (denied, total));
        Ok((sub, true))
    }

    /// A SUBACK from the broker: completed with the denied filters' codes if needed.
    pub fn suback(&self, mut ack: SubAck, v: Protocol) -> Verdict {
        let Some((denied, total)) = self.pending.borrow_mut().remove(&ack.pkid) else {
            return Verdict::Forward;
        };
        let mut granted = ack.reasons.into_iter();
        let mut next_denied = denied.iter().peekable();
        ack.reasons = (0..total)
            .map(|i| match next_denied.next_if(|(at, _)| *at == i) {
                Some((_, refused)) => *refused,
                None => granted.next().unwrap_or(ReasonCode::UnspecifiedError),
            })
            .collect();
        match Packet::SubAck(ack).to_bytes(v) {
            Ok(b) => Verdict::Replace(b),
            Err(_) => Verdict::End(Close::UpstreamProtocol(mqtt::DecodeError::Truncated)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::acl::{Context, Template};
    use crate::mqtt::{
        Ack, AckKind, Frame, MqttStr, Publish, PublishProperties, SubscribeFilter, SubscriptionOptions,
    };
    use crate::session::hop::Session;
    use crate::session::refuse::ack;
    use bytes::Bytes;

    fn session(v: Protocol, v3: V3Denied) -> Session {
        let pubs = [Template::parse("devices/{client_id}/#", false).expect("t")];
        let subs = [
            Template::parse("devices/{client_id}/#", false).expect("t"),
            Template::parse("all/#", false).expect("t"),
        ];
        let acl = Acl::expand(Some(&pubs), Some(&subs), &Context { identity: None, client_id: "d1" });
        Session::new(v, 30, None).with_authorizer(Authorizer::new(acl, v3))
    }

    fn frame(p: Packet, v: Protocol) -> Frame {
        Frame::from_bytes(p.to_bytes(v).expect("encode"), usize::MAX).expect("frame")
    }

    fn publish(topic: &'static str, qos: QoS, pkid: u16, alias: Option<u16>) -> Packet {
        let properties = PublishProperties { topic_alias: alias, ..Default::default() };
        Packet::Publish(Publish {
            qos,
            pkid,
            properties,
            ..Publish::new(MqttStr::from_static(topic), Bytes::new())
        })
    }

    use crate::session::verdict::replied as reply;

    #[test]
    fn v5_denied_publishes_get_0x87_or_are_dropped() {
        let v = Protocol::V5;
        let s = session(v, V3Denied::Drop);
        assert_eq!(
            s.from_client(&frame(publish("devices/d1/t", QoS::AtLeastOnce, 1, None), v)),
            Verdict::Forward
        );
        assert_eq!(
            s.from_client(&frame(publish("devices/d2/t", QoS::AtMostOnce, 0, None), v)),
            Verdict::Drop
        );
        let r = reply(s.from_client(&frame(publish("devices/d2/t", QoS::AtLeastOnce, 2, None), v)), v);
        assert_eq!(r, ack(AckKind::PubAck, 2, ReasonCode::NotAuthorized));
        let r = reply(s.from_client(&frame(publish("devices/d2/t", QoS::ExactlyOnce, 3, None), v)), v);
        assert_eq!(r, ack(AckKind::PubRec, 3, ReasonCode::NotAuthorized));
        assert_eq!(s.authorizer.as_ref().map(|a| a.denied_publish.get()), Some(3));
    }

    /// A session whose ACL has limits: `cmd/#` QoS ≤ 1 and never retained, `t/#`
    /// expiring within 60 s, `feed/#` subscribed at QoS ≤ 0.
    fn limited(v: Protocol) -> Session {
        use crate::auth::acl::{AclConfig, Entry, Limits};
        let entry = |f: &str, limits: Limits| Entry {
            filter: Template::parse(f, false).expect("t"),
            scopes: vec![],
            limits,
        };
        let cmd = Limits { max_qos: Some(QoS::AtLeastOnce), no_retain: true, max_expiry: None };
        let t = Limits { max_expiry: Some(60), ..Limits::default() };
        let feed = Limits { max_qos: Some(QoS::AtMostOnce), ..Limits::default() };
        let cfg = AclConfig {
            publish: Some(vec![entry("cmd/#", cmd), entry("t/#", t)]),
            subscribe: Some(vec![entry("feed/#", feed), entry("any/#", Limits::default())]),
            ..AclConfig::default()
        };
        let acl = cfg.for_session(&Context { identity: None, client_id: "d1" }).expect("acl");
        Session::new(v, 30, None).with_authorizer(Authorizer::new(acl, V3Denied::Drop))
    }

    #[test]
    fn entry_limits_refuse_qos_and_retain_and_bound_expiry() {
        let v = Protocol::V5;
        let s = limited(v);
        assert_eq!(
            s.from_client(&frame(publish("cmd/stop", QoS::AtLeastOnce, 1, None), v)),
            Verdict::Forward
        );
        let over = s.from_client(&frame(publish("cmd/stop", QoS::ExactlyOnce, 2, None), v));
        assert_eq!(over, Verdict::End(Close::TopicLimit("cmd/stop".into(), ReasonCode::QoSNotSupported)));
        let mut retained = publish("cmd/stop", QoS::AtLeastOnce, 3, None);
        if let Packet::Publish(p) = &mut retained {
            p.retain = true;
        }
        let r = limited(v).from_client(&frame(retained, v));
        assert_eq!(r, Verdict::End(Close::TopicLimit("cmd/stop".into(), ReasonCode::RetainNotSupported)));
        assert_eq!(
            Close::TopicLimit(String::new(), ReasonCode::RetainNotSupported).client_reason(),
            Some(ReasonCode::RetainNotSupported)
        );
        // No expiry, or a longer one: the entry's 60 s; a shorter one stays.
        for (asked, got) in [(None, 60), (Some(3600), 60), (Some(5), 5)] {
            let mut p = publish("t/x", QoS::AtLeastOnce, 4, None);
            if let Packet::Publish(p) = &mut p {
                p.properties.message_expiry_interval = asked;
            }
            let out = match s.from_client(&frame(p, v)) {
                Verdict::Replace(b) => frame_packet(b, v),
                Verdict::Forward => None,
                other => panic!("{other:?}"),
            };
            let expiry = out.map_or(asked, |p| match p {
                Packet::Publish(p) => p.properties.message_expiry_interval,
                other => panic!("{other:?}"),
            });
            assert_eq!(expiry, Some(got), "asked {asked:?}");
        }
        // 3.1.1 has no expiry to bound; a QoS above the cap is acknowledged and dropped.
        let v3 = Protocol::V311;
        let s = limited(v3);
        assert_eq!(s.from_client(&frame(publish("t/x", QoS::AtLeastOnce, 4, None), v3)), Verdict::Forward);
        let r = reply(s.from_client(&frame(publish("cmd/stop", QoS::ExactlyOnce, 5, None), v3)), v3);
        assert!(matches!(r, Packet::Ack(Ack { kind: AckKind::PubRec, pkid: 5, .. })), "{r:?}");
    }

    fn frame_packet(b: Bytes, v: Protocol) -> Option<Packet> {
        let f = Frame::from_bytes(b, usize::MAX).expect("frame");
        Some(crate::mqtt::decode(&f, v).expect("decodes"))
    }

    #[test]
    fn subscriptions_are_capped_at_their_entry_qos() {
        let v = Protocol::V5;
        let s = limited(v);
        let sub = |filter: &'static str| {
            Packet::Subscribe(Subscribe {
                pkid: 9,
                filters: vec![SubscribeFilter {
                    filter: MqttStr::from_static(filter),
                    options: SubscriptionOptions { qos: QoS::ExactlyOnce, ..Default::default() },
                }],
                properties: Default::default(),
            })
        };
        let Verdict::Replace(b) = s.from_client(&frame(sub("feed/+"), v)) else { panic!("rewritten") };
        let Some(Packet::Subscribe(out)) = frame_packet(b, v) else { panic!("subscribe") };
        assert_eq!(out.filters[0].options.qos, QoS::AtMostOnce);
        assert_eq!(s.from_client(&frame(sub("any/x"), v)), Verdict::Forward, "no cap: untouched");
    }

    #[test]
    fn topic_aliases_are_judged_by_their_topic() {
        let v = Protocol::V5;
        let s = session(v, V3Denied::Drop);
        // The broker offers aliases.
        let mut ack = crate::mqtt::ConnAck::new(ReasonCode::Success, false);
        ack.properties.topic_alias_maximum = Some(10);
        s.from_link(0, &frame(Packet::ConnAck(ack), v), 30);
        assert_eq!(
            s.from_client(&frame(publish("devices/d1/a", QoS::AtMostOnce, 0, Some(1)), v)),
            Verdict::Forward
        );
        assert_eq!(s.from_client(&frame(publish("", QoS::AtMostOnce, 0, Some(1)), v)), Verdict::Forward);
        assert_eq!(
            s.from_client(&frame(publish("devices/d9/a", QoS::AtMostOnce, 0, Some(2)), v)),
            Verdict::Drop
        );
        assert_eq!(s.from_client(&frame(publish("", QoS::AtMostOnce, 0, Some(2)), v)), Verdict::Drop);
    }

    #[test]
    fn v311_drop_acknowledges_and_answers_pubrel_locally() {
        let v = Protocol::V311;
        let s = session(v, V3Denied::Drop);
        let r = reply(s.from_client(&frame(publish("x", QoS::AtLeastOnce, 4, None), v)), v);
        assert_eq!(r, Packet::Ack(Ack::new(AckKind::PubAck, 4)));
        let r = reply(s.from_client(&frame(publish("x", QoS::ExactlyOnce, 5, None), v)), v);
        assert_eq!(r, Packet::Ack(Ack::new(AckKind::PubRec, 5)));
        let r = reply(s.from_client(&frame(Packet::Ack(Ack::new(AckKind::PubRel, 5)), v)), v);
        assert_eq!(r, Packet::Ack(Ack::new(AckKind::PubComp, 5)));
        // A PUBREL for a message the broker has is forwarded.
        assert_eq!(s.from_client(&frame(Packet::Ack(Ack::new(AckKind::PubRel, 6)), v)), Verdict::Forward);
        let s = session(v, V3Denied::Disconnect);
        assert!(matches!(
            s.from_client(&frame(publish("x", QoS::AtMostOnce, 0, None), v)),
            Verdict::End(Close::Denied(_))
        ));
    }

    #[test]
    fn subscribe_is_trimmed_and_suback_completed() {
        for v in [Protocol::V5, Protocol::V311] {
            let s = session(v, V3Denied::Drop);
            let f = |filter: &'static str| SubscribeFilter {
                filter: MqttStr::from_static(filter),
                options: SubscriptionOptions { qos: QoS::AtLeastOnce, ..Default::default() },
            };
            let sub = Subscribe {
                pkid: 7,
                filters: vec![f("devices/d1/#"), f("devices/+/t"), f("all/x")],
                properties: Default::default(),
            };
            // Skip the CONNACK step of the session.
            let connack = frame(Packet::ConnAck(mqtt::ConnAck::new(ReasonCode::Success, false)), v);
            assert_eq!(s.from_upstream(&connack, 30), Verdict::Forward);
            let Verdict::Replace(b) = s.from_client(&frame(Packet::Subscribe(sub), v)) else {
                panic!("not trimmed")
            };
            let Ok(Packet::Subscribe(trimmed)) = mqtt::decode_bytes(b, v, usize::MAX) else {
                panic!("bad SUBSCRIBE")
            };
            assert_eq!(trimmed.filters, vec![f("devices/d1/#"), f("all/x")]);
            let broker = SubAck {
                pkid: 7,
                reasons: vec![ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS1],
                properties: Default::default(),
            };
            let Verdict::Replace(b) = s.from_upstream(&frame(Packet::SubAck(broker), v), 30) else {
                panic!("not merged")
            };
            let Ok(Packet::SubAck(merged)) = mqtt::decode_bytes(b, v, usize::MAX) else {
                panic!("bad SUBACK")
            };
            let denied = if v.is_v5() { ReasonCode::NotAuthorized } else { ReasonCode::UnspecifiedError };
            assert_eq!(merged.reasons, vec![ReasonCode::GrantedQoS1, denied, ReasonCode::GrantedQoS1]);
            // All denied: answered by the proxy.
            let all = Subscribe { pkid: 8, filters: vec![f("#")], properties: Default::default() };
            let r = reply(s.from_client(&frame(Packet::Subscribe(all), v)), v);
            assert_eq!(
                r,
                Packet::SubAck(SubAck { pkid: 8, reasons: vec![denied], properties: Default::default() })
            );
        }
    }

    #[test]
    fn a_huge_subscribe_is_trimmed_and_answered_in_order() {
        let acl = Acl { publish: None, subscribe: Some(vec!["ok/#".into()]), ..Acl::default() };
        let a = Authorizer::new(acl, V3Denied::Drop);
        let n: usize = 100_000;
        let filters: Vec<SubscribeFilter> = (0..n)
            .map(|i| SubscribeFilter {
                filter: MqttStr::try_from(format!("{}/{i}", if i % 3 == 0 { "no" } else { "ok" }))
                    .expect("f"),
                options: SubscriptionOptions::default(),
            })
            .collect();
        let sub = Subscribe { pkid: 9, filters, properties: Default::default() };
        let Ok((trimmed, true)) = a.trim(sub, Protocol::V5) else { panic!("trimmed") };
        assert_eq!(trimmed.filters.len(), n - n.div_ceil(3));
        assert!(trimmed.filters.iter().all(|f| f.filter.starts_with("ok/")));
        assert_eq!(&*trimmed.filters[0].filter, "ok/1");
        let granted = vec![ReasonCode::GrantedQoS1; trimmed.filters.len()];
        let Verdict::Replace(b) =
            a.suback(SubAck { pkid: 9, reasons: granted, properties: Default::default() }, Protocol::V5)
        else {
            panic!("a merged SUBACK")
        };
        let Ok(Packet::SubAck(merged)) = crate::mqtt::decode_bytes(b, Protocol::V5, usize::MAX) else {
            panic!()
        };
        assert_eq!(merged.reasons.len(), n);
        for (i, r) in merged.reasons.iter().enumerate() {
            let want = if i % 3 == 0 { ReasonCode::NotAuthorized } else { ReasonCode::GrantedQoS1 };
            assert_eq!(*r, want, "filter {i}");
        }
    }
}
