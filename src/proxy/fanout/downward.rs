//! Brokers → client in a multi-broker session: opening and losing links, reading
//! each link, merging answers, remapping delivery packet ids, keeping idle links
//! alive.

use super::*;

impl Driver<'_> {
    /// Opens secondary link `k` if it is not open (and not resting after a failure).
    pub(super) async fn ensure_open(&self, k: usize) -> bool {
        let link = &self.links[k];
        if link.sock.borrow().is_some() {
            return true;
        }
        if link.down_until.get().is_some_and(|t| Instant::now() < t) {
            return false;
        }
        let up = &self.a.config.upstreams[link.upstream];
        let connect = match &self.a.will {
            Some((w, c)) if *w == k => c.clone(),
            _ => self.a.connect.clone(),
        };
        let opened = async {
            let (mut s, server) = open_upstream(up, &connect, self.a.facts.client_id).await?;
            let mut buf = BytesMut::new();
            loop {
                if let Some(f) = Frame::split(&mut buf, self.a.max_packet_size).map_err(|e| e.to_string())? {
                    match mqtt::decode(&f, self.a.protocol) {
                        Ok(Packet::ConnAck(c)) if !c.reason.is_error() => return Ok((s, buf, server)),
                        Ok(Packet::ConnAck(c)) => return Err(format!("CONNACK {:?}", c.reason)),
                        _ => return Err("no CONNACK".to_string()),
                    }
                }
                match read_into(&mut s, &mut buf, 4096).await {
                    Ok(0) => return Err("closed before CONNACK".into()),
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        let timeout = up.connect_timeout * 2;
        let r = futures_lite::future::or(opened, async {
            glommio::timer::sleep(timeout).await;
            Err("timed out".to_string())
        })
        .await;
        match r {
            Ok((s, buf, server)) => {
                info!(client_id = self.a.facts.client_id, upstream = %up.name, %server, "link opened");
                *link.sock.borrow_mut() = Some(s);
                link.generation.set(link.generation.get() + 1);
                *link.leftover.borrow_mut() = buf;
                link.down_until.set(None);
                let _ = link.opened.try_send(());
                // A re-opened link gets its subscriptions back (answers are not the client's).
                let subs = link.subs.borrow().clone();
                if !subs.is_empty() {
                    let s = Subscribe { pkid: u16::MAX, filters: subs, properties: Default::default() };
                    if let Ok(b) = Packet::Subscribe(s).to_bytes(self.a.protocol) {
                        let _ = self.write_link(k, &b).await;
                    }
                }
                true
            }
            Err(why) => {
                warn!(client_id = self.a.facts.client_id, upstream = %up.name, %why, "link failed; retried on later use");
                link.down_until.set(Some(Instant::now() + RETRY_AFTER));
                false
            }
        }
    }

    /// A link that failed (the connection of `generation`): forgotten, its pending
    /// answers completed as failures. A no-op when that connection is gone already.
    pub(super) async fn lose(&self, k: usize, generation: u64, why: &str) -> Result<(), Close> {
        let link = &self.links[k];
        if link.generation.get() != generation || link.sock.borrow().is_none() {
            return Ok(());
        }
        *link.sock.borrow_mut() = None;
        link.down_until.set(Some(Instant::now() + RETRY_AFTER));
        warn!(client_id = self.a.facts.client_id, upstream = %self.a.config.upstreams[link.upstream].name, %why, "link lost");
        self.state.link_lost(k);
        for (pkid, reasons) in self.state.abandon(k) {
            self.merged(pkid, reasons).await?;
        }
        Ok(())
    }

    /// Sends a merged SUBACK / UNSUBACK (through the session, which completes
    /// ACL-denied filters).
    pub(super) async fn merged(&self, pkid: u16, reasons: Vec<ReasonCode>) -> Result<(), Close> {
        let v = self.a.protocol;
        let p = if self.pending_unsub.borrow_mut().remove(&pkid) {
            Packet::UnsubAck(UnsubAck { pkid, reasons, properties: Default::default() })
        } else {
            Packet::SubAck(SubAck { pkid, reasons, properties: Default::default() })
        };
        let Ok(b) = p.to_bytes(v) else { return Ok(()) };
        let Ok(f) = Frame::from_bytes(b.clone(), usize::MAX) else { return Ok(()) };
        match self.a.session.from_upstream(&f, self.a.keep_alive) {
            Verdict::Replace(r) => self.write_client(&r).await,
            Verdict::End(c) => Err(c),
            _ => self.write_client(&b).await,
        }
    }

    /// Reads link `k` (waiting while it is closed); ends the session only for link 0.
    pub(super) async fn link_loop(&self, k: usize) -> Close {
        let link = &self.links[k];
        loop {
            let Some(mut src) = link.sock.borrow().clone() else {
                if link.wake.recv().await.is_none() {
                    return futures_lite::future::pending().await;
                }
                continue;
            };
            let generation = link.generation.get();
            let current = || link.generation.get() == generation && link.sock.borrow().is_some();
            let mut buf = std::mem::take(&mut *link.leftover.borrow_mut());
            let c: Close = loop {
                let fs = match frames(&mut buf, self.a.max_packet_size) {
                    Ok(fs) => fs,
                    Err(e) => break Close::UpstreamProtocol(e),
                };
                let mut end = None;
                for f in fs {
                    self.a.metrics.packets_down.add(1);
                    if let Err(c) = self.on_link_frame(k, f).await {
                        end = Some(c);
                        break;
                    }
                }
                if let Some(c) = end {
                    break c;
                }
                let r = read_into(&mut src, &mut buf, self.a.read_size).await;
                if k > 0 && !current() {
                    // Given up from the writing side while this read waited: drop it.
                    break Close::UpstreamGone("link replaced".into());
                }
                match r {
                    Ok(0) => break Close::UpstreamGone("end of stream".into()),
                    Ok(_) => {}
                    Err(e) => break Close::UpstreamGone(e.to_string()),
                }
            };
            if k == 0 || matches!(c, Close::ClientGone(_)) {
                return c;
            }
            if let Err(c) = self.lose(k, generation, &c.to_string()).await {
                return c;
            }
        }
    }

    /// One frame from link `k`.
    pub(super) async fn on_link_frame(&self, k: usize, f: Frame) -> Result<(), Close> {
        let v = self.a.protocol;
        let t = f.packet_type();
        if t == kind::SUBACK || t == kind::UNSUBACK {
            let (pkid, reasons) = match mqtt::decode(&f, v) {
                Ok(Packet::SubAck(a)) => (a.pkid, a.reasons),
                Ok(Packet::UnsubAck(a)) => (a.pkid, a.reasons),
                Ok(_) => return Ok(()),
                Err(e) => return if k == 0 { Err(Close::UpstreamProtocol(e)) } else { Ok(()) },
            };
            // 3.1.1 UNSUBACK has no codes: one success per filter of this link.
            let reasons = if reasons.is_empty() { vec![ReasonCode::Success; 64] } else { reasons };
            if let Some(merged) = self.state.answer(k, pkid, &reasons) {
                return self.merged(pkid, merged).await;
            }
            return Ok(());
        }
        if k > 0 && t == kind::PINGRESP {
            return Ok(());
        }
        let verdict = self.a.session.from_upstream(&f, self.a.keep_alive);
        if let Some(r) = self.a.session.take_rejection() {
            (self.a.rejected)(&r);
        }
        if k == 0 && t == kind::CONNACK {
            self.connacked.fire();
        }
        let bytes = match verdict {
            Verdict::Forward => f.raw().clone(),
            Verdict::Replace(b) => b,
            Verdict::Reply(b) => {
                return match self.write_link(k, &b).await {
                    Ok(()) => Ok(()),
                    Err(e) if k == 0 => Err(Close::UpstreamGone(e)),
                    Err(_) => Ok(()),
                }
            }
            Verdict::Drop | Verdict::Reauthenticate(_) => return Ok(()),
            Verdict::ForwardThenEnd(c) if k == 0 => {
                self.write_client(f.raw()).await?;
                return Err(c);
            }
            Verdict::ForwardThenEnd(c) | Verdict::End(c) => return Err(c),
        };
        match t {
            kind::PUBLISH => {
                let g = Frame::from_bytes(bytes.clone(), usize::MAX).map_err(Close::UpstreamProtocol)?;
                let view = PublishView::parse(&g, v).map_err(Close::UpstreamProtocol)?;
                if view.qos == QoS::AtMostOnce {
                    return self.write_client(&bytes).await;
                }
                match self.state.deliver(k, view.pkid) {
                    Some(c) => self.write_client(&view.with_pkid(&g, c)).await,
                    // 65,535 deliveries in flight: the client is not reading; stop.
                    None => Err(Close::ClientGone("no free packet identifier".into())),
                }
            }
            kind::PUBREL => match self.state.broker_pubrel(k, ack_pkid(&f)) {
                Some(c) => self.write_client(&patch_pkid(&bytes, c)).await,
                None => {
                    // A delivery the client never saw (its link was lost): complete it here.
                    let done = reply(ack(AckKind::PubComp, ack_pkid(&f), ReasonCode::Success), v);
                    if let Verdict::Reply(b) = done {
                        let _ = self.write_link(k, &b).await;
                    }
                    Ok(())
                }
            },
            kind::PUBCOMP => {
                self.state.pubcomp(ack_pkid(&f));
                self.write_client(&bytes).await
            }
            _ => self.write_client(&bytes).await,
        }
    }

    /// Keeps secondary links alive: PINGREQ every half keep alive.
    pub(super) async fn keep_links_alive(&self) -> Close {
        let ka = self.a.keep_alive;
        if ka == 0 {
            return futures_lite::future::pending().await;
        }
        let every = Duration::from_millis(u64::from(ka) * 500);
        loop {
            glommio::timer::sleep(every).await;
            for k in 1..self.links.len() {
                if self.links[k].sock.borrow().is_some() {
                    let _ = self.write_link(k, &[0xc0, 0x00]).await;
                }
            }
        }
    }
}
