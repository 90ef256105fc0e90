//! Authentication at CONNECT: the listener's guard (token, scopes, throttling,
//! cache), what the broker gets instead (credentials stripped or replaced by the
//! listener's upstream credentials), and the uniform refusal.

use super::goodbye::send;
use super::unix_now;
use super::{Core, Snapshot};
use crate::auth::acl::Context as AclContext;
use crate::auth::{AuthError, Found, Identity, Reject};
use crate::config::{Limits, Listener};
use crate::mqtt::{ConnAck, Connect, Frame, MqttStr, Packet, Protocol, ReasonCode};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;
use tracing::{info, warn};

use super::io::Shared;

/// What the guard established for a session.
pub(super) struct Authenticated {
    /// The CONNECT to send upstream (credentials removed when a guard read them).
    pub forward: bytes::Bytes,
    /// The verified identity, with a guard.
    pub identity: Option<Rc<Identity>>,
    /// The 5.0 Authentication Method, when the token came by enhanced authentication.
    pub reauth_method: Option<MqttStr>,
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

/// The CONNECT with (5.0) a Maximum Packet Size no larger than the proxy reads, so
/// the broker drops a delivery that large [MQTT-3.1.2-25] instead of sending one the
/// proxy must refuse (which would end the session, again on every reconnect), and a
/// Session Expiry Interval no longer than `limits.session_expiry_max` (the session
/// tells the client in CONNACK). `upstream`: the CONNECT as changed so far (`None`:
/// the client's own, `connect`).
fn with_limits(upstream: Option<Connect>, connect: &Connect, limits: &Limits) -> Option<Connect> {
    let max = u32::try_from(limits.max_packet_size).unwrap_or(u32::MAX);
    let props = &upstream.as_ref().unwrap_or(connect).properties;
    let packet_ok = props.maximum_packet_size.is_some_and(|a| a <= max);
    let expiry_ok = match (props.session_expiry_interval, limits.session_expiry_max) {
        (Some(a), Some(m)) => a <= m,
        _ => true,
    };
    if connect.protocol != Protocol::V5 || packet_ok && expiry_ok {
        return upstream;
    }
    let mut c = upstream.unwrap_or_else(|| connect.clone());
    c.properties.maximum_packet_size = Some(max);
    if !expiry_ok {
        c.properties.session_expiry_interval = limits.session_expiry_max;
    }
    Some(c)
}

/// Runs the listener's guard; `None` when the client was refused (already answered).
pub(super) async fn authenticate(
    core: &Core,
    snap: &Arc<Snapshot>,
    client: &mut Shared,
    lcfg: &Listener,
    connect: &Connect,
    frame: &Frame,
    peer: SocketAddr,
) -> Option<Authenticated> {
    let config = &snap.config;
    let limits = &config.limits;
    let Some(gi) = lcfg.guard else {
        let upstream = with_upstream_credentials(connect.clone(), lcfg, None);
        let forward = match with_limits(upstream, connect, limits) {
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
        let mut cache = core.tokens_for(snap);
        let hits = cache.as_ref().map_or(0, |c| c.hits);
        let r = guard.check(connect, &lcfg.scopes, unix_now(), cache.as_deref_mut().map(|c| (c, gi)));
        core.metrics.token_cache_hits.add(cache.as_ref().map_or(0, |c| c.hits) - hits);
        drop(cache);
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
            let upstream = with_limits(None, &upstream, limits).unwrap_or(upstream);
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
