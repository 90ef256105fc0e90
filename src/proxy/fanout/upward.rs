//! Client → brokers in a multi-broker session: the client's frames, after the
//! session's verdict, go to the link of their topic (publishes), to every link that
//! may match (subscriptions, fanned out), or back to the link that owns them (acks).

use super::*;

impl Driver<'_> {
    /// Client → links: one frame the session accepted (as `bytes`).
    pub(super) async fn dispatch(&self, bytes: Bytes) -> Result<(), Close> {
        let v = self.a.protocol;
        let f = Frame::from_bytes(bytes.clone(), usize::MAX).map_err(Close::ClientProtocol)?;
        let to = |k: usize, b: Bytes| async move {
            match self.ensure_open(k).await {
                true => self.send(k, &b).await.map(|_| ()),
                false => Ok(()),
            }
        };
        match f.packet_type() {
            kind::PUBLISH => {
                let view = PublishView::parse(&f, v).map_err(Close::ClientProtocol)?;
                let k = self.publish_link(self.client_side(view.topic));
                if view.qos == QoS::ExactlyOnce {
                    self.state.publish_qos2(view.pkid, k);
                }
                if self.ensure_open(k).await && self.send(k, &bytes).await? {
                    return Ok(());
                }
                // Never acknowledged for a broker that did not take it.
                self.state.pubcomp(view.pkid);
                let refuse = |kind| self.answer(reply(ack(kind, view.pkid, ReasonCode::UnspecifiedError), v));
                match (view.qos, v.is_v5()) {
                    (QoS::AtMostOnce, _) => Ok(()),
                    (QoS::AtLeastOnce, true) => refuse(AckKind::PubAck).await,
                    (QoS::ExactlyOnce, true) => refuse(AckKind::PubRec).await,
                    (_, false) => Err(Close::UpstreamGone("the broker of this topic is unavailable".into())),
                }
            }
            kind::PUBREL => {
                let pkid = ack_pkid(&f);
                to(self.state.pubrel(pkid).unwrap_or(0), bytes).await
            }
            kind::PUBACK | kind::PUBREC | kind::PUBCOMP => {
                let pkid = ack_pkid(&f);
                match self.state.client_ack(pkid, f.packet_type() != kind::PUBREC) {
                    Some((k, broker)) => to(k, patch_pkid(&bytes, broker)).await,
                    None => Ok(()),
                }
            }
            kind::SUBSCRIBE => match mqtt::decode(&f, v) {
                Ok(Packet::Subscribe(s)) => self.subscribe(s).await,
                _ => to(0, bytes).await,
            },
            kind::UNSUBSCRIBE => match mqtt::decode(&f, v) {
                Ok(Packet::Unsubscribe(u)) => self.unsubscribe(u).await,
                _ => to(0, bytes).await,
            },
            kind::DISCONNECT => {
                for k in 0..self.links.len() {
                    if self.links[k].sock.borrow().is_some() {
                        let _ = self.write_link(k, &bytes).await;
                    }
                }
                Ok(())
            }
            _ => to(0, bytes).await,
        }
    }

    pub(super) async fn answer(&self, v: Verdict) -> Result<(), Close> {
        match v {
            Verdict::Reply(b) => self.write_client(&b).await,
            Verdict::End(c) => Err(c),
            _ => Ok(()),
        }
    }

    /// The links each filter goes to: the session's own and every topic route's.
    pub(super) fn targets(&self, filter: &str) -> Vec<usize> {
        let mut ks = vec![0];
        self.a.config.routes.subscribe(&self.a.facts, self.client_side(filter), &mut |u| {
            let k = self.link_of(u);
            if !ks.contains(&k) {
                ks.push(k);
            }
        });
        ks
    }

    /// Groups filter positions by link, opening links; failed positions separately.
    pub(super) async fn plan(
        &self,
        filters: &[&str],
    ) -> (Vec<(usize, Vec<usize>)>, Vec<(usize, ReasonCode)>) {
        let mut parts: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut failed = Vec::new();
        for (i, f) in filters.iter().enumerate() {
            for k in self.targets(f) {
                if !self.ensure_open(k).await {
                    failed.push((i, ReasonCode::UnspecifiedError));
                    continue;
                }
                match parts.iter_mut().find(|(l, _)| *l == k) {
                    Some((_, v)) => v.push(i),
                    None => parts.push((k, vec![i])),
                }
            }
        }
        (parts, failed)
    }

    pub(super) async fn subscribe(&self, s: Subscribe) -> Result<(), Close> {
        let names: Vec<&str> = s.filters.iter().map(|f| &*f.filter).collect();
        let (parts, failed) = self.plan(&names).await;
        if parts.is_empty() {
            return self.merged(s.pkid, vec![ReasonCode::UnspecifiedError; s.filters.len()]).await;
        }
        self.state.fan_out(s.pkid, s.filters.len(), parts.clone(), &failed);
        for (k, positions) in parts {
            let filters: Vec<SubscribeFilter> = positions.iter().map(|&i| s.filters[i].clone()).collect();
            {
                // Remembered once per filter (a re-subscription replaces its options).
                let mut subs = self.links[k].subs.borrow_mut();
                for f in &filters {
                    match subs.iter_mut().find(|s| s.filter == f.filter) {
                        Some(s) => *s = f.clone(),
                        None => subs.push(f.clone()),
                    }
                }
            }
            let p = Subscribe { pkid: s.pkid, filters, properties: s.properties.clone() };
            let b = Packet::Subscribe(p)
                .to_bytes(self.a.protocol)
                .map_err(|_| Close::ClientProtocol(mqtt::DecodeError::Truncated))?;
            self.send(k, &b).await?;
        }
        Ok(())
    }

    /// Writes to an open link: a failed write ends the session on the session's own
    /// broker, and loses the link on another.
    /// `Ok(false)`: the link was lost on the way.
    pub(super) async fn send(&self, k: usize, b: &[u8]) -> Result<bool, Close> {
        let generation = self.links[k].generation.get();
        match self.write_link(k, b).await {
            Ok(()) => Ok(true),
            Err(e) if k == 0 => Err(Close::UpstreamGone(e)),
            Err(e) => self.lose(k, generation, &e).await.map(|()| false),
        }
    }

    pub(super) async fn unsubscribe(&self, u: Unsubscribe) -> Result<(), Close> {
        let names: Vec<&str> = u.filters.iter().map(|f| &**f).collect();
        let (parts, failed) = self.plan(&names).await;
        self.pending_unsub.borrow_mut().insert(u.pkid);
        if parts.is_empty() {
            return self.merged(u.pkid, vec![ReasonCode::UnspecifiedError; u.filters.len()]).await;
        }
        self.state.fan_out(u.pkid, u.filters.len(), parts.clone(), &failed);
        for (k, positions) in parts {
            let filters: Vec<_> = positions.iter().map(|&i| u.filters[i].clone()).collect();
            self.links[k].subs.borrow_mut().retain(|s| !filters.contains(&s.filter));
            let p = Unsubscribe { pkid: u.pkid, filters, properties: u.properties.clone() };
            let b = Packet::Unsubscribe(p)
                .to_bytes(self.a.protocol)
                .map_err(|_| Close::ClientProtocol(mqtt::DecodeError::Truncated))?;
            self.send(k, &b).await?;
        }
        Ok(())
    }

    /// Reads the client until the session ends.
    pub(super) async fn client_loop(&self, mut buf: BytesMut) -> Close {
        let mut src = self.a.client.clone();
        loop {
            let fs = match frames(&mut buf, self.a.max_packet_size) {
                Ok(fs) => fs,
                Err(e) => return Close::ClientProtocol(e),
            };
            for f in fs {
                self.a.metrics.packets_up.add(1);
                let mut verdict = self.a.session.from_client(&f);
                if let Some(r) = self.a.session.take_rejection() {
                    (self.a.rejected)(&r);
                }
                if let Verdict::Reauthenticate(token) = &verdict {
                    verdict = match (self.a.reauth)(token) {
                        Ok(()) => self.a.session.reauth_ok(),
                        Err(_) => Verdict::End(Close::ReauthFailed),
                    };
                }
                let r = match verdict {
                    Verdict::Forward => self.dispatch(f.raw().clone()).await,
                    Verdict::Replace(b) => self.dispatch(b).await,
                    Verdict::ForwardThenEnd(c) => match self.dispatch(f.raw().clone()).await {
                        Ok(()) => Err(c),
                        Err(e) => Err(e),
                    },
                    Verdict::Reply(b) => self.write_client(&b).await,
                    Verdict::Drop | Verdict::Reauthenticate(_) => Ok(()),
                    Verdict::End(c) => Err(c),
                };
                if let Err(c) = r {
                    return c;
                }
            }
            match read_into(&mut src, &mut buf, self.a.read_size).await {
                Ok(0) => return Close::ClientGone("end of stream".into()),
                Ok(_) => self.a.watchdog.touch(),
                Err(e) => return Close::ClientGone(e.to_string()),
            }
        }
    }
}
