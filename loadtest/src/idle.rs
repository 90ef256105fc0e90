//! The `idle` scenario: opens N MQTT connections, holds them for a while with
//! keep-alive pings, then closes them, for memory-per-connection measurements.
//!
//! One thread; connections are set up one after another (CONNECT / CONNACK), then
//! switched to non-blocking and pinged every half keep-alive. `--source-ips
//! 127.0.0.2-127.0.0.50` spreads the client side over loopback addresses so more
//! than ~64k connections fit (each source address has its own port range).

use anyhow::{bail, Context, Result};
use mqtt_proxy::mqtt::{Connect, ConnectProperties, MqttStr, Packet, Protocol};
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Flags of `idle`.
#[derive(clap::Parser, Clone)]
pub struct IdleArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:1883")]
    addr: SocketAddr,
    /// Connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// How long to hold them, seconds.
    #[arg(long, default_value_t = 10)]
    hold: u64,
    /// Keep alive announced in CONNECT, seconds (pinged every half of it; 0: no
    /// limit, never pinged).
    #[arg(long, default_value_t = 30)]
    keep_alive: u16,
    /// Client source addresses, e.g. `127.0.0.2-127.0.0.50`, used in turn.
    #[arg(long)]
    source_ips: Option<String>,
    /// Print `ready` on stdout once all are connected and wait for a line on stdin
    /// before holding (lets a script measure the server in between).
    #[arg(long)]
    pause: bool,
    /// Also write the JSON result to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn sources(spec: &Option<String>) -> Result<Vec<Ipv4Addr>> {
    let Some(spec) = spec else { return Ok(Vec::new()) };
    let (a, b) = spec.split_once('-').unwrap_or((spec, spec));
    let (a, b): (Ipv4Addr, Ipv4Addr) =
        (a.parse().context("--source-ips")?, b.parse().context("--source-ips")?);
    let (a, b) = (u32::from(a), u32::from(b));
    if b < a {
        bail!("--source-ips: empty range");
    }
    Ok((a..=b).map(Ipv4Addr::from).collect())
}

fn open(args: &IdleArgs, i: usize, src: Option<Ipv4Addr>) -> Result<TcpStream> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    if let Some(ip) = src {
        s.bind(&SocketAddr::from((ip, 0)).into())?;
    }
    s.connect(&args.addr.into())?;
    let mut t: TcpStream = s.into();
    t.set_nodelay(true)?;
    t.set_read_timeout(Some(Duration::from_secs(10)))?;
    let connect = Packet::Connect(Box::new(Connect {
        protocol: Protocol::V311,
        clean_start: true,
        keep_alive: args.keep_alive,
        client_id: MqttStr::try_from(format!("idle-{i}"))?,
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    }));
    t.write_all(&connect.to_bytes(Protocol::V311)?)?;
    let mut ack = [0u8; 4];
    t.read_exact(&mut ack)?;
    if ack[0] != 0x20 || ack[3] != 0 {
        bail!("connection {i} refused: {ack:02x?}");
    }
    t.set_nonblocking(true)?;
    Ok(t)
}

/// Runs the scenario and prints one JSON line.
pub fn run(args: IdleArgs) -> Result<()> {
    let srcs = sources(&args.source_ips)?;
    let t0 = Instant::now();
    let mut conns = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let src = (!srcs.is_empty()).then(|| srcs[i % srcs.len()]);
        conns.push(open(&args, i, src).with_context(|| format!("connection {i}"))?);
    }
    let setup = t0.elapsed().as_secs_f64();
    if args.pause {
        println!("ready {}", conns.len());
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
    }
    let every = Duration::from_secs(u64::from(args.keep_alive.max(2) / 2));
    let end = Instant::now() + Duration::from_secs(args.hold);
    let (mut pings, mut lost, mut sink) = (0u64, 0usize, [0u8; 256]);
    // Keep alive 0 means no limit: such clients are silent, so hold without pinging.
    if args.keep_alive == 0 {
        std::thread::sleep(end.saturating_duration_since(Instant::now()));
    }
    while args.keep_alive > 0 && Instant::now() < end {
        for c in conns.iter_mut() {
            if c.write_all(&[0xC0, 0x00]).is_err() {
                lost += 1;
            }
            pings += 1;
            let _ = c.read(&mut sink);
        }
        std::thread::sleep(every.min(end.saturating_duration_since(Instant::now())));
    }
    for c in conns.iter_mut() {
        let _ = c.write_all(&[0xE0, 0x00]);
    }
    let json = format!(
        "{{\"scenario\":\"idle\",\"connections\":{},\"setup_seconds\":{setup:.2},\"connects_per_s\":{:.0},\"pings\":{pings},\"write_errors\":{lost}}}",
        conns.len(),
        conns.len() as f64 / setup.max(1e-9)
    );
    println!("{json}");
    if let Some(path) = &args.json {
        std::fs::write(path, format!("{json}\n"))?;
    }
    Ok(())
}
