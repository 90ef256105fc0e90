//! Admitting one client connection, on the core that accepted it: the PROXY
//! protocol header on balanced listeners (`preamble.rs`); the TLS handshake on TLS
//! listeners; the CONNECT within the connect timeout (a malformed
//! or unsupported one answered the way the client's version expects); the
//! listener's guard (`authenticate.rs`; refusals all look alike); the session's
//! topic ACL; its route; the upstream connection with the CONNECT forwarded
//! (`streams.rs`; without the client's credentials when a guard read them). Every
//! refusal is answered, counted and logged here. Not here: the session itself
//! (`conn.rs`).

use super::authenticate::{authenticate, Authenticated};
use super::gate::{Connecting, IpSlot};
use super::goodbye::send;
use super::io::{read_into, Shared, MIN_READ};
use super::listeners::Life;
use super::preamble::{balanced_peer, handshakes};
use super::routing::{self, Routed};
use super::streams::open_upstream;
use super::tenants::Slot;
use super::{Core, Open, Snapshot};
use crate::auth::acl::Context as AclContext;
use crate::auth::{Identity, Reject};
use crate::config::Limits;
use crate::metrics::{Limit, Refusal};
use crate::mqtt::{self, ConnAck, Connect, Frame, MqttStr, Packet, Protocol, ReasonCode};
use crate::session::authorize::Authorizer;
use bytes::BytesMut;
use futures_lite::future;
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use tracing::{debug, info};

/// A client that passed every check, with its broker connection open.
pub(super) struct Admitted<'c> {
    /// The connection's place in the core's count (released first, at the end).
    pub open: Open<'c>,
    /// The config snapshot it was admitted under (kept for its whole life).
    pub snap: Arc<Snapshot>,
    /// The client's address (from the PROXY header on a balanced listener).
    pub peer: SocketAddr,
    /// The address it connected to (idem).
    pub local: SocketAddr,
    /// Index of its listener.
    pub listener: usize,
    /// The client socket.
    pub client: Shared,
    /// Bytes read after the CONNECT.
    pub cbuf: BytesMut,
    /// What the session needs of the CONNECT (not the CONNECT itself: its fields are
    /// slices of the first read, which would stay allocated for the whole session).
    pub connect: Hello,
    /// Its client id (logs).
    pub client_id: String,
    /// The verified identity (token or client certificate).
    pub identity: Option<Rc<Identity>>,
    /// When the token expires (seconds since the epoch; none without a token).
    pub token_expires: Option<u64>,
    /// The 5.0 Authentication Method the proxy handled, for re-authentication.
    pub reauth_method: Option<MqttStr>,
    /// The session's topic ACL.
    pub authorizer: Option<Authorizer>,
    /// The TLS server name the client asked for.
    pub sni: Option<String>,
    /// Where the session goes.
    pub routed: Routed,
    /// Its tenant's place (given back when the session ends).
    pub tenant_slot: Option<Slot>,
    /// Its source address's place (`limits.max_connections_per_ip`).
    pub ip_slot: Option<Box<IpSlot>>,
    /// The session's own broker (link 0), CONNECT sent.
    pub upstream: Shared,
    /// That broker's server name.
    pub server: String,
}

/// The few fields of a client's CONNECT a running session still reads, copied out.
pub(super) struct Hello {
    /// Protocol version.
    pub protocol: Protocol,
    /// Clean Session / Clean Start.
    pub clean_start: bool,
    /// Keep Alive, seconds.
    pub keep_alive: u16,
    /// The client id the client sent (routing facts).
    pub client_id: String,
    /// 5.0 Session Expiry Interval.
    pub session_expiry_interval: Option<u32>,
    /// 5.0 Receive Maximum.
    pub receive_maximum: Option<u16>,
    /// Bytes of the CONNECT the session's broker got.
    pub forwarded: usize,
}

impl Hello {
    fn of(c: &Connect, forwarded: usize) -> Self {
        Hello {
            protocol: c.protocol,
            clean_start: c.clean_start,
            keep_alive: c.keep_alive,
            client_id: c.client_id.to_string(),
            session_expiry_interval: c.properties.session_expiry_interval,
            receive_maximum: c.properties.receive_maximum,
            forwarded,
        }
    }
}

/// Why a connection ended before the relay started.
enum Early {
    Timeout,
    Gone(String),
    Refused(String),
}

async fn read_connect(
    client: &mut Shared,
    buf: &mut BytesMut,
    core: &Core,
    limits: &Limits,
) -> Result<Frame, Early> {
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
        let size = MIN_READ.max(buf.len()).min(limits.read_buffer);
        match read_into(client, buf, size, &core.scratch).await {
            Ok(0) => return Err(Early::Gone("closed before CONNECT".into())),
            Ok(_) => {}
            // The stream's own protocol broken (a WebSocket frame) is a bad first packet.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(Early::Refused(e.to_string()))
            }
            Err(e) => return Err(Early::Gone(e.to_string())),
        }
    }
}

/// The limits a CONNECT must pass before it costs anything: the listener's
/// connect rate, the connections in their CONNECT phase, the connections from its
/// source address (whose place it takes). The first one exceeded, with its reason code.
fn admission_limits(
    core: &Core,
    snap: &Snapshot,
    listener: usize,
    peer: SocketAddr,
    connecting: &Connecting<'_>,
) -> (Option<Box<IpSlot>>, Option<(Limit, ReasonCode)>) {
    let limits = &snap.config.limits;
    if !snap.may_connect(listener) {
        return (None, Some((Limit::ConnectRate, ReasonCode::ConnectionRateExceeded)));
    }
    if limits.max_connecting.is_some_and(|max| connecting.now() > max) {
        return (None, Some((Limit::Connecting, ReasonCode::ConnectionRateExceeded)));
    }
    match limits.max_connections_per_ip {
        None => (None, None),
        Some(max) => match core.gate.ip_slot(peer.ip(), max) {
            Some(slot) => (Some(Box::new(slot)), None),
            None => (None, Some((Limit::PerIp, ReasonCode::QuotaExceeded))),
        },
    }
}

/// Admits one accepted client: TLS, CONNECT, guard, ACL, route, upstream. `None`
/// when it was refused (it has been told as its version expects, counted, logged).
pub(super) async fn admit(
    core: &Core,
    snap: Arc<Snapshot>,
    mut stream: TcpStream,
    socket_peer: SocketAddr,
    listener: usize,
    life: Rc<Life>,
) -> Option<Admitted<'_>> {
    let started = std::time::Instant::now();
    let _ = stream.set_nodelay(true);
    let config = &snap.config;
    let lcfg = &config.listeners[listener];
    let lname = &lcfg.name;
    let core_id = core.id;
    // Behind a balancer, the PROXY header says who the client is: that address is
    // what the logs, the failed-auth throttle and the broker's header see.
    let timeout = config.limits.connect_timeout;
    let (peer, local, balancer_cn) = match balanced_peer(lcfg, timeout, &mut stream, socket_peer).await {
        Ok(x) => x,
        Err(why) => {
            core.metrics.refused(Refusal::ProxyHeader);
            core.open(life.clone()).release();
            info!(peer = %socket_peer, listener = %lname, %why, "closed: no valid PROXY protocol header");
            return None;
        }
    };
    // Counted as connecting until admitted or refused (`limits.max_connecting`).
    let connecting = core.gate.connecting();
    match peer == socket_peer {
        true => info!(%peer, listener = %lname, core = core_id, "connection opened"),
        false => info!(%peer, via = %socket_peer, listener = %lname, core = core_id, "connection opened"),
    }
    let (stream, cert_name, sni) = match handshakes(lcfg, timeout, stream).await {
        Ok(s) => {
            let (name, sni) = (s.peer_common_name().or(balancer_cn), s.server_name());
            (s, name, sni)
        }
        Err((refusal, why)) => {
            core.metrics.refused(refusal);
            core.open(life.clone()).release();
            match refusal {
                Refusal::TlsHandshake => {
                    info!(%peer, listener = %lname, %why, "closed: TLS handshake failed")
                }
                _ => info!(%peer, listener = %lname, %why, "closed: no WebSocket upgrade"),
            }
            return None;
        }
    };
    let mut client = Shared::new(stream);
    // Declared after `client`, so it is dropped first on every return path.
    let open = core.open(life);
    let limits = &config.limits;

    let mut cbuf = BytesMut::new();
    let first = future::or(async { read_connect(&mut client, &mut cbuf, core, limits).await }, async {
        glommio::timer::sleep(limits.connect_timeout).await;
        Err(Early::Timeout)
    })
    .await;
    let frame = match first {
        // The CONNECT (and what is decoded from it, kept for the whole session) gets
        // an allocation of its own, so it does not keep the read buffer it came in.
        Ok(f) => match Frame::from_bytes(bytes::Bytes::copy_from_slice(f.raw()), usize::MAX) {
            Ok(own) => own,
            Err(_) => f,
        },
        Err(Early::Timeout) => {
            core.metrics.refused(Refusal::ConnectTimeout);
            {
                info!(%peer, listener = %lname, "closed: no CONNECT within the connect timeout");
                return None;
            }
        }
        Err(Early::Gone(why)) => {
            debug!(%peer, listener = %lname, %why, "closed before CONNECT");
            return None;
        }
        Err(Early::Refused(why)) => {
            core.metrics.refused(Refusal::BadConnect);
            {
                info!(%peer, listener = %lname, %why, "closed: bad first packet");
                return None;
            }
        }
    };
    let connect = match mqtt::decode(&frame, Protocol::V5) {
        Ok(Packet::Connect(c)) => c,
        Ok(_) => return None,
        Err(e) => {
            let level = frame.connect_level();
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
            return None;
        }
    };
    let protocol = connect.protocol;
    let mut client_id = connect.client_id.to_string();

    // Admission limits, before anything costly (the guard, the upstream connect).
    let (ip_slot, over) = admission_limits(core, &snap, listener, peer, &connecting);
    if let Some((limit, reason)) = over {
        info!(%peer, listener = %lname, client_id, limit = %limit.label(), "refused: admission limit");
        core.metrics.limit_hit(limit);
        send(&mut client, &Packet::ConnAck(ConnAck::new(reason, false)), protocol).await;
        return None;
    }

    // The guard, if any: authenticate, then forward a CONNECT without the token.
    let auth = authenticate(core, &snap, &mut client, lcfg, &connect, &frame, peer).await?;
    let Authenticated { forward, mut identity, reauth_method } = auth;
    let token_expires = identity.as_ref().map(|i| i.expires_at);
    // Without a guard, a verified client certificate names the session (`{sub}`).
    if identity.is_none() {
        identity = cert_name.map(|cn| {
            let claims = [("cn".to_string(), serde_json::Value::String(cn.clone()))].into_iter().collect();
            Rc::new(Identity { subject: cn, roles: Vec::new(), expires_at: u64::MAX, claims })
        });
    }

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
                    return None;
                }
            }
        }
    };

    // The route: upstream group, mount point, client-id prefix, tenant.
    let mut routed = match routing::route(
        config,
        &core.tenants,
        listener,
        (sni.as_deref(), peer.ip()),
        &connect,
        forward,
        identity.as_deref(),
    ) {
        Ok(r) => r,
        Err(why) => {
            info!(%peer, client_id, reason = ?why, "refused: no route");
            core.metrics.refused(Refusal::Unroutable);
            send(&mut client, &Packet::ConnAck(ConnAck::new(why.reason(), false)), protocol).await;
            return None;
        }
    };
    let tenant_slot = routed.slot.take();
    // A made-up client id names the session from here on (logs, server placement).
    if let Some(id) = &routed.assigned_client_id {
        client_id = id.clone();
    }
    let upstream_cfg = &config.upstreams[routed.route.upstream];
    let (upstream, server) =
        match open_upstream(upstream_cfg, &routed.forward, &client_id, (peer, local)).await {
            Ok(x) => x,
            Err(why) => {
                info!(%peer, client_id, upstream = %upstream_cfg.name, %why, "refused: upstream unavailable");
                core.metrics.refused(Refusal::UpstreamUnavailable);
                let refusal = ConnAck::new(ReasonCode::ServerUnavailable, false);
                send(&mut client, &Packet::ConnAck(refusal), protocol).await;
                return None;
            }
        };
    info!(
        %peer,
        client_id,
        upstream = %upstream_cfg.name,
        %server,
        links = routed.route.upstreams.len(),
        mount = routed.route.mount.as_deref().unwrap_or(""),
        "session routed"
    );
    core.metrics.admission.observe(started.elapsed());
    let hello = Hello::of(&connect, routed.forward.len());
    let server = server.to_string();
    // A single-broker session is done with the CONNECT bytes (they were sent).
    if routed.multi.is_none() {
        routed.forward = bytes::Bytes::new();
    }
    Some(Admitted {
        open,
        snap,
        peer,
        local,
        listener,
        client,
        cbuf,
        connect: hello,
        client_id,
        identity,
        token_expires,
        reauth_method,
        authorizer,
        sni,
        routed,
        tenant_slot,
        ip_slot,
        upstream,
        server,
    })
}
