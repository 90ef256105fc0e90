//! One device of the `fleet` scenario, on its own thread: a persistent session that
//! publishes QoS 1 to its own topic at a steady rate and is subscribed to it, so
//! every message it had acknowledged must come back to it, through whatever fails
//! in between.
//!
//! When the connection ends (closed, reset, a DISCONNECT), the device waits its
//! reconnect delay (half fixed, half random) and reconnects without Clean Start.
//! With Session Present 1 it re-sends its unacknowledged publishes with DUP set
//! (MQTT-4.4.0-1) and relies on the server to re-send what it had queued; with
//! Session Present 0 it subscribes again, re-sends them as new, and books what
//! the lost session owed it as `lost_with_session` (see `ledger.rs`).
//!
//! What it does not do: QoS 2, several topics, or TLS session resumption.

use crate::client::{Conn, Next, Session, Tls};
use crate::ledger::{Ledger, Tally};
use crate::payload::{self, Payload};
use anyhow::{bail, Result};
use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use mqtt_proxy::mqtt::{
    Ack, AckKind, Disconnect, MqttStr, Packet, Protocol, Publish, QoS, ReasonCode, Subscribe,
    SubscribeFilter, SubscriptionOptions,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// What every device shares with the scenario: its settings and live counters.
pub struct Fleet {
    /// Server addresses: device `i` starts at address `i mod n` and moves on to the
    /// next one when that refuses (the proxy's job, done here for runs without it).
    pub addrs: Vec<String>,
    /// MQTT version.
    pub v: Protocol,
    /// Client id prefix (the device index follows).
    pub prefix: String,
    /// Topic prefix (`/<index>` follows).
    pub topic: String,
    /// User name for every CONNECT.
    pub username: Option<String>,
    /// TLS, if any.
    pub tls: Option<Tls>,
    /// Messages per second per device.
    pub rate: f64,
    /// Payload size.
    pub size: usize,
    /// Unacknowledged publishes allowed per device.
    pub window: usize,
    /// Base reconnect delay (the wait is between half of it and all of it).
    pub reconnect_delay: Duration,
    /// A device that cannot reconnect for this long gives up.
    pub reconnect_timeout: Duration,
    /// 5.0 Session Expiry Interval.
    pub session_expiry: u32,
    /// How long after the stop devices wait for what is still owed them.
    pub drain: Duration,
    /// Leave the sessions on the servers at the end (to inspect them).
    pub keep_sessions: bool,
    /// When the scenario started (latency stamps count from it).
    pub start: Instant,
    /// Set when publishing ends.
    pub stop: AtomicBool,
    /// Devices connected now.
    pub connected: AtomicU64,
    /// Messages published, acknowledged, delivered back; reconnects.
    pub published: AtomicU64,
    pub acked: AtomicU64,
    pub delivered: AtomicU64,
    pub reconnects: AtomicU64,
}

/// What one device saw.
pub struct Report {
    /// Its message counts.
    pub tally: Tally,
    /// Connections lost and re-established.
    pub reconnects: u64,
    /// Reconnects that found the session (Session Present 1).
    pub resumed: u64,
    /// Reconnects that did not.
    pub sessions_lost: u64,
    /// Milliseconds from losing the connection to the next CONNACK, per reconnect.
    pub reconnect_ms: Vec<u64>,
    /// PUBACKs with an error reason (the message was sent again).
    pub refused: u64,
    /// DISCONNECT reason codes the server sent.
    pub disconnects: BTreeMap<u8, u64>,
    /// Delivery latency (ns), first deliveries only.
    pub latency: Histogram<u64>,
    /// Some sequence numbers acknowledged and never delivered.
    pub lost: Vec<u64>,
    /// Why the device stopped early.
    pub error: Option<anyhow::Error>,
}

const QUIET: Duration = Duration::from_millis(100);
const CONNACK_WAIT: Duration = Duration::from_secs(10);
const PING_AFTER: Duration = Duration::from_secs(10);

struct Device<'a> {
    f: &'a Fleet,
    i: usize,
    id: String,
    topic: MqttStr,
    ledger: Ledger,
    /// Packet id → (sequence number, first send time in ns) of each unacknowledged
    /// publish; a re-send carries the same stamp.
    pending: BTreeMap<u16, (u64, u64)>,
    next_pkid: u16,
    payload: Payload,
    out: BytesMut,
    rng: u64,
    last_write: Instant,
    r: Report,
}

/// Runs device `i`: connect (staggered by `delay`), wait at `go`, publish until the
/// fleet stops, drain, end the session.
pub fn run(f: &Fleet, i: usize, delay: Duration, go: &Barrier) -> Report {
    let mut d = Device {
        f,
        i,
        id: format!("{}{i}", f.prefix),
        topic: MqttStr::try_from(format!("{}/{i}", f.topic)).unwrap_or_default(),
        ledger: Ledger::default(),
        pending: BTreeMap::new(),
        next_pkid: 1,
        payload: Payload::new(f.size, i as u32, false),
        out: BytesMut::with_capacity(256),
        rng: 0x9E37_79B9_7F4A_7C15 ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
        last_write: Instant::now(),
        r: Report {
            tally: Tally::default(),
            reconnects: 0,
            resumed: 0,
            sessions_lost: 0,
            reconnect_ms: Vec::new(),
            refused: 0,
            lost: Vec::new(),
            disconnects: BTreeMap::new(),
            latency: Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("constant bounds are valid"),
            error: None,
        },
    };
    std::thread::sleep(delay);
    let first = d.first_connect();
    go.wait();
    match first {
        Ok(c) => {
            if let Err(e) = d.work(c) {
                d.r.error = Some(e);
            }
        }
        Err(e) => d.r.error = Some(e),
    }
    d.r.tally = d.ledger.tally();
    d.r.lost = d.ledger.lost(5);
    d.r
}

impl Device<'_> {
    fn session(&self, clean_start: bool) -> Session {
        Session { clean_start, expiry: Some(self.f.session_expiry), keep_alive: 30 }
    }

    fn dial(&self, clean_start: bool) -> Result<(Conn, bool)> {
        let f = self.f;
        let mut last = None;
        for k in 0..f.addrs.len() {
            let addr = &f.addrs[(self.i + k) % f.addrs.len()];
            // The CONNACK may take a while when a server takes over many sessions at
            // once; a device that gave up on it early would only add to the storm.
            match Conn::connect(
                addr,
                f.v,
                self.id.clone(),
                f.username.clone(),
                f.tls.as_ref(),
                Some(CONNACK_WAIT),
                &self.session(clean_start),
            ) {
                Ok((c, present)) => {
                    c.set_read_timeout(Some(QUIET))?;
                    return Ok((c, present));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no server address")))
    }

    /// A random duration in [d/2, d].
    fn jitter(&mut self, d: Duration) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = d / 2;
        half + Duration::from_nanos(self.rng % (half.as_nanos() as u64 + 1))
    }

    /// A reconnect wait: in [delay/2, delay].
    fn backoff(&mut self) -> Duration {
        self.jitter(self.f.reconnect_delay)
    }

    /// The first session: 5.0 starts clean with an expiry, 3.1.1 asks for a
    /// persistent session (Clean Session 0) under a client id of this run's.
    fn first_connect(&mut self) -> Result<Conn> {
        let deadline = Instant::now() + self.f.reconnect_timeout;
        loop {
            match self.dial(self.f.v.is_v5()) {
                Ok((mut c, _)) => {
                    self.subscribe(&mut c)?;
                    self.f.connected.fetch_add(1, Ordering::Relaxed);
                    return Ok(c);
                }
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(self.backoff()),
            }
        }
    }

    fn subscribe(&mut self, c: &mut Conn) -> Result<()> {
        let options = SubscriptionOptions { qos: QoS::AtLeastOnce, ..Default::default() };
        c.send(&Packet::Subscribe(Subscribe {
            pkid: 1,
            filters: vec![SubscribeFilter { filter: self.topic.clone(), options }],
            properties: Default::default(),
        }))?;
        self.last_write = Instant::now();
        Ok(())
    }

    fn pkid(&mut self) -> u16 {
        loop {
            let id = self.next_pkid;
            // 1 is the SUBSCRIBE's.
            self.next_pkid = if id == u16::MAX { 2 } else { id + 1 };
            if id > 1 && !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    fn write_publish(&mut self, c: &mut Conn, pkid: u16, (seq, stamp): (u64, u64), dup: bool) -> Result<()> {
        let body = Bytes::copy_from_slice(self.payload.stamp(stamp, seq));
        self.out.clear();
        Publish { dup, qos: QoS::AtLeastOnce, pkid, ..Publish::new(self.topic.clone(), body) }
            .encode(self.f.v, &mut self.out)?;
        c.write(&self.out)?;
        self.last_write = Instant::now();
        Ok(())
    }

    fn publish(&mut self, c: &mut Conn) -> Result<()> {
        let (seq, pkid) = (self.ledger.send(), self.pkid());
        let sent = (seq, self.f.start.elapsed().as_nanos() as u64);
        self.pending.insert(pkid, sent);
        self.f.published.fetch_add(1, Ordering::Relaxed);
        self.write_publish(c, pkid, sent, false)
    }

    /// Handles one packet; `false` when the server ended the session.
    fn handle(&mut self, c: &mut Conn, p: Packet) -> Result<bool> {
        match p {
            Packet::Publish(p) => {
                if let Some((sent, publisher, seq)) = payload::read(&p.payload) {
                    if publisher as usize == self.i && self.ledger.receive(seq) {
                        self.f.delivered.fetch_add(1, Ordering::Relaxed);
                        let now = self.f.start.elapsed().as_nanos() as u64;
                        let _ = self.r.latency.record(now.saturating_sub(sent).max(1));
                    }
                }
                if p.qos == QoS::AtLeastOnce {
                    c.send(&Packet::Ack(Ack::new(AckKind::PubAck, p.pkid)))?;
                    self.last_write = Instant::now();
                }
            }
            Packet::Ack(a) if a.kind == AckKind::PubAck => {
                if let Some(sent) = self.pending.remove(&a.pkid) {
                    if a.reason.is_error() {
                        // Refused, not acknowledged: it goes again under a new packet id.
                        self.r.refused += 1;
                        let pkid = self.pkid();
                        self.pending.insert(pkid, sent);
                        self.write_publish(c, pkid, sent, false)?;
                        return Ok(true);
                    }
                    self.ledger.ack(sent.0);
                    self.f.acked.fetch_add(1, Ordering::Relaxed);
                }
            }
            Packet::SubAck(s) if s.reasons.iter().any(|r| r.is_error()) => {
                bail!("subscription refused: {:?}", s.reasons);
            }
            Packet::Disconnect(d) => {
                *self.r.disconnects.entry(d.reason as u8).or_insert(0) += 1;
                return Ok(false);
            }
            _ => {}
        }
        Ok(true)
    }

    /// Publishes, reads and reconnects until the fleet stops and nothing is owed.
    fn work(&mut self, mut c: Conn) -> Result<()> {
        let interval = Duration::from_secs_f64(1.0 / self.f.rate);
        // Devices start their first interval at different points, not in step.
        let mut due = Instant::now() + self.jitter(interval);
        let mut drain_until: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if self.f.stop.load(Ordering::Relaxed) {
                let until = *drain_until.get_or_insert(now + self.f.drain);
                if (self.pending.is_empty() && self.ledger.outstanding() == 0) || now >= until {
                    break;
                }
            } else if now >= due && self.pending.len() < self.f.window {
                due += interval;
                if self.publish(&mut c).is_err() {
                    c = self.reconnect()?;
                    continue;
                }
            }
            if now.duration_since(self.last_write) >= PING_AFTER && c.send(&Packet::PingReq).is_ok() {
                self.last_write = now;
            }
            let wait = due.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(1), QUIET);
            let alive = match c.set_read_timeout(Some(wait)).and_then(|_| c.next()) {
                // A write that fails (an acknowledgement on a connection that just
                // broke) is a lost connection too; anything else ends the device.
                Ok(Next::Packet(p)) => match self.handle(&mut c, *p) {
                    Ok(alive) => alive,
                    Err(e) if e.downcast_ref::<std::io::Error>().is_some() => false,
                    Err(e) => return Err(e),
                },
                Ok(Next::Quiet) => true,
                Ok(Next::Closed) | Err(_) => false,
            };
            if !alive {
                c = self.reconnect()?;
            }
        }
        self.finish(c)
    }

    /// The connection is gone: reconnect (without Clean Start) and restore the session.
    fn reconnect(&mut self) -> Result<Conn> {
        let lost = Instant::now();
        self.f.connected.fetch_sub(1, Ordering::Relaxed);
        self.f.reconnects.fetch_add(1, Ordering::Relaxed);
        self.r.reconnects += 1;
        loop {
            std::thread::sleep(self.backoff());
            let (mut c, present) = match self.dial(false) {
                Ok(x) => x,
                Err(e) if lost.elapsed() >= self.f.reconnect_timeout => {
                    return Err(e.context(format!("no reconnect within {:?}", self.f.reconnect_timeout)))
                }
                Err(_) => continue,
            };
            self.r.reconnect_ms.push(lost.elapsed().as_millis() as u64);
            if present {
                self.r.resumed += 1;
            } else {
                self.r.sessions_lost += 1;
                self.ledger.session_lost();
                if self.subscribe(&mut c).is_err() {
                    continue;
                }
            }
            let again: Vec<(u16, (u64, u64))> = self.pending.iter().map(|(k, v)| (*k, *v)).collect();
            if again
                .iter()
                .try_for_each(|&(pkid, sent)| self.write_publish(&mut c, pkid, sent, present))
                .is_err()
            {
                continue;
            }
            self.f.connected.fetch_add(1, Ordering::Relaxed);
            return Ok(c);
        }
    }

    /// Ends the session for good, so brokers do not keep it after the run.
    fn finish(&mut self, mut c: Conn) -> Result<()> {
        self.f.connected.fetch_sub(1, Ordering::Relaxed);
        if self.f.keep_sessions {
            let _ = c.send(&Packet::Disconnect(Disconnect::default()));
        } else if self.f.v.is_v5() {
            let mut d = Disconnect::new(ReasonCode::Success);
            d.properties.session_expiry_interval = Some(0);
            let _ = c.send(&Packet::Disconnect(d));
        } else {
            let _ = c.send(&Packet::Disconnect(Disconnect::default()));
            drop(c);
            if let Ok((mut c, _)) = self.dial(true) {
                let _ = c.send(&Packet::Disconnect(Disconnect::default()));
            }
        }
        Ok(())
    }
}
