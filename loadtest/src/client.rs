//! A blocking MQTT client on the proxy's codec, over TCP or TLS, for the scenarios.

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use mqtt_proxy::mqtt::{self, Connect, ConnectProperties, MqttStr, Packet, Protocol};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Anything a connection can run over.
pub trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

/// TLS settings of a scenario: config and the name to verify.
pub type Tls = (Arc<rustls::ClientConfig>, ServerName<'static>);

/// A rustls client configuration trusting the CA in `ca` (PEM).
pub fn tls(ca: &Path, name: &str) -> Result<Tls> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca)? {
        roots.add(c?)?;
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((Arc::new(cfg), ServerName::try_from(name.to_string())?))
}

/// One MQTT connection.
pub struct Conn {
    s: Box<dyn Io>,
    /// The socket under `s`, for changing the read timeout.
    tcp: TcpStream,
    buf: BytesMut,
    /// Protocol version.
    pub v: Protocol,
}

/// What a CONNECT asks for beyond the defaults of `Conn::open`.
pub struct Session {
    /// Clean Start (3.1.1: Clean Session).
    pub clean_start: bool,
    /// Session Expiry Interval in seconds (5.0 only; 3.1.1 sessions without Clean
    /// Session never expire).
    pub expiry: Option<u32>,
    /// Keep Alive in seconds.
    pub keep_alive: u16,
}

/// What a read brought.
pub enum Next {
    /// A packet.
    Packet(Box<Packet>),
    /// Nothing within the read timeout.
    Quiet,
    /// The peer closed the connection (or reset it).
    Closed,
}

impl Conn {
    /// Connects and completes CONNECT / CONNACK with a clean session. Reads give
    /// up after `read_timeout`.
    pub fn open(
        addr: &str,
        v: Protocol,
        id: String,
        username: Option<String>,
        tls: Option<&Tls>,
        read_timeout: Option<Duration>,
    ) -> Result<Conn> {
        let session = Session { clean_start: true, expiry: None, keep_alive: 60 };
        Ok(Conn::connect(addr, v, id, username, tls, read_timeout, &session)?.0)
    }

    /// Connects and completes CONNECT / CONNACK; the connection and Session Present.
    pub fn connect(
        addr: &str,
        v: Protocol,
        id: String,
        username: Option<String>,
        tls: Option<&Tls>,
        read_timeout: Option<Duration>,
        session: &Session,
    ) -> Result<(Conn, bool)> {
        let tcp = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(read_timeout)?;
        let handle = tcp.try_clone()?;
        let s: Box<dyn Io> = match tls {
            Some((cfg, name)) => Box::new(rustls::StreamOwned::new(
                rustls::ClientConnection::new(cfg.clone(), name.clone())?,
                tcp,
            )),
            None => Box::new(tcp),
        };
        let mut c = Conn { s, tcp: handle, buf: BytesMut::with_capacity(1 << 16), v };
        c.send(&Packet::Connect(Box::new(Connect {
            protocol: v,
            clean_start: session.clean_start,
            keep_alive: session.keep_alive,
            client_id: MqttStr::try_from(id)?,
            will: None,
            username: username.map(MqttStr::try_from).transpose()?,
            password: None,
            properties: ConnectProperties {
                receive_maximum: v.is_v5().then_some(65_535),
                session_expiry_interval: session.expiry.filter(|_| v.is_v5()),
                ..Default::default()
            },
        })))?;
        match c.recv()? {
            Some(Packet::ConnAck(a)) if !a.reason.is_error() => Ok((c, a.session_present)),
            Some(Packet::ConnAck(a)) => bail!("refused: CONNACK {:?}", a.reason),
            other => bail!("no CONNACK: {other:?}"),
        }
    }

    /// Changes how long a read waits (`None`: for ever).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> Result<()> {
        Ok(self.tcp.set_read_timeout(t)?)
    }

    /// The next packet, a quiet read timeout, or the end of the connection.
    pub fn next(&mut self) -> Result<Next> {
        loop {
            if let Some(f) = mqtt::Frame::split(&mut self.buf, mqtt::MAX_PACKET_SIZE)? {
                return Ok(Next::Packet(Box::new(mqtt::decode(&f, self.v)?)));
            }
            let mut chunk = [0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) => return Ok(Next::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    return Ok(Next::Quiet)
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    return Ok(Next::Closed)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends one packet.
    pub fn send(&mut self, p: &Packet) -> Result<()> {
        self.write(&p.to_bytes(self.v)?)
    }

    /// Sends encoded bytes.
    pub fn write(&mut self, b: &[u8]) -> Result<()> {
        self.s.write_all(b)?;
        self.s.flush()?;
        Ok(())
    }

    /// The next packet; `None` on a read timeout or when the connection closed.
    pub fn recv(&mut self) -> Result<Option<Packet>> {
        Ok(match self.next()? {
            Next::Packet(p) => Some(*p),
            Next::Quiet | Next::Closed => None,
        })
    }
}

/// A short name for what went wrong, for error counts by kind.
pub fn error_kind(e: &anyhow::Error) -> &'static str {
    let text = e.to_string();
    if e.downcast_ref::<rustls::Error>().is_some() || text.contains("certificate") || text.contains("TLS") {
        "tls"
    } else if text.starts_with("refused") || text.starts_with("no CONNACK") {
        "refused"
    } else if text.contains("closed") {
        "closed"
    } else if text.starts_with("connect ") || text.contains("Connection refused") {
        "connect"
    } else {
        "io"
    }
}

/// Error counts as a JSON object.
pub fn kinds_json(counts: &std::collections::BTreeMap<&'static str, usize>) -> String {
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("\"{k}\":{n}")).collect();
    format!("{{{}}}", parts.join(","))
}
