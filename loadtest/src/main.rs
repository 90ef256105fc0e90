//! `mqtt-loadtest`: drives an MQTT server (the proxy, or a broker directly) and
//! reports what came out.
//!
//! Scenarios:
//! - `pubsub`: N publishers send QoS 0/1 messages as fast as the server takes them
//!   for a fixed time; M subscribers on the same topics count deliveries and measure
//!   end-to-end latency from a send timestamp in each payload (hdrhistogram).
//! - `connect` (see `connect.rs`): CONNECT → CONNACK as fast as possible, optionally
//!   with TLS and a JWT per connection (unique, minted before the run, or one
//!   repeated), measuring connects/s and latency.
//!
//! One OS thread per client with blocking sockets: simple and adequate for tens of
//! clients. Uses the proxy's own codec (`mqtt_proxy::mqtt`) for every packet.

mod connect;

use anyhow::{bail, Context, Result};
use bytes::{Bytes, BytesMut};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use mqtt_proxy::mqtt::{self, Connect, MqttStr, Packet, Protocol, Publish, QoS};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(version, about = "Load-test harness for MQTT servers")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// N publishers, M subscribers, throughput and latency.
    Pubsub(PubSub),
    /// Connection storm: CONNECT/CONNACK rate and latency (TLS, JWT optional).
    Connect(connect::ConnectArgs),
}

#[derive(Parser, Clone)]
struct PubSub {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:1883")]
    addr: String,
    /// Publishers.
    #[arg(long, default_value_t = 10)]
    publishers: usize,
    /// Subscribers (each subscribes to every publisher's topic).
    #[arg(long, default_value_t = 1)]
    subscribers: usize,
    /// QoS of publishes and subscriptions (0 or 1).
    #[arg(long, default_value_t = 0)]
    qos: u8,
    /// Payload size in bytes (at least 16: timestamp and sequence).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Run time in seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// MQTT version: 3 (3.1.1) or 5.
    #[arg(long, default_value_t = 3)]
    version: u8,
    /// Topic prefix; publisher i uses `{prefix}/{i}`.
    #[arg(long, default_value = "bench")]
    topic: String,
}

fn protocol(v: u8) -> Result<Protocol> {
    Ok(match v {
        3 => Protocol::V311,
        5 => Protocol::V5,
        _ => bail!("--version must be 3 or 5"),
    })
}

struct Conn {
    s: TcpStream,
    buf: BytesMut,
    v: Protocol,
}

impl Conn {
    fn open(addr: &str, v: Protocol, id: String) -> Result<Conn> {
        let s = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        s.set_nodelay(true)?;
        let mut c = Conn { s, buf: BytesMut::with_capacity(1 << 16), v };
        let connect = Packet::Connect(Box::new(Connect {
            protocol: v,
            clean_start: true,
            keep_alive: 60,
            client_id: MqttStr::try_from(id)?,
            will: None,
            username: None,
            password: None,
            properties: Default::default(),
        }));
        c.send(&connect)?;
        match c.recv()? {
            Some(Packet::ConnAck(a)) if !a.reason.is_error() => Ok(c),
            other => bail!("no CONNACK: {other:?}"),
        }
    }

    fn send(&mut self, p: &Packet) -> Result<()> {
        self.s.write_all(&p.to_bytes(self.v)?)?;
        Ok(())
    }

    fn recv(&mut self) -> Result<Option<Packet>> {
        loop {
            if let Some(f) = mqtt::Frame::split(&mut self.buf, mqtt::MAX_PACKET_SIZE)? {
                return Ok(Some(mqtt::decode(&f, self.v)?));
            }
            let mut chunk = [0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

struct Totals {
    sent: AtomicU64,
    received: AtomicU64,
    stop: AtomicBool,
}

fn publisher(cfg: PubSub, i: usize, start: Instant, totals: Arc<Totals>, go: Arc<Barrier>) -> Result<()> {
    let v = protocol(cfg.version)?;
    let mut c = Conn::open(&cfg.addr, v, format!("lt-pub-{i}"))?;
    let qos = if cfg.qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
    let topic = MqttStr::try_from(format!("{}/{i}", cfg.topic))?;
    go.wait();
    let mut seq: u64 = 0;
    let mut out = BytesMut::with_capacity(64 * (cfg.size + 64));
    let mut payload = vec![0u8; cfg.size.max(16)];
    while !totals.stop.load(Ordering::Relaxed) {
        // A batch per write; QoS 1 waits for its PUBACKs (in-flight window = batch).
        out.clear();
        let batch = 32;
        for _ in 0..batch {
            seq += 1;
            let now = start.elapsed().as_nanos() as u64;
            payload[..8].copy_from_slice(&now.to_be_bytes());
            payload[8..16].copy_from_slice(&seq.to_be_bytes());
            let p = Publish {
                qos,
                pkid: if qos == QoS::AtMostOnce { 0 } else { (seq % 65535 + 1) as u16 },
                ..Publish::new(topic.clone(), Bytes::copy_from_slice(&payload))
            };
            p.encode(v, &mut out)?;
        }
        c.s.write_all(&out)?;
        if qos == QoS::AtLeastOnce {
            let mut acked = 0;
            while acked < batch {
                match c.recv()? {
                    Some(Packet::Ack(_)) => acked += 1,
                    Some(_) => {}
                    None => bail!("publisher {i}: connection closed"),
                }
            }
        }
        totals.sent.fetch_add(batch as u64, Ordering::Relaxed);
    }
    let _ = c.send(&Packet::Disconnect(Default::default()));
    Ok(())
}

fn subscriber(
    cfg: PubSub,
    i: usize,
    start: Instant,
    totals: Arc<Totals>,
    ready: Arc<Barrier>,
) -> Result<Histogram<u64>> {
    let v = protocol(cfg.version)?;
    let mut c = Conn::open(&cfg.addr, v, format!("lt-sub-{i}"))?;
    let qos = if cfg.qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
    let filter = MqttStr::try_from(format!("{}/+", cfg.topic))?;
    c.send(&Packet::Subscribe(mqtt::Subscribe {
        pkid: 1,
        filters: vec![mqtt::SubscribeFilter {
            filter,
            options: mqtt::SubscriptionOptions { qos, ..Default::default() },
        }],
        properties: Default::default(),
    }))?;
    loop {
        match c.recv()? {
            Some(Packet::SubAck(_)) => break,
            Some(_) => {}
            None => bail!("subscriber {i}: closed before SUBACK"),
        }
    }
    c.s.set_read_timeout(Some(Duration::from_millis(200)))?;
    ready.wait();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let mut acks = BytesMut::new();
    loop {
        match c.recv()? {
            Some(Packet::Publish(p)) => {
                if p.payload.len() >= 8 {
                    let sent = u64::from_be_bytes(p.payload[..8].try_into().unwrap_or([0; 8]));
                    let now = start.elapsed().as_nanos() as u64;
                    let _ = hist.record(now.saturating_sub(sent).max(1));
                }
                totals.received.fetch_add(1, Ordering::Relaxed);
                if p.qos == QoS::AtLeastOnce {
                    acks.clear();
                    Packet::Ack(mqtt::Ack::new(mqtt::AckKind::PubAck, p.pkid)).encode(v, &mut acks)?;
                    c.s.write_all(&acks)?;
                }
            }
            Some(_) => {}
            None if totals.stop.load(Ordering::Relaxed) => return Ok(hist),
            None => {}
        }
    }
}

fn pubsub(cfg: PubSub) -> Result<()> {
    let start = Instant::now();
    let totals = Arc::new(Totals {
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let barrier = Arc::new(Barrier::new(cfg.publishers + cfg.subscribers + 1));
    let subs: Vec<_> = (0..cfg.subscribers)
        .map(|i| {
            let (c, t, b) = (cfg.clone(), totals.clone(), barrier.clone());
            std::thread::spawn(move || subscriber(c, i, start, t, b))
        })
        .collect();
    let pubs: Vec<_> = (0..cfg.publishers)
        .map(|i| {
            let (c, t, b) = (cfg.clone(), totals.clone(), barrier.clone());
            std::thread::spawn(move || publisher(c, i, start, t, b))
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    let (mut last_s, mut last_r) = (0, 0);
    for sec in 1..=cfg.duration {
        std::thread::sleep(Duration::from_secs(1));
        let (s, r) = (totals.sent.load(Ordering::Relaxed), totals.received.load(Ordering::Relaxed));
        eprintln!("t={sec:>3}s  in {:>9} msg/s  out {:>9} msg/s", s - last_s, r - last_r);
        (last_s, last_r) = (s, r);
    }
    let measured = t0.elapsed().as_secs_f64();
    let sent_in_window = totals.sent.load(Ordering::Relaxed);
    let recv_in_window = totals.received.load(Ordering::Relaxed);
    totals.stop.store(true, Ordering::Relaxed);
    for p in pubs {
        p.join().map_err(|_| anyhow::anyhow!("publisher panicked"))??;
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    for s in subs {
        hist.add(s.join().map_err(|_| anyhow::anyhow!("subscriber panicked"))??)?;
    }
    let total_received = totals.received.load(Ordering::Relaxed);
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{{\"scenario\":\"pubsub\",\"publishers\":{},\"subscribers\":{},\"qos\":{},\"size\":{},\"seconds\":{:.2},\"sent\":{},\"received\":{},\"received_after_stop\":{},\"in_msgs_per_s\":{:.0},\"out_msgs_per_s\":{:.0},\"latency_us\":{{\"p50\":{:.1},\"p90\":{:.1},\"p99\":{:.1},\"p999\":{:.1},\"max\":{:.1}}}}}",
        cfg.publishers,
        cfg.subscribers,
        cfg.qos,
        cfg.size,
        measured,
        sent_in_window,
        recv_in_window,
        total_received,
        sent_in_window as f64 / measured,
        recv_in_window as f64 / measured,
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        hist.max() as f64 / 1000.0
    );
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().scenario {
        Scenario::Connect(args) => connect::run(args),
        Scenario::Pubsub(cfg) => {
            if cfg.qos > 1 {
                bail!("--qos must be 0 or 1 in this version");
            }
            pubsub(cfg)
        }
    }
}
