//! One client connection, from accept to close, on the core that accepted it.
//!
//! Steps: TLS handshake on TLS listeners; read CONNECT within the connect timeout;
//! answer malformed or unsupported CONNECTs the way the client's version expects;
//! run the listener's guard (`authenticate.rs`; refusals all look alike); expand the
//! session's topic ACL; open the upstream and forward the CONNECT (`streams.rs`;
//! without the client's credentials when a guard read them); relay both directions
//! until one ends, the token expires, or the core shuts down; tell a 5.0 client why,
//! close the upstream without DISCONNECT unless the client said goodbye; log one
//! line and count the end.

use super::authenticate::{authenticate, Authenticated};
use super::io::{read_into, ReadSize, Shared, MIN_READ};
use super::keepalive::Watchdog;
use super::multi::{self, SessionRouter};
use super::relay::{Dir, Pump};
use super::routing;
use super::routing::{Multi, Routed};
use super::stats::Counters;
use super::streams::{accept_tls, open_upstream};
use super::writer::Writer;
use super::Core;
use crate::auth::acl::Context as AclContext;
use crate::auth::Identity;
use crate::auth::{AuthError, Reject};
use crate::config::Config;
use crate::metrics::Refusal;
use crate::mqtt::Connect;
use crate::mqtt::{self, ConnAck, Disconnect, Frame, Packet, Protocol, ReasonCode};
use crate::route::Facts;
use crate::session::authorize::Authorizer;
use crate::session::close::{Close, Side};
use crate::session::multi::Setup;
use crate::session::{Rejection, Session};
use bytes::BytesMut;
use futures_lite::{future, AsyncWriteExt};
use glommio::net::TcpStream;
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;
use tracing::{debug, info};

/// How long a goodbye packet (CONNACK refusal, DISCONNECT) may take to write.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

/// Seconds since the Unix epoch (token lifetimes are in these).
pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Writes one packet the proxy itself answers with, giving up after a short time.
pub(super) async fn send(stream: &mut Shared, packet: &Packet, protocol: Protocol) {
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
        let size = MIN_READ.max(buf.len()).min(limits.read_buffer);
        match read_into(client, buf, size).await {
            Ok(0) => return Err(Early::Gone("closed before CONNECT".into())),
            Ok(_) => {}
            Err(e) => return Err(Early::Gone(e.to_string())),
        }
    }
}

/// Serves one accepted client until it is closed.
pub async fn serve(core: Rc<Core>, stream: TcpStream, peer: SocketAddr, listener: usize) {
    let _ = stream.set_nodelay(true);
    let config = core.config.clone();
    let lname = &config.listeners[listener].name;
    let core_id = core.id;
    info!(%peer, listener = %lname, core = core_id, "connection opened");
    let (stream, cert_name, sni) = match accept_tls(stream, config.listeners[listener].tls.as_ref()).await {
        Ok(s) => {
            let (name, sni) = (s.peer_common_name(), s.server_name());
            (s, name, sni)
        }
        Err(why) => {
            core.metrics.refused(Refusal::TlsHandshake);
            core.open().release();
            return info!(%peer, listener = %lname, %why, "closed: TLS handshake failed");
        }
    };
    let mut client = Shared::new(stream);
    // Declared after `client`, so it is dropped first on every return path.
    let open = core.open();
    let limits = &config.limits;

    let mut cbuf = BytesMut::new();
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
            return;
        }
    };
    let protocol = connect.protocol;
    let client_id = connect.client_id.to_string();

    // The guard, if any: authenticate, then forward a CONNECT without the token.
    let lcfg = &config.listeners[listener];
    let Some(auth) = authenticate(&core, &mut client, lcfg, &connect, &frame, peer).await else { return };
    let Authenticated { forward, mut identity, reauth_method } = auth;
    let deadline = Cell::new(identity.as_ref().map(|i| i.expires_at));
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
                    return;
                }
            }
        }
    };

    // The route: upstream group, mount point, client-id prefix, tenant.
    let mut routed = match routing::route(
        &config,
        &core.tenants,
        listener,
        sni.as_deref(),
        &connect,
        forward,
        identity.as_deref(),
    ) {
        Ok(r) => r,
        Err(why) => {
            info!(%peer, client_id, reason = ?why, "refused: no route");
            core.metrics.refused(Refusal::Unroutable);
            send(&mut client, &Packet::ConnAck(ConnAck::new(why.reason(), false)), protocol).await;
            return;
        }
    };
    let _tenant_slot = routed.slot.take();
    let upstream_cfg = &config.upstreams[routed.route.upstream];
    let (upstream, server) = match open_upstream(upstream_cfg, &routed.forward, &client_id).await {
        Ok(x) => x,
        Err(why) => {
            info!(%peer, client_id, upstream = %upstream_cfg.name, %why, "refused: upstream unavailable");
            core.metrics.refused(Refusal::UpstreamUnavailable);
            let refusal = ConnAck::new(ReasonCode::ServerUnavailable, false);
            send(&mut client, &Packet::ConnAck(refusal), protocol).await;
            return;
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

    let mut session = Session::new(protocol, connect.keep_alive, limits.keep_alive_max);
    if let Some(a) = authorizer {
        session = session.with_authorizer(a);
    }
    if let Some(m) = reauth_method {
        session = session.with_auth_method(m);
    }
    session = session.with_schemas(&config.schemas).with_mount(routed.route.mount.clone());
    if routed.multi.is_some() {
        session = session.without_topic_aliases();
    }
    // Payload rejections: counted always, logged at most once a second per rule.
    let rejected = |r: &Rejection| {
        core.metrics.schema_rejected(r.rule, r.dir, r.invalid.reason);
        if let Some(held_back) = core.schema_log.allow((r.rule, r.dir as u8), std::time::Instant::now()) {
            let filter = &config.schemas.rules[r.rule].filter;
            info!(
                %peer,
                client_id,
                topic = %r.topic,
                rule = %filter,
                direction = r.dir.label(),
                reason = r.invalid.reason.label(),
                error = %r.invalid.detail,
                held_back,
                "payload refused"
            );
        }
    };
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
    up.bytes.set(routed.forward.len() as u64);
    up.packets.set(1);
    core.metrics.bytes_up.add(routed.forward.len() as u64);
    core.metrics.packets_up.add(1);
    let client_writer = Writer::new(Some(client.clone()), true);
    let upstream_writer = Writer::new(Some(upstream.clone()), session.answers_upstream());
    let watchdog = Watchdog::default();
    let relay = async {
        match &routed.multi {
            None => {
                let pump = |dir, counters| Pump {
                    dir,
                    session: &session,
                    client_keep_alive: connect.keep_alive,
                    max_packet_size: limits.max_packet_size,
                    read_size: ReadSize::new(limits.read_buffer),
                    counters,
                    metrics: &core.metrics,
                    client: &client_writer,
                    upstream: &upstream_writer,
                    reauth: &reauth,
                    rejected: &rejected,
                    watchdog: &watchdog,
                };
                let (c2u, u2c) = (pump(Dir::Up, &up), pump(Dir::Down, &down));
                let (mut from_client, mut from_upstream) = (client.clone(), upstream.clone());
                let mut ubuf = BytesMut::new();
                future::or(c2u.run(&mut from_client, &mut cbuf), u2c.run(&mut from_upstream, &mut ubuf)).await
            }
            // Boxed: the multi-broker driver is large and most sessions never use
            // it; inline it would grow every connection's task.
            Some(multi) => {
                let router = SessionRouter {
                    config: &config,
                    route: &routed.route,
                    facts: Facts {
                        listener,
                        client_id: &connect.client_id,
                        sni: sni.as_deref(),
                        identity: identity.as_deref(),
                    },
                };
                let setup = multi_setup(&config, &routed, multi, &connect);
                Box::pin(multi::run(multi::Args {
                    setup,
                    config: &config,
                    route: &routed.route,
                    router: &router,
                    client_id: &client_id,
                    session: &session,
                    client: client.clone(),
                    cbuf: std::mem::take(&mut cbuf),
                    client_writer: &client_writer,
                    primary: upstream.clone(),
                    max_packet_size: limits.max_packet_size,
                    read_size: limits.read_buffer,
                    metrics: &core.metrics,
                    up: &up,
                    down: &down,
                    rejected: &rejected,
                    reauth: &reauth,
                    watchdog: &watchdog,
                }))
                .await
            }
        }
    };
    let close = future::or(
        relay,
        future::or(
            future::or(
                async {
                    core.shutdown.wait().await;
                    Close::Shutdown
                },
                watchdog.expired(&session.keep_alive),
            ),
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
    drop(upstream_writer);

    if !session.connack_seen() {
        // No DISCONNECT before CONNACK [MQTT-3.14.0-1]: a broker lost before it
        // answered is, for the client, a broker that is unavailable.
        if close.side() == Side::Upstream && !client_writer.busy() {
            let refusal = ConnAck::new(ReasonCode::ServerUnavailable, false);
            send(&mut client, &Packet::ConnAck(refusal), protocol).await;
        }
    } else if let (true, Some(reason), false) =
        (protocol.is_v5(), close.client_reason(), client_writer.busy())
    {
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

/// How a session over several brokers starts: link 0 got `routed.forward` (with the
/// will when its broker holds it), the will's link gets the will, the others a
/// CONNECT without it. The will's broker opens at once; so does every link of a
/// persistent session (its state on any broker must reach the client).
fn multi_setup(config: &Config, routed: &Routed, multi: &Multi, connect: &Connect) -> Setup {
    let links = routed.route.upstreams.len();
    let will_link = multi.will.as_ref().map(|(k, _)| *k);
    let connects = (0..links)
        .map(|k| match &multi.will {
            _ if k == 0 => routed.forward.clone(),
            Some((w, c)) if *w == k => c.clone(),
            _ => multi.connect.clone(),
        })
        .collect();
    let open_at_connect = match connect.clean_start {
        false => (1..links).collect(),
        true => will_link.into_iter().collect(),
    };
    let open_timeout = routed
        .route
        .upstreams
        .iter()
        .map(|&u| config.upstreams[u].connect_timeout * 2)
        .max()
        .unwrap_or_default();
    Setup {
        protocol: connect.protocol,
        connects,
        open_at_connect,
        will_link,
        keep_alive: connect.keep_alive,
        receive_maximum: connect.properties.receive_maximum.unwrap_or(u16::MAX),
        open_timeout,
    }
}
