//! One client connection, from accept to close, on the core that accepted it.
//!
//! Steps: read CONNECT within the connect timeout; answer malformed or unsupported
//! CONNECTs the way the client's version expects; run the listener's guard (refusals
//! all look the same: CONNACK 0x87 / 5, or a close); open the upstream (first server
//! that answers) and forward the original CONNECT bytes (without the token when a
//! guard authenticated the client: credentials never reach the broker); relay both directions until
//! one ends (or the core shuts down); tell a 5.0 client why, close the upstream
//! without DISCONNECT unless the client said goodbye; log one line.

use super::authorize::Authorizer;
use super::close::{Close, Side};
use super::io::{read_into, Shared};
use super::relay::{Dir, Pump};
use super::session::Session;
use super::stats::Counters;
use super::Core;
use crate::auth::acl::Context as AclContext;
use crate::auth::{AuthError, Found, Identity, Reject};
use crate::config::Listener;
use crate::config::Upstream;
use crate::metrics::Refusal;
use crate::mqtt::{self, ConnAck, Connect, Disconnect, Frame, MqttStr, Packet, Protocol, ReasonCode};
use bytes::BytesMut;
use futures_lite::{future, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::sync::Semaphore;
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// How long a goodbye packet (CONNACK refusal, DISCONNECT) may take to write.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

/// Seconds since the Unix epoch (token lifetimes are in these).
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The protocol level byte of a CONNECT body, if the body is long enough to hold it.
fn connect_level(frame: &Frame) -> Option<u8> {
    let body = frame.body();
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    body.get(2 + name_len).copied()
}

async fn send(stream: &mut Shared, packet: &Packet, protocol: Protocol) {
    let Ok(bytes) = packet.to_bytes(protocol) else {
        return;
    };
    let write = async {
        let _ = stream.write_all(&bytes).await;
        let _ = stream.flush().await;
    };
    future::or(write, glommio::timer::sleep(GOODBYE_TIMEOUT)).await;
}

/// Why a connection ended before the relay started.
enum Early {
    Timeout,
    Gone(String),
    Refused(String),
}

async fn read_connect(client: &mut Shared, buf: &mut BytesMut, core: &Core) -> Result<Frame, Early> {
    let limits = &core.config.limits;
    loop {
        // Not CONNECT: no need to wait for the rest of whatever this is.
        if buf.first().is_some_and(|b| b >> 4 != mqtt::kind::CONNECT) {
            return Err(Early::Refused(format!("first packet type {} is not CONNECT", buf[0] >> 4)));
        }
        match Frame::split(buf, limits.max_packet_size) {
            Ok(Some(f)) => return Ok(f),
            Ok(None) => {}
            Err(e) => return Err(Early::Refused(format!("first packet: {e}"))),
        }
        match read_into(client, buf, limits.read_buffer).await {
            Ok(0) => return Err(Early::Gone("closed before CONNECT".into())),
            Ok(_) => {}
            Err(e) => return Err(Early::Gone(e.to_string())),
        }
    }
}

/// Connects to the first server of `up` that answers and forwards the client's
/// CONNECT (its own bytes) to it.
async fn open_upstream<'a>(up: &'a Upstream, connect: &[u8]) -> Result<(Shared, &'a str), String> {
    let mut last = String::from("no server");
    for s in &up.servers {
        match TcpStream::connect_timeout(s.addr, up.connect_timeout).await {
            Ok(t) => {
                let _ = t.set_nodelay(true);
                let mut t = Shared::new(t);
                match t.write_all(connect).await {
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

/// What the guard established for a session.
struct Authenticated {
    /// The CONNECT to send upstream (credentials removed when a guard read them).
    forward: bytes::Bytes,
    /// The verified identity, with a guard.
    identity: Option<Rc<Identity>>,
    /// The 5.0 Authentication Method, when the token came by enhanced authentication.
    reauth_method: Option<MqttStr>,
}

/// The CONNECT with the listener's configured upstream credentials, if it has any
/// (`None`: forward the client's own).
fn with_upstream_credentials(
    mut c: Connect,
    lcfg: &Listener,
    identity: Option<&Identity>,
) -> Option<Connect> {
    if lcfg.upstream_username.is_none() && lcfg.upstream_password.is_none() {
        return None;
    }
    let ctx = AclContext { identity, client_id: c.client_id.as_str() };
    c.username =
        lcfg.upstream_username.as_ref().and_then(|t| t.expand(&ctx)).and_then(|u| MqttStr::try_from(u).ok());
    c.password = lcfg.upstream_password.as_ref().map(|p| bytes::Bytes::from(p.0.clone()));
    if c.username.is_none() && c.protocol != Protocol::V5 {
        // 3.x cannot carry a password without a user name.
        c.password = None;
    }
    Some(c)
}

/// Runs the listener's guard; `None` when the client was refused (already answered).
async fn authenticate(
    core: &Core,
    client: &mut Shared,
    lcfg: &Listener,
    connect: &Connect,
    frame: &Frame,
    peer: SocketAddr,
) -> Option<Authenticated> {
    let config = &core.config;
    let Some(gi) = lcfg.guard else {
        let forward = match with_upstream_credentials(connect.clone(), lcfg, None) {
            Some(c) => Packet::Connect(Box::new(c)).to_bytes(connect.protocol).ok()?,
            None => frame.raw().clone(),
        };
        return Some(Authenticated { forward, identity: None, reauth_method: None });
    };
    let guard = &config.guards[gi];
    let client_id = connect.client_id.as_str();
    let ip = peer.ip();
    let throttled = core.throttle.borrow().is_throttled(ip, &guard.throttle, Instant::now());
    let checked = if throttled {
        glommio::timer::sleep(guard.throttle.penalty).await;
        Err(AuthError::Throttled)
    } else {
        let hits = core.tokens.borrow().hits;
        let r = guard.check(connect, &lcfg.scopes, unix_now(), Some((&mut core.tokens.borrow_mut(), gi)));
        core.metrics.token_cache_hits.add(core.tokens.borrow().hits - hits);
        if r.is_err() {
            core.throttle.borrow_mut().failed(ip, &guard.throttle, Instant::now());
        }
        r
    };
    match checked {
        Ok((id, found)) => {
            info!(%peer, client_id, guard = %guard.name, subject = %id.subject, "authenticated");
            let reauth_method = if found == Found::AuthData {
                connect.properties.authentication_method.clone()
            } else {
                None
            };
            let stripped = guard.strip(connect);
            let upstream = with_upstream_credentials(stripped.clone(), lcfg, Some(&id)).unwrap_or(stripped);
            match Packet::Connect(Box::new(upstream)).to_bytes(connect.protocol) {
                Ok(forward) => Some(Authenticated { forward, identity: Some(id), reauth_method }),
                Err(e) => {
                    warn!(%peer, client_id, error = %e, "cannot re-encode CONNECT");
                    None
                }
            }
        }
        Err(e) => {
            // The reason goes to the log and a metric only; every refusal looks alike.
            info!(%peer, client_id, guard = %guard.name, reason = %e, "refused: authentication");
            core.metrics.auth_refused(e);
            if guard.reject == Reject::ConnAck {
                let refusal = ConnAck::new(ReasonCode::NotAuthorized, false);
                send(client, &Packet::ConnAck(refusal), connect.protocol).await;
            }
            None
        }
    }
}

/// Serves one accepted client until it is closed.
pub async fn serve(core: Rc<Core>, stream: TcpStream, peer: SocketAddr, listener: usize) {
    let _ = stream.set_nodelay(true);
    let mut client = Shared::new(stream);
    // Declared after `client`, so it is dropped first on every return path.
    let open = core.open();
    let config = core.config.clone();
    let limits = &config.limits;
    let lname = &config.listeners[listener].name;
    let core_id = core.id;
    info!(%peer, listener = %lname, core = core_id, "connection opened");

    let mut cbuf = BytesMut::with_capacity(limits.read_buffer);
    let first = future::or(async { read_connect(&mut client, &mut cbuf, &core).await }, async {
        glommio::timer::sleep(limits.connect_timeout).await;
        Err(Early::Timeout)
    })
    .await;
    let frame = match first {
        Ok(f) => f,
        Err(Early::Timeout) => {
            core.metrics.refused(Refusal::ConnectTimeout);
            return info!(%peer, listener = %lname, "closed: no CONNECT within the connect timeout");
        }
        Err(Early::Gone(why)) => return debug!(%peer, listener = %lname, %why, "closed before CONNECT"),
        Err(Early::Refused(why)) => {
            core.metrics.refused(Refusal::BadConnect);
            return info!(%peer, listener = %lname, %why, "closed: bad first packet");
        }
    };
    let connect = match mqtt::decode(&frame, Protocol::V5) {
        Ok(Packet::Connect(c)) => c,
        Ok(_) => return,
        Err(e) => {
            let level = connect_level(&frame);
            info!(%peer, listener = %lname, error = %e, ?level, "refused: malformed CONNECT");
            core.metrics.refused(Refusal::BadConnect);
            if level == Some(5) {
                send(&mut client, &Packet::ConnAck(ConnAck::new(ReasonCode::from(&e), false)), Protocol::V5)
                    .await;
            } else if let Some(code) = e.v3_connack_code() {
                let reason = if code == 1 {
                    ReasonCode::UnsupportedProtocolVersion
                } else {
                    ReasonCode::ClientIdentifierNotValid
                };
                send(&mut client, &Packet::ConnAck(ConnAck::new(reason, false)), Protocol::V311).await;
            }
            return;
        }
    };
    let protocol = connect.protocol;
    let client_id = connect.client_id.to_string();

    // The guard, if any: authenticate, then forward a CONNECT without the token.
    let lcfg = &config.listeners[listener];
    let Some(auth) = authenticate(&core, &mut client, lcfg, &connect, &frame, peer).await else { return };
    let Authenticated { forward, identity, reauth_method } = auth;
    let deadline = Cell::new(identity.as_ref().map(|i| i.expires_at));

    // The topic ACL of this session (and the client identifier it must use).
    let authorizer = match &lcfg.acl {
        None => None,
        Some(acl) => {
            let ctx = AclContext { identity: identity.as_deref(), client_id: &client_id };
            match acl.for_session(&ctx) {
                Ok(acl) => {
                    Some(Authorizer::new(acl, lcfg.acl.as_ref().map(|a| a.v3_denied).unwrap_or_default()))
                }
                Err(e) => {
                    info!(%peer, client_id, reason = %e, "refused: authentication");
                    core.metrics.auth_refused(e);
                    let reject = lcfg.guard.map_or(Reject::ConnAck, |g| config.guards[g].reject);
                    if reject == Reject::ConnAck {
                        let refusal = ConnAck::new(ReasonCode::NotAuthorized, false);
                        send(&mut client, &Packet::ConnAck(refusal), protocol).await;
                    }
                    return;
                }
            }
        }
    };

    let upstream_cfg = &config.upstreams[lcfg.upstream];
    let (upstream, server) = match open_upstream(upstream_cfg, &forward).await {
        Ok(x) => x,
        Err(why) => {
            info!(%peer, client_id, upstream = %upstream_cfg.name, %why, "refused: upstream unavailable");
            core.metrics.refused(Refusal::UpstreamUnavailable);
            let refusal = ConnAck::new(ReasonCode::ServerUnavailable, false);
            send(&mut client, &Packet::ConnAck(refusal), protocol).await;
            return;
        }
    };

    let mut session = Session::new(protocol, connect.keep_alive, limits.keep_alive_max);
    if let Some(a) = authorizer {
        session = session.with_authorizer(a);
    }
    if let Some(m) = reauth_method {
        session = session.with_auth_method(m);
    }
    // MQTT 5.0 re-authentication: a fresh token moves the session's deadline.
    let reauth = |token: &str| -> Result<(), AuthError> {
        let guard = lcfg.guard.map(|g| (&config.guards[g], g)).ok_or(AuthError::Missing)?;
        let id =
            guard.0.verify(token, &lcfg.scopes, unix_now(), Some((&mut core.tokens.borrow_mut(), guard.1)));
        match id {
            Ok(id) => {
                info!(%peer, client_id, subject = %id.subject, "re-authenticated");
                deadline.set(Some(id.expires_at));
                Ok(())
            }
            Err(e) => {
                info!(%peer, client_id, reason = %e, "re-authentication refused");
                core.metrics.auth_refused(e);
                Err(e)
            }
        }
    };
    let (up, down) = (Counters::default(), Counters::default());
    up.bytes.set(forward.len() as u64);
    up.packets.set(1);
    core.metrics.bytes_up.add(forward.len() as u64);
    core.metrics.packets_up.add(1);
    let client_writing = Cell::new(false);
    let client_lock = Semaphore::new(1);
    let pump = |dir, counters| Pump {
        dir,
        session: &session,
        client_keep_alive: connect.keep_alive,
        max_packet_size: limits.max_packet_size,
        read_chunk: limits.read_buffer,
        counters,
        metrics: &core.metrics,
        client: &client,
        client_lock: &client_lock,
        client_writing: &client_writing,
        reauth: &reauth,
    };
    let (c2u, u2c) = (pump(Dir::Up, &up), pump(Dir::Down, &down));
    let mut ubuf = BytesMut::with_capacity(limits.read_buffer);
    let (mut c_r, mut u_w) = (client.clone(), upstream.clone());
    let (mut u_r, mut c_w) = (upstream.clone(), client.clone());
    let close = future::or(
        future::or(c2u.run(&mut c_r, &mut u_w, &mut cbuf), u2c.run(&mut u_r, &mut c_w, &mut ubuf)),
        future::or(
            async {
                core.shutdown.wait().await;
                Close::Shutdown
            },
            async {
                // Re-authentication may move the deadline while we sleep.
                while let Some(exp) = deadline.get() {
                    let now = unix_now();
                    if exp <= now {
                        return Close::TokenExpired;
                    }
                    glommio::timer::sleep(Duration::from_secs(exp - now)).await;
                }
                future::pending::<Close>().await
            },
        ),
    )
    .await;
    drop((c_r, u_w, u_r, c_w));

    if let (true, Some(reason), false) = (protocol.is_v5(), close.client_reason(), client_writing.get()) {
        send(&mut client, &Packet::Disconnect(Disconnect::new(reason)), protocol).await;
    }
    // Dropping the upstream without DISCONNECT is what makes the broker publish the
    // will; only a client DISCONNECT (already forwarded) is a clean goodbye.
    drop(open);
    drop(upstream);
    drop(client);
    core.metrics.closed(&close);
    let (denied_publish, denied_subscribe) =
        session.authorizer.as_ref().map_or((0, 0), |a| (a.denied_publish.get(), a.denied_subscribe.get()));
    core.metrics.acl_denied_publish.add(denied_publish);
    core.metrics.acl_denied_subscribe.add(denied_subscribe);
    let side: Side = close.side();
    info!(
        %peer,
        listener = %lname,
        core = core_id,
        client_id,
        protocol = %protocol,
        upstream = %upstream_cfg.name,
        %server,
        bytes_up = up.bytes.get(),
        bytes_down = down.bytes.get(),
        packets_up = up.packets.get(),
        packets_down = down.packets.get(),
        denied_publish,
        denied_subscribe,
        closed_by = %side,
        reason = %close,
        "connection closed"
    );
}
