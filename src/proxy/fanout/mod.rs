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

use super::io::{read_into, Shared};
use super::keepalive::Watchdog;
use super::links::Links;
use super::streams::open_upstream;
use super::trigger::Trigger;
use crate::auth::AuthError;
use crate::config::Config;
use crate::metrics::CoreMetrics;
use crate::mqtt::{
    self, kind, AckKind, Frame, Packet, Protocol, PublishView, QoS, ReasonCode, SubAck, Subscribe,
    SubscribeFilter, UnsubAck, Unsubscribe,
};
use crate::route::{Facts, SessionRoute};
use crate::session::close::Close;
use crate::session::refuse::{ack, reply};
use crate::session::{Rejection, Session, Verdict};
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

mod downward;
mod upward;

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
    /// Counts openings, so a reader of an old connection cannot close a new one.
    generation: Cell<u64>,
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
    /// The client asked for a persistent session (clean start 0): every link is
    /// opened at once, so state kept by any broker reaches it.
    pub persistent: bool,
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
    /// Stamped by each read from the client.
    pub watchdog: &'a Watchdog,
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
    /// Fired once the session's own broker accepted the session (its CONNACK).
    connacked: Trigger,
    /// Fan-outs that are UNSUBSCRIBEs.
    pending_unsub: RefCell<std::collections::HashSet<u16>>,
}

/// Cuts the complete frames off `buf`.
pub(super) fn frames(buf: &mut BytesMut, max: usize) -> Result<Vec<Frame>, mqtt::DecodeError> {
    let mut out = Vec::new();
    // `split` checks the size limit and leaves an incomplete frame in place.
    while let Some(f) = Frame::split(buf, max)? {
        out.push(f);
    }
    Ok(out)
}

pub(super) fn patch_pkid(raw: &Bytes, pkid: u16) -> Bytes {
    // Acks: the fixed header (type byte, remaining length of 1 to 4 bytes), then the id.
    let header = 1 + raw.iter().skip(1).take(4).position(|b| b & 0x80 == 0).map_or(4, |i| i + 1);
    let mut b = BytesMut::from(&raw[..]);
    if let Some(id) = b.get_mut(header..header + 2) {
        id.copy_from_slice(&pkid.to_be_bytes());
    }
    b.freeze()
}

impl Driver<'_> {
    pub(super) async fn write_client(&self, b: &[u8]) -> Result<(), Close> {
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
    pub(super) async fn write_link(&self, k: usize, b: &[u8]) -> Result<(), String> {
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

    pub(super) fn link_of(&self, upstream: usize) -> usize {
        self.a.route.upstreams.iter().position(|&u| u == upstream).unwrap_or(0)
    }

    /// The link of a publish to client topic `topic`.
    pub(super) fn publish_link(&self, topic: &str) -> usize {
        self.a.config.routes.publish(&self.a.facts, topic).map_or(0, |u| self.link_of(u))
    }

    /// A topic or filter as the client wrote it (without the mount point).
    pub(super) fn client_side<'t>(&self, t: &'t str) -> &'t str {
        match &self.a.route.mount {
            Some(m) => t.strip_prefix(m.as_str()).unwrap_or(t),
            None => t,
        }
    }
}

pub(super) fn ack_pkid(f: &Frame) -> u16 {
    let b = f.body();
    if b.len() >= 2 {
        u16::from_be_bytes([b[0], b[1]])
    } else {
        0
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
            generation: Cell::new(0),
        });
    }
    let mut a = a;
    let cbuf = std::mem::take(&mut a.cbuf);
    let d = Driver {
        a,
        links,
        state: Links::default(),
        connacked: Trigger::default(),
        pending_unsub: RefCell::default(),
    };
    let d = &d;
    let mut futs: Vec<Pin<Box<dyn Future<Output = Close> + '_>>> = Vec::new();
    futs.push(Box::pin(async move {
        // Nothing goes to other brokers before the session's own accepted it.
        d.connacked.wait().await;
        for k in 1..d.links.len() {
            // The will's broker holds the will from the start; a persistent session
            // has state (subscriptions, queued messages) on every broker it used.
            let will = d.a.will.as_ref().is_some_and(|(w, _)| *w == k);
            if will || d.a.persistent {
                d.ensure_open(k).await;
            }
        }
        d.client_loop(cbuf).await
    }));
    for k in 0..d.links.len() {
        futs.push(Box::pin(d.link_loop(k)));
    }
    futs.push(Box::pin(d.keep_links_alive()));
    Race(futs).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_ids_are_patched_after_any_header_length() {
        let short = Bytes::from_static(&[0x40, 2, 0, 1]);
        assert_eq!(&patch_pkid(&short, 0x0203)[..], &[0x40, 2, 2, 3]);
        // A 5.0 PUBACK with a long reason string: two length bytes.
        let mut long = vec![0x40, 0x84, 0x01, 0, 1, 0x10];
        long.extend(std::iter::repeat_n(0u8, 130));
        let p = patch_pkid(&Bytes::from(long), 7);
        assert_eq!(&p[3..5], &[0, 7]);
        assert_eq!(p[5], 0x10, "the reason code is untouched");
    }
}
