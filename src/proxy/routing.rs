//! A session's route at CONNECT: which upstream group, under which mount point and
//! client-id prefix, counted against which tenant; and the CONNECT the broker gets
//! (client id prefixed, will topic mounted). The rules are in [`crate::route`];
//! this is their use by the connection driver.

use super::tenants::{Slot, Tenants};
use crate::auth::Identity;
use crate::config::Config;
use crate::mqtt::{Connect, MqttStr, Packet, ReasonCode};
use crate::route::{Facts, SessionRoute};
use crate::session::mount::Mount;
use bytes::Bytes;

/// A routed session.
#[derive(Debug)]
pub struct Routed {
    /// The route.
    pub route: SessionRoute,
    /// The CONNECT to send to the session's broker.
    pub forward: Bytes,
    /// The tenant's place (released when the session ends).
    pub slot: Option<Slot>,
    /// With several upstreams: the CONNECTs of the other links.
    pub multi: Option<Multi>,
}

/// The CONNECTs of a multi-broker session's other links.
#[derive(Debug, Clone)]
pub struct Multi {
    /// For every secondary link: no will, no topic aliases.
    pub connect: Bytes,
    /// The link whose broker holds the will, and its CONNECT (with the will).
    pub will: Option<(usize, Bytes)>,
}

/// Why a CONNECT cannot be routed (each answered with a CONNACK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unroutable {
    /// A template of the route names a claim the token does not carry.
    MissingClaim,
    /// The tenant has `max_connections` already.
    TenantFull(String),
    /// The rewritten CONNECT is not valid (e.g. a client id over 65,535 bytes).
    TooLong,
}

impl Unroutable {
    /// The CONNACK reason (3.1.1 maps it to its return codes).
    pub fn reason(&self) -> ReasonCode {
        match self {
            Unroutable::MissingClaim => ReasonCode::NotAuthorized,
            Unroutable::TenantFull(_) => ReasonCode::QuotaExceeded,
            Unroutable::TooLong => ReasonCode::ClientIdentifierNotValid,
        }
    }
}

/// Routes a session; `forward` is the CONNECT as it would go to a single broker.
pub fn route(
    config: &Config,
    tenants: &Tenants,
    listener: usize,
    sni: Option<&str>,
    connect: &Connect,
    forward: Bytes,
    identity: Option<&Identity>,
) -> Result<Routed, Unroutable> {
    let facts = Facts { listener, client_id: &connect.client_id, sni, identity };
    let default = config.listeners[listener].upstream;
    let route = config.routes.session(&facts, default).ok_or(Unroutable::MissingClaim)?;
    let slot = match &route.tenant {
        Some((name, max)) => {
            Some(tenants.acquire(name, *max).ok_or_else(|| Unroutable::TenantFull(name.clone()))?)
        }
        None => None,
    };
    let multi = route.upstreams.len() > 1;
    let forward = match (&route.client_id_prefix, &route.mount, multi) {
        (None, None, false) => forward,
        (prefix, mount, _) => {
            let Ok(Packet::Connect(mut c)) = crate::mqtt::decode_bytes(forward, connect.protocol, usize::MAX)
            else {
                return Err(Unroutable::TooLong);
            };
            if let Some(p) = prefix {
                c.client_id =
                    MqttStr::try_from(format!("{p}{}", c.client_id)).map_err(|_| Unroutable::TooLong)?;
            }
            if let (Some(m), Some(w)) = (mount, c.will.as_mut()) {
                w.topic =
                    MqttStr::try_from(Mount(m.clone()).outward(&w.topic)).map_err(|_| Unroutable::TooLong)?;
            }
            if multi {
                // An alias would be known to one link only: none on such sessions.
                c.properties.topic_alias_maximum = None;
                return split(config, &facts, route, *c, connect.protocol, slot);
            }
            Packet::Connect(c).to_bytes(connect.protocol).map_err(|_| Unroutable::TooLong)?
        }
    };
    Ok(Routed { route, forward, slot, multi: None })
}

/// The CONNECTs of a multi-broker session: the will goes to the broker its topic
/// routes to, every other link connects without it.
fn split(
    config: &Config,
    facts: &Facts<'_>,
    route: SessionRoute,
    c: Connect,
    v: crate::mqtt::Protocol,
    slot: Option<Slot>,
) -> Result<Routed, Unroutable> {
    let encode =
        |c: &Connect| Packet::Connect(Box::new(c.clone())).to_bytes(v).map_err(|_| Unroutable::TooLong);
    let will_link = c.will.as_ref().map(|w| {
        let topic = match &route.mount {
            Some(m) => w.topic.strip_prefix(m.as_str()).unwrap_or(&w.topic),
            None => &w.topic,
        };
        config
            .routes
            .publish(facts, topic)
            .and_then(|u| route.upstreams.iter().position(|&x| x == u))
            .unwrap_or(0)
    });
    let mut bare = c.clone();
    bare.will = None;
    let connect = encode(&bare)?;
    let (forward, will) = match will_link {
        Some(k) if k > 0 => (connect.clone(), Some((k, encode(&c)?))),
        _ => (encode(&c)?, None),
    };
    Ok(Routed { route, forward, slot, multi: Some(Multi { connect, will }) })
}
