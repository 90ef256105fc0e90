//! Opening the byte streams of a session: the TLS handshake of a TLS listener, and
//! the connection to the first upstream server that answers (TCP, a PROXY v2 header
//! when the upstream wants one, then TLS when the upstream has it), which gets the
//! client's CONNECT. Deadlines on both; no MQTT
//! beyond writing the CONNECT bytes it is handed.

use super::io::{Shared, Stream};
use super::tcp::Tcp;
use crate::config::{Balance, Server, ServerTls, Upstream};
use futures_lite::{future, AsyncWriteExt};
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use tracing::warn;

/// Where a client's connection came from and went to (the PROXY protocol header a
/// broker gets names them).
pub type Origin = (SocketAddr, SocketAddr);

/// Opens one server's connection: TCP (with a PROXY v2 header naming `origin`
/// when the upstream sends one), then TLS when the upstream has it.
async fn dial(up: &Upstream, s: &Server, origin: Origin) -> Result<Stream, String> {
    let mut t = TcpStream::connect_timeout(s.addr, up.connect_timeout).await.map_err(|e| e.to_string())?;
    let _ = t.set_nodelay(true);
    if up.proxy_protocol {
        let header = crate::proxy_protocol::encode_v2(origin.0, origin.1);
        t.write_all(&header).await.map_err(|e| format!("PROXY header: {e}"))?;
    }
    let (Some(cfg), Some(name)) = (&up.tls, &s.tls_name) else { return Ok(Stream::Tcp(t.into())) };
    let handshake = futures_rustls::TlsConnector::from(cfg.clone()).connect(name.clone(), Tcp::from(t));
    match future::or(async { Some(handshake.await) }, async {
        glommio::timer::sleep(up.connect_timeout).await;
        None
    })
    .await
    {
        Some(Ok(tls)) => Ok(Stream::TlsClient(Box::new(tls))),
        Some(Err(e)) => Err(format!("TLS: {e}")),
        None => Err("TLS handshake timed out".into()),
    }
}

/// The order in which `client_id` tries the servers of `up`: by rendezvous hash
/// (or as listed, with `balance: ordered`), servers whose probes fail last.
pub fn server_order(up: &Upstream, client_id: &str) -> Vec<usize> {
    let mut order = match up.balance {
        Balance::Hash => crate::route::hash::ranked(up.servers.iter().map(|s| s.name.as_str()), client_id),
        Balance::Ordered => (0..up.servers.len()).collect(),
    };
    order.sort_by_key(|&i| !up.up.get(i).is_some_and(|u| u.load(Ordering::Relaxed)));
    order
}

/// Connects to the server of `up` that `client_id` belongs on (the next one when
/// it does not answer) and forwards the client's CONNECT to it.
pub(super) async fn open_upstream<'a>(
    up: &'a Upstream,
    connect: &[u8],
    client_id: &str,
    origin: Origin,
) -> Result<(Shared, &'a str), String> {
    let mut last = String::from("no server");
    for s in server_order(up, client_id).into_iter().map(|i| &up.servers[i]) {
        match dial(up, s, origin).await {
            Ok(t) => {
                let mut t = Shared::new(t);
                match async {
                    t.write_all(connect).await?;
                    t.flush().await
                }
                .await
                {
                    Ok(()) => return Ok((t, s.name.as_str())),
                    Err(e) => last = format!("{}: {e}", s.name),
                }
            }
            Err(e) => {
                warn!(upstream = %up.name, server = %s.name, error = %e, "upstream connect failed");
                last = format!("{}: {e}", s.name);
            }
        }
    }
    Err(last)
}

/// The TLS handshake of a TLS listener (plain TCP passes through).
pub(super) async fn accept_tls(stream: TcpStream, tls: Option<&ServerTls>) -> Result<Stream, String> {
    let Some(tls) = tls else { return Ok(Stream::Tcp(stream.into())) };
    let handshake = futures_rustls::TlsAcceptor::from(tls.config.clone()).accept(Tcp::from(stream));
    match future::or(async { Some(handshake.await) }, async {
        glommio::timer::sleep(tls.handshake_timeout).await;
        None
    })
    .await
    {
        Some(Ok(s)) => Ok(Stream::TlsServer(Box::new(s))),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("handshake timed out".into()),
    }
}
