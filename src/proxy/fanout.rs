//! The driver of a session that spans several brokers: one link per upstream group
//! its routes name. The session's own broker (link 0) got the CONNECT and decides
//! the CONNACK; the others are opened on first use (the will's broker at once), each
//! with the client's CONNECT minus the will, and re-opened on later use after they
//! fail. Publishes go to the link of their topic's route, subscriptions to every
//! link whose routes can match them (answers merged by [`Links`]), deliveries from
//! all links merge towards the client with their packet identifiers remapped.
//!
//! Each frame still goes through the pure [`Session`] first (ACL, validation,
//! mount point), exactly as on a single-broker session. Topic aliases are switched
//! off on such sessions (not offered to the client, not asked of brokers): an alias
//! would be known to one link only.
//!
//! Not done here: receive-maximum accounting across links (each broker respects the
//! client's limit on its own), and shared subscriptions spanning brokers.

use super::close::Close;
use super::io::{read_into, read_within, Shared};
use super::links::Links;
use super::refuse::{ack, reply};
use super::session::{Rejection, Session, Verdict};
use super::streams::open_upstream;
use crate::auth::AuthError;
use crate::config::Config;
use crate::metrics::CoreMetrics;
use crate::mqtt::{
    self, kind, AckKind, Frame, FrameCheck, Packet, Protocol, PublishView, QoS, ReasonCode, SubAck,
    Subscribe, SubscribeFilter, UnsubAck, Unsubscribe,
};
use crate::route::{Facts, SessionRoute};
use bytes::{Bytes, BytesMut};
use futures_lite::AsyncWriteExt;
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::sync::Semaphore;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long a failed secondary link is left alone before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// One broker link.
struct Link {
    upstream: usize,
    sock: RefCell<Option<Shared>>,
    /// Bytes read with its CONNACK that belong to the reader.
    leftover: RefCell<BytesMut>,
    lock: Semaphore,
    down_until: Cell<Option<Instant>>,
    opened: LocalSender<()>,
    wake: LocalReceiver<()>,
    /// Subscriptions sent over it (re-sent when it is re-opened).
    subs: RefCell<Vec<SubscribeFilter>>,
}

/// What the driver needs from the connection.
pub struct Args<'a> {
    /// Config snapshot.
    pub config: &'a Config,
    /// The route (link i is `route.upstreams[i]`).
    pub route: &'a SessionRoute,
    /// Routing facts of the session.
    pub facts: Facts<'a>,
    /// The pure session.
    pub session: &'a Session,
    /// Protocol version.
    pub protocol: Protocol,
    /// The client.
    pub client: Shared,
    /// Bytes already read from the client.
    pub cbuf: BytesMut,
    /// The primary link (CONNECT already sent).
    pub primary: Shared,
    /// CONNECT for secondary links (no will).
    pub connect: Bytes,
    /// CONNECT with the will for `will_link`.
    pub will: Option<(usize, Bytes)>,
    /// The client's keep alive.
    pub keep_alive: u16,
    /// Largest frame.
    pub max_packet_size: usize,
    /// Read size.
    pub read_size: usize,
    /// One writer at a time on the client.
    pub client_lock: &'a Semaphore,
    /// Set while writing to the client.
    pub client_writing: &'a Cell<bool>,
    /// Core counters.
    pub metrics: &'a CoreMetrics,
    /// Payload rejections.
    pub rejected: &'a dyn Fn(&Rejection),
    /// 5.0 re-authentication.
    pub reauth: &'a dyn Fn(&str) -> Result<(), AuthError>,
}

/// Races boxed futures; the first to finish wins.
struct Race<'a>(Vec<Pin<Box<dyn Future<Output = Close> + 'a>>>);

impl Future for Race<'_> {
    type Output = Close;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Close> {
        for f in self.0.iter_mut() {
            if let Poll::Ready(c) = f.as_mut().poll(cx) {
                return Poll::Ready(c);
            }
        }
        Poll::Pending
    }
}

struct Driver<'a> {
    a: Args<'a>,
    links: Vec<Link>,
    state: Links,
    /// True once the primary's CONNACK went to the client.
    connacked: Cell<bool>,
    /// Fan-outs that are UNSUBSCRIBEs.
    pending_unsub: RefCell<std::collections::HashSet<u16>>,
}

/// Cuts the complete frames off `buf`.
fn frames(buf: &mut BytesMut, max: usize) -> Result<Vec<Frame>, mqtt::DecodeError> {
    let mut out = Vec::new();
    while let FrameCheck::Complete { .. } = mqtt::frame::check(buf, max)? {
        match Frame::split(buf, max)? {
            Some(f) => out.push(f),
            None => break,
        }
    }
    Ok(out)
}

fn patch_pkid(raw: &Bytes, pkid: u16) -> Bytes {
    // Acks: fixed header (2 bytes: their remaining length is < 128), then the id.
    let mut b = BytesMut::from(&raw[..]);
    if b.len() >= 4 {
        b[2..4].copy_from_slice(&pkid.to_be_bytes());
    }
    b.freeze()
}

impl Driver<'_> {
    async fn write_client(&self, b: &[u8]) -> Result<(), Close> {
        let gone = |e: String| Close::ClientGone(e);
        let _p = self.a.client_lock.acquire_permit(1).await.map_err(|e| gone(e.to_string()))?;
        self.a.client_writing.set(true);
        let mut c = self.a.client.clone();
        let r = match c.write_all(b).await {
            Ok(()) => c.flush().await,
            Err(e) => Err(e),
        };
        self.a.client_writing.set(false);
        self.a.metrics.bytes_down.add(b.len() as u64);
        r.map_err(|e| gone(e.to_string()))
    }

    /// Writes to link `k`; `Err` when it is not open or the write fails.
    async fn write_link(&self, k: usize, b: &[u8]) -> Result<(), String> {
        let link = &self.links[k];
        let _p = link.lock.acquire_permit(1).await.map_err(|e| e.to_string())?;
        let Some(mut s) = link.sock.borrow().clone() else { return Err("link closed".into()) };
        let r = match s.write_all(b).await {
            Ok(()) => s.flush().await,
            Err(e) => Err(e),
        };
        self.a.metrics.bytes_up.add(b.len() as u64);
        r.map_err(|e| e.to_string())
    }

    fn link_of(&self, upstream: usize) -> usize {
        self.a.route.upstreams.iter().position(|&u| u == upstream).unwrap_or(0)
    }

    /// The link of a publish to client topic `topic`.
    fn publish_link(&self, topic: &str) -> usize {
        self.a.config.routes.publish(&self.a.facts, topic).map_or(0, |u| self.link_of(u))
    }

    /// A topic or filter as the client wrote it (without the mount point).
    fn client_side<'t>(&self, t: &'t str) -> &'t str {
        match &self.a.route.mount {
            Some(m) => t.strip_prefix(m.as_str()).unwrap_or(t),
            None => t,
        }
    }

    /// Opens secondary link `k` if it is not open (and not resting after a failure).
    async fn ensure_open(&self, k: usize) -> bool {
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

    /// A link that failed: forgotten, its pending answers completed as failures.
    async fn lose(&self, k: usize, why: &str) -> Result<(), Close> {
        let link = &self.links[k];
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
    async fn merged(&self, pkid: u16, reasons: Vec<ReasonCode>) -> Result<(), Close> {
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
}

impl Driver<'_> {
    /// Client → links: one frame the session accepted (as `bytes`).
    async fn dispatch(&self, bytes: Bytes) -> Result<(), Close> {
        let v = self.a.protocol;
        let f = Frame::from_bytes(bytes.clone(), usize::MAX).map_err(Close::ClientProtocol)?;
        let to = |k: usize, b: Bytes| async move {
            match self.ensure_open(k).await {
                true => self.send(k, &b).await,
                false => Ok(()),
            }
        };
        match f.packet_type() {
            kind::PUBLISH => {
                let view = PublishView::parse(&f, v).map_err(Close::ClientProtocol)?;
                let k = self.publish_link(self.client_side(view.topic));
                if k != 0 && !self.ensure_open(k).await {
                    // Never acknowledged for a broker that did not take it.
                    return match (view.qos, v.is_v5()) {
                        (QoS::AtMostOnce, _) => Ok(()),
                        (QoS::AtLeastOnce, true) => {
                            self.answer(reply(
                                ack(AckKind::PubAck, view.pkid, ReasonCode::UnspecifiedError),
                                v,
                            ))
                            .await
                        }
                        (QoS::ExactlyOnce, true) => {
                            self.answer(reply(
                                ack(AckKind::PubRec, view.pkid, ReasonCode::UnspecifiedError),
                                v,
                            ))
                            .await
                        }
                        (_, false) => {
                            Err(Close::UpstreamGone("the broker of this topic is unavailable".into()))
                        }
                    };
                }
                if view.qos == QoS::ExactlyOnce {
                    self.state.publish_qos2(view.pkid, k);
                }
                to(k, bytes).await
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

    async fn answer(&self, v: Verdict) -> Result<(), Close> {
        match v {
            Verdict::Reply(b) => self.write_client(&b).await,
            Verdict::End(c) => Err(c),
            _ => Ok(()),
        }
    }

    /// The links each filter goes to: the session's own and every topic route's.
    fn targets(&self, filter: &str) -> Vec<usize> {
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
    async fn plan(&self, filters: &[&str]) -> (Vec<(usize, Vec<usize>)>, Vec<(usize, ReasonCode)>) {
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

    async fn subscribe(&self, s: Subscribe) -> Result<(), Close> {
        let names: Vec<&str> = s.filters.iter().map(|f| &*f.filter).collect();
        let (parts, failed) = self.plan(&names).await;
        if parts.is_empty() {
            return self.merged(s.pkid, vec![ReasonCode::UnspecifiedError; s.filters.len()]).await;
        }
        self.state.fan_out(s.pkid, s.filters.len(), parts.clone(), &failed);
        for (k, positions) in parts {
            let filters: Vec<SubscribeFilter> = positions.iter().map(|&i| s.filters[i].clone()).collect();
            self.links[k].subs.borrow_mut().extend(filters.iter().cloned());
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
    async fn send(&self, k: usize, b: &[u8]) -> Result<(), Close> {
        match self.write_link(k, b).await {
            Ok(()) => Ok(()),
            Err(e) if k == 0 => Err(Close::UpstreamGone(e)),
            Err(e) => self.lose(k, &e).await,
        }
    }

    async fn unsubscribe(&self, u: Unsubscribe) -> Result<(), Close> {
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
}

fn ack_pkid(f: &Frame) -> u16 {
    let b = f.body();
    if b.len() >= 2 {
        u16::from_be_bytes([b[0], b[1]])
    } else {
        0
    }
}

impl Driver<'_> {
    /// Reads the client until the session ends.
    async fn client_loop(&self, mut buf: BytesMut) -> Close {
        // Nothing goes to other brokers before the session's own accepted it.
        while !self.connacked.get() {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
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
            let keep_alive = self.a.session.keep_alive.get();
            let r = read_within(&mut src, &mut buf, self.a.read_size, keep_alive).await;
            match r {
                None => return Close::KeepAliveTimeout,
                Some(Ok(0)) => return Close::ClientGone("end of stream".into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Close::ClientGone(e.to_string()),
            }
        }
    }

    /// Reads link `k` (waiting while it is closed); ends the session only for link 0.
    async fn link_loop(&self, k: usize) -> Close {
        let link = &self.links[k];
        loop {
            let Some(mut src) = link.sock.borrow().clone() else {
                if link.wake.recv().await.is_none() {
                    return futures_lite::future::pending().await;
                }
                continue;
            };
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
                match read_into(&mut src, &mut buf, self.a.read_size).await {
                    Ok(0) => break Close::UpstreamGone("end of stream".into()),
                    Ok(_) => {}
                    Err(e) => break Close::UpstreamGone(e.to_string()),
                }
            };
            if k == 0 || matches!(c, Close::ClientGone(_)) {
                return c;
            }
            if let Err(c) = self.lose(k, &c.to_string()).await {
                return c;
            }
        }
    }

    /// One frame from link `k`.
    async fn on_link_frame(&self, k: usize, f: Frame) -> Result<(), Close> {
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
            self.connacked.set(true);
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
    async fn keep_links_alive(&self) -> Close {
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

/// Runs a multi-broker session until it ends; returns why.
pub async fn run(a: Args<'_>) -> Close {
    let mut links = Vec::new();
    for (i, &u) in a.route.upstreams.iter().enumerate() {
        let (opened, wake) = local_channel::new_unbounded();
        let sock = if i == 0 { Some(a.primary.clone()) } else { None };
        links.push(Link {
            upstream: u,
            sock: RefCell::new(sock),
            leftover: RefCell::new(BytesMut::new()),
            lock: Semaphore::new(1),
            down_until: Cell::new(None),
            opened,
            wake,
            subs: RefCell::new(Vec::new()),
        });
    }
    let mut a = a;
    let cbuf = std::mem::take(&mut a.cbuf);
    let d = Driver {
        a,
        links,
        state: Links::default(),
        connacked: Cell::new(false),
        pending_unsub: RefCell::default(),
    };
    let d = &d;
    let will_link = d.a.will.as_ref().map(|(k, _)| *k);
    let mut futs: Vec<Pin<Box<dyn Future<Output = Close> + '_>>> = Vec::new();
    futs.push(Box::pin(async move {
        if let Some(k) = will_link {
            // The will's broker must hold the will from the start.
            while !d.connacked.get() {
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
            d.ensure_open(k).await;
        }
        d.client_loop(cbuf).await
    }));
    for k in 0..d.links.len() {
        futs.push(Box::pin(d.link_loop(k)));
    }
    futs.push(Box::pin(d.keep_links_alive()));
    Race(futs).await
}
