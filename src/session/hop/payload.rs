//! The payload side of the session: topic ACL and validation of client
//! publishes, validation and mount points of deliveries, mount points and ACL
//! trimming of subscriptions. Pure, like the rest of the session.

use super::*;

/// A 5.0 PUBLISH's properties, decoded once (`None`: 3.1.1, or none present).
fn properties(frame: &Frame, view: &PublishView<'_>) -> Option<PublishProperties> {
    (view.raw_properties.len() > 1).then(|| view.properties(frame))
}

impl Session {
    /// Runs the validation rule for `topic` in `dir`: the rejection, if the
    /// message is invalid.
    pub(super) fn validate(
        &self,
        view: &PublishView<'_>,
        props: Option<&PublishProperties>,
        topic: &str,
        dir: Direction,
    ) -> Option<Box<Rejection>> {
        let s = self.schemas.as_ref()?;
        let (i, rule) = s.rule(topic, dir)?;
        let invalid = rule.check(view.payload, props).err()?;
        Some(Box::new(Rejection { rule: i, dir, invalid, topic: topic.to_string() }))
    }

    /// A client PUBLISH, when an ACL, validation rules or a mount point apply:
    /// parsed once, its properties decoded once.
    pub(super) fn publish_up(&self, frame: &Frame) -> Verdict {
        let v = self.protocol;
        let view = match PublishView::parse_client(frame, v) {
            Ok(x) => x,
            Err(e) => return Verdict::End(Close::ClientProtocol(e)),
        };
        let props = properties(frame, &view);
        if let Err(e) = self.alias_allowed(props.as_ref()) {
            return Verdict::End(Close::ClientProtocol(e));
        }
        let Some(topic) = resolve(&self.aliases_up, props.as_ref(), view.topic) else {
            // An alias never set: the broker answers 0x94.
            return Verdict::Forward;
        };
        let mut limits = crate::auth::Limits::default();
        if let Some(a) = &self.authorizer {
            match a.publish(&topic, (view.qos, view.retain), view.pkid, v, &self.dropped_up) {
                Ok(l) => limits = l,
                Err(verdict) => return verdict,
            }
        }
        let Some(rejection) = self.validate(&view, props.as_ref(), &topic, Direction::Publish) else {
            let expiry = props.as_ref().and_then(|p| p.message_expiry_interval);
            return match limits.max_expiry {
                Some(max) if v.is_v5() && expiry.is_none_or(|e| e > max) => self.expiring(frame, max),
                _ => self.mounted(frame, &view),
            };
        };
        let on = self.schemas.as_ref().map(|s| s.rules[rejection.rule].on_invalid).unwrap_or_default();
        let policy = Policy {
            reason: ReasonCode::PayloadFormatInvalid,
            v5_disconnect: on.v5 == OnInvalidV5::Disconnect,
            v3_disconnect: on.v3 == OnInvalidV3::Disconnect,
        };
        let answer = self
            .dropped_up
            .refuse(view.qos, view.pkid, v, policy, || Close::InvalidPayload(topic.to_string()));
        Verdict::Rejected(rejection, Box::new(answer))
    }

    /// A broker PUBLISH, when deliveries are validated or mounted: its topic loses
    /// the mount point; an invalid one (or one outside the mount point) is dropped
    /// for this subscriber and acknowledged to the broker (it must not redeliver).
    pub(super) fn deliver(&self, link: usize, frame: &Frame) -> Verdict {
        let v = self.protocol;
        let view = match PublishView::parse(frame, v) {
            Ok(x) => x,
            Err(e) => return Verdict::End(Close::UpstreamProtocol(e)),
        };
        let (inner, replaced) = match &self.mount {
            Some(m) if !view.topic.is_empty() => match m.inward(view.topic) {
                Some(t) => (t, view.with_topic(frame, t)),
                None => {
                    self.outside_mount.set(self.outside_mount.get() + 1);
                    return self.drop_delivery(link, &view);
                }
            },
            _ => (view.topic, None),
        };
        let props = properties(frame, &view);
        let Some(topic) = resolve(&self.aliases_down, props.as_ref(), inner) else { return Verdict::Forward };
        if let Some(rejection) = self.validate(&view, props.as_ref(), &topic, Direction::Deliver) {
            return Verdict::Rejected(rejection, Box::new(self.drop_delivery(link, &view)));
        }
        match replaced {
            Some(b) => Verdict::Replace(b),
            None => Verdict::Forward,
        }
    }

    /// Drops a delivery, acknowledging it to the broker.
    pub(super) fn drop_delivery(&self, link: usize, view: &PublishView<'_>) -> Verdict {
        let v = self.protocol;
        match view.qos {
            QoS::AtMostOnce => Verdict::Drop,
            QoS::AtLeastOnce => reply(Packet::Ack(Ack::new(AckKind::PubAck, view.pkid)), v),
            QoS::ExactlyOnce => self.dropped_down.accept_qos2(link, view.pkid, v),
        }
    }

    /// A client PUBLISH that goes on: under the mount point, if the session has one
    /// (an alias-only publish keeps its empty topic: the broker knows the alias).
    fn mounted(&self, frame: &Frame, view: &PublishView<'_>) -> Verdict {
        match &self.mount {
            Some(m) if !view.topic.is_empty() => match view.with_topic(frame, &m.outward(view.topic)) {
                Some(b) => Verdict::Replace(b),
                None => Verdict::End(Close::ClientProtocol(DecodeError::Truncated)),
            },
            _ => Verdict::Forward,
        }
    }

    /// A 5.0 client PUBLISH re-encoded with Message Expiry Interval `max` (its ACL
    /// entry's longest), and under the mount point.
    fn expiring(&self, frame: &Frame, max: u32) -> Verdict {
        let v = self.protocol;
        let mut p = match mqtt::decode(frame, v) {
            Ok(Packet::Publish(p)) => p,
            Ok(_) => return Verdict::Forward,
            Err(e) => return Verdict::End(Close::ClientProtocol(e)),
        };
        p.properties.message_expiry_interval = Some(max);
        if let Some(m) = self.mount.as_ref().filter(|_| !p.topic.is_empty()) {
            match MqttStr::try_from(m.outward(p.topic.as_str())) {
                Ok(t) => p.topic = t,
                Err(_) => return Verdict::End(Close::ClientProtocol(DecodeError::Truncated)),
            }
        }
        match Packet::Publish(p).to_bytes(v) {
            Ok(b) => Verdict::Replace(b),
            Err(_) => Verdict::End(Close::ClientProtocol(DecodeError::Truncated)),
        }
    }

    /// A client UNSUBSCRIBE under the mount point.
    pub(super) fn unsubscribe(&self, frame: &Frame) -> Verdict {
        let v = self.protocol;
        let mut u = match mqtt::decode(frame, v) {
            Ok(Packet::Unsubscribe(u)) => u,
            Ok(_) => return Verdict::Forward,
            Err(e) => return Verdict::End(Close::ClientProtocol(e)),
        };
        if let Some(a) = &self.authorizer {
            a.unsubscribed(u.filters.iter().map(|f| f.as_str()));
        }
        let Some(m) = &self.mount else { return Verdict::Forward };
        let mounted = m.unsubscribe(&mut u);
        match mounted.ok().and_then(|()| Packet::Unsubscribe(u).to_bytes(v).ok()) {
            Some(b) => Verdict::Replace(b),
            None => Verdict::End(Close::ClientProtocol(DecodeError::Truncated)),
        }
    }

    /// A client SUBSCRIBE: trimmed by the ACL, mounted.
    pub(super) fn subscribe(&self, frame: &Frame) -> Verdict {
        let v = self.protocol;
        let sub = match mqtt::decode(frame, v) {
            Ok(Packet::Subscribe(s)) => s,
            Ok(_) => return Verdict::Forward,
            Err(e) => return Verdict::End(Close::ClientProtocol(e)),
        };
        let (mut sub, mut changed) = match &self.authorizer {
            Some(a) => match a.trim(sub, v) {
                Ok(x) => x,
                Err(answer) => return answer,
            },
            None => (sub, false),
        };
        if let Some(m) = &self.mount {
            if m.subscribe(&mut sub).is_err() {
                return Verdict::End(Close::ClientProtocol(DecodeError::Truncated));
            }
            changed = true;
        }
        if !changed {
            return Verdict::Forward;
        }
        match Packet::Subscribe(sub).to_bytes(v) {
            Ok(b) => Verdict::Replace(b),
            Err(_) => Verdict::End(Close::ClientProtocol(DecodeError::Truncated)),
        }
    }
}
