//! One admitted client session, on the core that accepted it: the session (pure, in
//! [`crate::session`]) driven by the single-broker relay or the multi-broker
//! driver until one side ends, the token expires, the client falls silent or the
//! core shuts down; then the goodbye (a 5.0 client is told why; the upstream is
//! closed without DISCONNECT unless the client said goodbye, so the broker
//! publishes the will exactly when it would), the counts and one log line.
//!
//! Phases: [`serve`] = [`admit`] (`admit.rs`) → [`hop`] → [`finish`].

use super::admit::{admit, Admitted, Hello};
use super::goodbye::send;
use super::io::ReadSize;
use super::keepalive::Watchdog;
use super::listeners::Life;
use super::multi::{self, SessionRouter};
use super::notify::Notify;
use super::relay::{Dir, Pump};
use super::routing::{Multi, Routed};
use super::session_io::SessionIo;
use super::stats::Counters;
use super::writer::Writer;
use super::{unix_now, Core, Snapshot};
use crate::auth::AuthError;
use crate::config::Config;
use crate::mqtt::{ConnAck, Disconnect, Packet, ReasonCode};
use crate::route::Facts;
use crate::session::close::{Close, Side};
use crate::session::multi::Setup;
use crate::session::{Rejection, Session};
use bytes::BytesMut;
use futures_lite::future;
use glommio::net::TcpStream;
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// Longest single sleep towards a token's expiry, seconds.
const MAX_DEADLINE_SLEEP: u64 = 86_400;

/// Serves one accepted client until it is closed.
pub async fn serve(
    core: Rc<Core>,
    snap: Arc<Snapshot>,
    stream: TcpStream,
    peer: SocketAddr,
    listener: usize,
    life: Rc<Life>,
) {
    let _ = stream.set_nodelay(true);
    // Admission (TLS, guard, upstream connect) and the goodbye are boxed: their
    // states are large and short-lived, and inline they would size the task that
    // every idle connection keeps for its whole life (`footprint.rs`).
    let admission = admit(&core, snap, stream, peer, listener, life);
    let Some(mut admitted) = Box::pin(admission).await else {
        core.metrics.connects_refused.add(1);
        return;
    };
    let ended = hop(&core, &mut admitted).await;
    Box::pin(finish(&core, admitted, ended)).await;
}

/// How a session ended, and what the goodbye needs to know.
struct Ended {
    close: Close,
    /// The session (CONNACK seen? ACL counts).
    session: Session,
    /// Traffic each way.
    up: Counters,
    down: Counters,
    /// A write to the client was cut off half-way (no goodbye may follow it).
    client_busy: bool,
}

/// Runs the session until it ends.
async fn hop(core: &Core, a: &mut Admitted<'_>) -> Ended {
    let snap = a.snap.clone();
    let config = &snap.config;
    let limits = &config.limits;
    let (peer, listener) = (a.peer, a.listener);
    let local = &a.local;
    let lcfg = &config.listeners[listener];
    let connect = &a.connect;
    let protocol = connect.protocol;
    let client_id = a.client_id.as_str();
    let routed = &a.routed;
    let (client, upstream) = (&a.client, &a.upstream);
    let identity = a.identity.as_deref();
    let sni = a.sni.as_deref();
    let deadline = Cell::new(a.token_expires);
    let deadline_moved = Notify::default();
    let mut cbuf = std::mem::take(&mut a.cbuf);
    let mut session = Session::new(protocol, connect.keep_alive, limits.keep_alive_max);
    // The ACL's authorizer, or one that allows everything when only the subscription
    // quota needs counting.
    let quota = limits.max_subscriptions_per_session;
    let authorizer = a.authorizer.take().or_else(|| {
        quota.map(|_| crate::session::authorize::Authorizer::new(Default::default(), Default::default()))
    });
    if let Some(au) = authorizer {
        session = session.with_authorizer(au.with_subscription_limit(quota));
    }
    if let Some(m) = a.reauth_method.take() {
        session = session.with_auth_method(m);
    }
    session = session
        .with_schemas(&config.schemas)
        .with_mount(routed.route.mount.clone())
        .with_max_packet_size(limits.max_packet_size)
        .with_session_expiry_cap(connect.session_expiry_interval, limits.session_expiry_max)
        .with_topic_alias_cap(limits.topic_alias_maximum)
        .with_assigned_client_id(routed.assigned_client_id.as_deref());
    if routed.multi.is_some() {
        session = session.without_topic_aliases();
    }
    // Payload rejections: counted always, logged at most once a second per rule.
    let rejected = |r: &Rejection| {
        if let Some(&Some(label)) = snap.schema_labels.get(r.rule) {
            core.metrics.schema_rejected(label, r.dir, r.invalid.reason);
        }
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
        let mut cache = core.tokens_for(&snap);
        let id = guard.0.verify(token, &lcfg.scopes, unix_now(), cache.as_deref_mut().map(|c| (c, guard.1)));
        drop(cache);
        // The token must name the identity the session was admitted (and shaped) as.
        let id = id.and_then(|id| match identity {
            Some(was) if !was.same_as(&id, &config.identity_claims(listener)) => {
                Err(AuthError::ReauthIdentity)
            }
            _ => Ok(id),
        });
        match id {
            Ok(id) => {
                info!(%peer, client_id, subject = %id.subject, "re-authenticated");
                // The new token's expiry, earlier or later; the deadline task looks again.
                deadline.set(Some(id.expires_at));
                deadline_moved.notify();
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
    up.bytes.set(connect.forwarded as u64);
    up.packets.set(1);
    core.metrics.bytes_up.add(connect.forwarded as u64);
    core.metrics.packets.add(true, 0x10, connect.forwarded);
    let client_writer = Writer::new(Some(client.clone()), true);
    let upstream_writer = Writer::new(Some(upstream.clone()), session.answers_upstream());
    let watchdog = Watchdog::default();
    // Boxed: most sessions have no publish rate, and every idle one keeps this task.
    let tenant_bucket = a.tenant_slot.as_ref().and_then(|s| s.bucket.clone());
    let pace = super::pace::Pace::new(limits.publish_rate.as_ref(), tenant_bucket).map(Box::new);
    let io = SessionIo {
        session: &session,
        max_packet_size: limits.max_packet_size,
        read_buffer: limits.read_buffer,
        scratch: &core.scratch,
        client: &client_writer,
        metrics: &core.metrics,
        watchdog: &watchdog,
        rejected: &rejected,
        reauth: &reauth,
        pace: pace.as_deref(),
    };
    let relay = async {
        match &routed.multi {
            None => {
                let pump = |dir, counters| Pump {
                    dir,
                    io: &io,
                    client_keep_alive: connect.keep_alive,
                    read_size: ReadSize::new(limits.read_buffer),
                    counters,
                    upstream: &upstream_writer,
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
                    config,
                    route: &routed.route,
                    facts: Facts {
                        listener,
                        client_id: &connect.client_id,
                        sni,
                        source: Some(peer.ip()),
                        identity,
                    },
                };
                let setup = multi_setup(config, routed, multi, connect);
                Box::pin(multi::run(multi::Args {
                    setup,
                    io: &io,
                    config,
                    route: &routed.route,
                    router: &router,
                    client_id,
                    origin: (peer, *local),
                    client: client.clone(),
                    cbuf: std::mem::take(&mut cbuf),
                    primary: upstream.clone(),
                    up: &up,
                    down: &down,
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
                    // The core's shutdown retires every listener at once.
                    a.open.life().retired.wait().await;
                    Close::Shutdown
                },
                watchdog.expired(&session.keep_alive, || session.connack_seen()),
            ),
            async {
                // Re-authentication may move the deadline while we sleep.
                while let Some(exp) = deadline.get() {
                    let now = unix_now();
                    if exp <= now {
                        return Close::TokenExpired;
                    }
                    // At most a day at a time: a token valid until the year 292 billion must not
                    // overflow the timer (the loop looks again).
                    let nap = glommio::timer::sleep(Duration::from_secs((exp - now).min(MAX_DEADLINE_SLEEP)));
                    future::or(nap, deadline_moved.changed()).await;
                }
                future::pending::<Close>().await
            },
        ),
    )
    .await;
    let client_busy = client_writer.busy();
    Ended { close, session, up, down, client_busy }
}

/// Says goodbye, counts the end and logs one line.
async fn finish(core: &Core, a: Admitted<'_>, e: Ended) {
    let Admitted {
        open,
        snap,
        peer,
        listener,
        mut client,
        upstream,
        client_id,
        connect,
        routed,
        tenant_slot,
        ip_slot,
        server,
        ..
    } = a;
    let Ended { close, session, up, down, client_busy } = e;
    let protocol = connect.protocol;
    let config = &snap.config;
    let lname = &config.listeners[listener].name;
    let upstream_cfg = &config.upstreams[routed.route.upstream];
    let core_id = core.id;

    if !session.connack_seen() {
        // No DISCONNECT before CONNACK [MQTT-3.14.0-1]: a broker lost before it
        // answered is, for the client, a broker that is unavailable.
        if close.side() == Side::Upstream && !client_busy {
            let refusal = ConnAck::new(ReasonCode::ServerUnavailable, false);
            send(&mut client, &Packet::ConnAck(refusal), protocol).await;
        }
    } else if let (true, Some(reason), false) = (protocol.is_v5(), close.client_reason(), client_busy) {
        send(&mut client, &Packet::Disconnect(Disconnect::new(reason)), protocol).await;
    }
    // A WebSocket client is told the connection ends with a close frame.
    if client.is_websocket() && !client_busy {
        let close = futures_lite::AsyncWriteExt::close(&mut client);
        future::or(async { close.await.is_ok() }, async {
            glommio::timer::sleep(Duration::from_secs(2)).await;
            false
        })
        .await;
    }
    // Dropping the upstream without DISCONNECT is what makes the broker publish the
    // will; only a client DISCONNECT (already forwarded) is a clean goodbye.
    drop(open);
    drop(upstream);
    drop(client);
    drop(tenant_slot);
    drop(ip_slot);
    core.metrics.closed(&close);
    // What was not reported yet (the rest was, as it happened).
    core.metrics.session_drops(session.take_drops());
    let (denied_publish, denied_subscribe) =
        session.authorizer.as_ref().map_or((0, 0), |a| (a.denied_publish.get(), a.denied_subscribe.get()));
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
fn multi_setup(config: &Config, routed: &Routed, multi: &Multi, connect: &Hello) -> Setup {
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
        receive_maximum: connect.receive_maximum.unwrap_or(u16::MAX),
        open_timeout,
    }
}
