//! The I/O of a session that spans several brokers: it carries out what the pure
//! [`Multi`] state machine decides and feeds it what the sockets and the clock say.
//!
//! Tasks of one connection, raced (the first to end ends the session):
//! - the client reader: frames from the client, read only while the machine says
//!   the client is readable (after its CONNACK);
//! - one task per link: waits until the machine asks to open the link, connects
//!   (off the client's path: a slow broker delays only its own link), then reads
//!   it while the machine says it is readable (Receive Maximum backpressure), and
//!   reports its end;
//! - the timer: sleeps until [`Multi::poll_timeout`] (or until something changed)
//!   and calls [`Multi::handle_timeout`].
//!
//! Each task executes the actions its event produced: writes go through one
//! [`Writer`] per socket (a slow socket holds back only the task writing to it).
//! Nothing here decides anything about MQTT.

use super::io::{read_into, Shared};
use super::notify::Notify;
use super::session_io::SessionIo;
use super::stats::Counters;
use super::streams::{open_upstream, Origin};
use super::writer::Writer;
use crate::config::Config;
use crate::mqtt::{DecodeError, Frame};
use crate::route::{Facts, SessionRoute};
use crate::session::multi::{Action, Multi, Router, Setup};
use crate::session::Close;
use bytes::{Bytes, BytesMut};
use futures_lite::future;
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::{info, warn};

/// The route table as one session sees it (topics as the broker sees them: the
/// mount point is taken off before rules are matched).
pub struct SessionRouter<'a> {
    /// Config snapshot.
    pub config: &'a Config,
    /// The session's route (link i is `route.upstreams[i]`).
    pub route: &'a SessionRoute,
    /// Routing facts of the session.
    pub facts: Facts<'a>,
}

impl SessionRouter<'_> {
    fn link_of(&self, upstream: usize) -> usize {
        self.route.upstreams.iter().position(|&u| u == upstream).unwrap_or(0)
    }

    fn client_side<'t>(&self, t: &'t str) -> &'t str {
        match &self.route.mount {
            Some(m) => t.strip_prefix(m.as_str()).unwrap_or(t),
            None => t,
        }
    }
}

impl Router for SessionRouter<'_> {
    fn publish_link(&self, topic: &str) -> usize {
        let topic = self.client_side(topic);
        self.config.routes.publish(&self.facts, topic).map_or(0, |u| self.link_of(u))
    }

    fn subscribe_links(&self, filter: &str, out: &mut Vec<usize>) {
        let filter = self.client_side(filter);
        self.config.routes.subscribe(&self.facts, filter, &mut |u| out.push(self.link_of(u)));
    }
}

/// What the driver needs from the connection.
pub struct Args<'a> {
    /// How the session starts.
    pub setup: Setup,
    /// The session and what its connection offers.
    pub io: &'a SessionIo<'a>,
    /// Config snapshot (upstream groups of the links).
    pub config: &'a Config,
    /// The route (link i is `route.upstreams[i]`).
    pub route: &'a SessionRoute,
    /// Where topics go.
    pub router: &'a SessionRouter<'a>,
    /// The client id the servers are placed by.
    pub client_id: &'a str,
    /// The client's connection (the PROXY header of links that send one).
    pub origin: Origin,
    /// The client socket (reads).
    pub client: Shared,
    /// Bytes already read from the client.
    pub cbuf: BytesMut,
    /// Link 0, CONNECT already sent.
    pub primary: Shared,
    /// This connection's counters (client → brokers, brokers → client).
    pub up: &'a Counters,
    /// See `up`.
    pub down: &'a Counters,
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

/// A link as the driver holds it.
struct LinkIo {
    writer: Writer,
    /// CONNECTs the machine asked to open with.
    open: LocalSender<Bytes>,
    opened: RefCell<Option<LocalReceiver<Bytes>>>,
}

struct Driver<'a> {
    args: Args<'a>,
    machine: RefCell<Multi<'a>>,
    links: Vec<LinkIo>,
    changed: Notify,
    /// Readability at the last look (bit 63: the client, bit k: link k).
    readable: Cell<u64>,
    /// The deadline the timer task sleeps for.
    armed: Cell<Option<Instant>>,
}

fn add(c: &Counters, bytes: usize) {
    c.bytes.set(c.bytes.get() + bytes as u64);
    c.packets.set(c.packets.get() + 1);
}

impl<'a> Driver<'a> {
    /// Carries out the machine's actions until it has none; `Err` when the session ends.
    async fn execute(&self) -> Result<(), Close> {
        loop {
            let Some(action) = self.machine.borrow_mut().poll_action() else { break };
            match action {
                Action::ToClient(b) => {
                    add(self.args.down, b.len());
                    self.args.io.metrics.bytes_down.add(b.len() as u64);
                    self.args.io.client.write(&b).await.map_err(|e| Close::ClientGone(e.to_string()))?;
                }
                Action::ToLink(k, b) => {
                    let w = &self.links[k].writer;
                    let epoch = w.epoch();
                    self.args.io.metrics.bytes_up.add(b.len() as u64);
                    if let Err(e) = w.write(&b).await {
                        if w.epoch() == epoch {
                            self.args.io.metrics.links_lost.add(1);
                            let name = &self.args.config.upstreams[self.args.route.upstreams[k]].name;
                            warn!(client_id = self.args.client_id, upstream = %name, error = %e, "link lost on write");
                            w.replace(None);
                            self.machine.borrow_mut().link_down(k, &e.to_string(), Instant::now());
                        }
                    }
                }
                Action::Open(k, connect) => {
                    let _ = self.links[k].open.try_send(connect);
                }
                Action::Close(k) => {
                    // The session gave the link up (no CONNACK, no PINGRESP in time).
                    self.args.io.metrics.links_lost.add(1);
                    let name = &self.args.config.upstreams[self.args.route.upstreams[k]].name;
                    warn!(client_id = self.args.client_id, upstream = %name, "link given up by the session");
                    self.links[k].writer.replace(None);
                    self.changed.notify();
                }
                Action::Reauthenticate(token) => {
                    let ok = (self.args.io.reauth)(&token).is_ok();
                    self.machine.borrow_mut().reauthenticated(ok);
                }
                Action::Rejected(r) => (self.args.io.rejected)(&r),
                Action::End(c) => return Err(c),
            }
        }
        self.args.io.report_drops();
        let unavailable = self.machine.borrow_mut().take_unavailable_drops();
        if unavailable > 0 {
            self.args.io.metrics.unavailable_drops(unavailable);
        }
        self.wake_if_needed();
        Ok(())
    }

    /// Wakes the waiting tasks only when they have something to do: a link or the
    /// client became readable, or the next timeout moved before the one the timer
    /// sleeps for (no wake-up per frame in the steady state).
    fn wake_if_needed(&self) {
        let m = self.machine.borrow();
        let mut readable = u64::from(m.client_readable()) << 63;
        for k in 0..m.links().min(63) {
            readable |= u64::from(m.link_readable(k)) << k;
        }
        let due = m.poll_timeout();
        drop(m);
        let newly_readable = readable & !self.readable.replace(readable) != 0;
        let earlier = match (due, self.armed.get()) {
            (Some(t), Some(armed)) => t < armed,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if newly_readable || earlier || self.links.len() > 63 {
            self.changed.notify();
        }
    }

    /// Waits until `ready` holds (re-checked whenever the machine changed).
    async fn until(&self, ready: impl Fn(&Multi<'a>) -> bool) {
        loop {
            let wait = self.changed.changed();
            if ready(&self.machine.borrow()) {
                return;
            }
            wait.await;
        }
    }

    async fn client_loop(&self, mut buf: BytesMut) -> Close {
        let mut src = self.args.client.clone();
        loop {
            self.until(Multi::client_readable).await;
            // One clock read per read, not per frame.
            let now = Instant::now();
            let (mut publishes, mut publish_bytes) = (0u64, 0u64);
            loop {
                match Frame::split(&mut buf, self.args.io.max_packet_size) {
                    Ok(Some(f)) => {
                        // Only `limits.publish_rate` needs these (as in the relay).
                        if self.args.io.pace.is_some() && f.raw()[0] >> 4 == crate::mqtt::kind::PUBLISH {
                            publishes += 1;
                            publish_bytes += f.len() as u64;
                        }
                        add(self.args.up, f.len());
                        self.args.io.metrics.packets.add(true, f.raw()[0], f.len());
                        self.machine.borrow_mut().from_client(f, now);
                        if let Err(c) = self.execute().await {
                            return c;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Close::ClientProtocol(e),
                }
            }
            if let Some(p) = self.args.io.pace {
                if let Err(c) =
                    p.after(publishes, publish_bytes, self.args.io.metrics, self.args.io.watchdog).await
                {
                    return c;
                }
            }
            match read_into(&mut src, &mut buf, self.args.io.read_buffer, self.args.io.scratch).await {
                Ok(0) => return Close::ClientGone("end of stream".into()),
                Ok(_) => self.args.io.watchdog.touch(),
                Err(e) => return Close::ClientGone(e.to_string()),
            }
        }
    }

    /// Link `k`'s task: opens when asked, reads until its connection ends.
    async fn link_loop(&self, k: usize) -> Close {
        let link = &self.links[k];
        let Some(opened) = link.opened.borrow_mut().take() else { return future::pending().await };
        let mut first = (k == 0).then(|| self.args.primary.clone());
        loop {
            let sock = match first.take() {
                Some(s) => s,
                None => {
                    let Some(connect) = opened.recv().await else { return future::pending().await };
                    let up = &self.args.config.upstreams[self.args.route.upstreams[k]];
                    match open_upstream(up, &connect, self.args.client_id, self.args.origin).await {
                        Ok((s, server)) => {
                            self.args.io.metrics.links_opened.add(1);
                            info!(client_id = self.args.client_id, upstream = %up.name, %server, "link opened");
                            s
                        }
                        Err(why) => {
                            self.args.io.metrics.links_failed.add(1);
                            warn!(client_id = self.args.client_id, upstream = %up.name, %why, "link failed; retried in the background");
                            self.machine.borrow_mut().link_down(k, &why, Instant::now());
                            if let Err(c) = self.execute().await {
                                return c;
                            }
                            continue;
                        }
                    }
                }
            };
            link.writer.replace(Some(sock.clone()));
            let epoch = link.writer.epoch();
            let why = future::or(self.read_link(k, sock, epoch), async {
                // The machine closed this connection (Action::Close).
                self.until(|_| link.writer.epoch() != epoch).await;
                Ok(None)
            })
            .await;
            match why {
                Err(c) => return c,
                Ok(None) => {}
                Ok(Some(why)) => {
                    if link.writer.epoch() == epoch {
                        link.writer.replace(None);
                        let name = &self.args.config.upstreams[self.args.route.upstreams[k]].name;
                        self.args.io.metrics.links_lost.add(1);
                        warn!(client_id = self.args.client_id, upstream = %name, %why, "link lost");
                        self.machine.borrow_mut().link_down(k, &why, Instant::now());
                        if let Err(c) = self.execute().await {
                            return c;
                        }
                    }
                }
            }
        }
    }

    /// Reads one connection of link `k`: `Ok(Some(why))` when it ended, `Err` when
    /// the session did.
    async fn read_link(&self, k: usize, mut sock: Shared, epoch: u64) -> Result<Option<String>, Close> {
        let mut buf = BytesMut::new();
        let current = || self.links[k].writer.epoch() == epoch;
        loop {
            // One clock read per read, not per frame.
            let now = Instant::now();
            loop {
                if !current() {
                    return Ok(None);
                }
                match Frame::split(&mut buf, self.args.io.max_packet_size) {
                    Ok(Some(f)) => {
                        self.args.io.metrics.packets.add(false, f.raw()[0], f.len());
                        self.machine.borrow_mut().from_link(k, f, now);
                        self.execute().await?;
                    }
                    Ok(None) => break,
                    Err(e) => return Ok(Some(protocol_error(e))),
                }
            }
            self.until(|m| m.link_readable(k)).await;
            match read_into(&mut sock, &mut buf, self.args.io.read_buffer, self.args.io.scratch).await {
                Ok(0) => return Ok(Some("end of stream".into())),
                Ok(_) => {}
                Err(e) => return Ok(Some(e.to_string())),
            }
        }
    }

    async fn timer_loop(&self) -> Close {
        loop {
            let wait = self.changed.changed();
            let due = self.machine.borrow().poll_timeout();
            self.armed.set(due);
            match due {
                Some(t) => {
                    let now = Instant::now();
                    if t > now {
                        future::or(wait, glommio::timer::sleep(t - now)).await;
                    }
                }
                None => wait.await,
            }
            let now = Instant::now();
            if self.machine.borrow().poll_timeout().is_some_and(|t| t <= now) {
                self.machine.borrow_mut().handle_timeout(now);
                if let Err(c) = self.execute().await {
                    return c;
                }
            }
        }
    }
}

fn protocol_error(e: DecodeError) -> String {
    format!("malformed frame: {e}")
}

/// Runs a multi-broker session until it ends; returns why.
pub async fn run(mut args: Args<'_>) -> Close {
    let now = Instant::now();
    let machine = Multi::new(args.setup.clone(), args.io.session, args.router, now);
    let links = (0..machine.links())
        .map(|_| {
            let (open, opened) = local_channel::new_unbounded();
            LinkIo { writer: Writer::new(None, true), open, opened: RefCell::new(Some(opened)) }
        })
        .collect();
    let cbuf = std::mem::take(&mut args.cbuf);
    let d = Driver {
        args,
        machine: RefCell::new(machine),
        links,
        changed: Notify::default(),
        readable: Cell::new(0),
        armed: Cell::new(None),
    };
    let d = &d;
    // Opens asked for at CONNECT.
    if let Err(c) = d.execute().await {
        return c;
    }
    let mut futs: Vec<Pin<Box<dyn Future<Output = Close> + '_>>> = Vec::new();
    futs.push(Box::pin(d.client_loop(cbuf)));
    for k in 0..d.links.len() {
        futs.push(Box::pin(d.link_loop(k)));
    }
    futs.push(Box::pin(d.timer_loop()));
    Race(futs).await
}
