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
    buf: BytesMut,
    /// Protocol version.
    pub v: Protocol,
}

impl Conn {
    /// Connects and completes CONNECT / CONNACK. Reads give up after `read_timeout`.
    pub fn open(
        addr: &str,
        v: Protocol,
        id: String,
        username: Option<String>,
        tls: Option<&Tls>,
        read_timeout: Option<Duration>,
    ) -> Result<Conn> {
        let tcp = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(read_timeout)?;
        let s: Box<dyn Io> = match tls {
            Some((cfg, name)) => Box::new(rustls::StreamOwned::new(
                rustls::ClientConnection::new(cfg.clone(), name.clone())?,
                tcp,
            )),
            None => Box::new(tcp),
        };
        let mut c = Conn { s, buf: BytesMut::with_capacity(1 << 16), v };
        c.send(&Packet::Connect(Box::new(Connect {
            protocol: v,
            clean_start: true,
            keep_alive: 60,
            client_id: MqttStr::try_from(id)?,
            will: None,
            username: username.map(MqttStr::try_from).transpose()?,
            password: None,
            properties: ConnectProperties {
                receive_maximum: v.is_v5().then_some(65_535),
                ..Default::default()
            },
        })))?;
        match c.recv()? {
            Some(Packet::ConnAck(a)) if !a.reason.is_error() => Ok(c),
            other => bail!("no CONNACK: {other:?}"),
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
        loop {
            if let Some(f) = mqtt::Frame::split(&mut self.buf, mqtt::MAX_PACKET_SIZE)? {
                return Ok(Some(mqtt::decode(&f, self.v)?));
            }
            let mut chunk = [0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e.into()),
            }
        }
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
