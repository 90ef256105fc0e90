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
    /// The client id the proxy made up for a client that sent none, under a route
    /// with a client-id prefix (the broker gets prefix + this; a 5.0 client gets
    /// this as Assigned Client Identifier) [MQTT-3.2.2-16].
    pub assigned_client_id: Option<String>,
}

/// A fresh client id: 20 hex digits (80 random bits) from the system's generator.
fn generated_client_id() -> Result<String, Unroutable> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 10];
    ring::rand::SystemRandom::new().fill(&mut b).map_err(|_| Unroutable::NoRandom)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
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
    /// No client id could be generated (the system's random source failed).
    NoRandom,
}

impl Unroutable {
    /// The CONNACK reason (3.1.1 maps it to its return codes).
    pub fn reason(&self) -> ReasonCode {
        match self {
            Unroutable::MissingClaim => ReasonCode::NotAuthorized,
            Unroutable::TenantFull(_) => ReasonCode::QuotaExceeded,
            Unroutable::TooLong => ReasonCode::ClientIdentifierNotValid,
            Unroutable::NoRandom => ReasonCode::ServerUnavailable,
        }
    }
}

/// Routes a session; `forward` is the CONNECT as it would go to a single broker.
pub fn route(
    config: &Config,
    tenants: &Tenants,
    listener: usize,
    (sni, source): (Option<&str>, std::net::IpAddr),
    connect: &Connect,
    forward: Bytes,
    identity: Option<&Identity>,
) -> Result<Routed, Unroutable> {
    let facts = Facts { listener, client_id: &connect.client_id, sni, source: Some(source), identity };
    let default = config.listeners[listener].upstream;
    let route = config.routes.session(&facts, default).ok_or(Unroutable::MissingClaim)?;
    let slot = match &route.tenant {
        Some((name, max)) => {
            let slot = tenants.acquire(name, *max, config.routes.tenant_rate(route.rule));
            Some(slot.ok_or_else(|| Unroutable::TenantFull(name.clone()))?)
        }
        None => None,
    };
    let multi = route.upstreams.len() > 1;
    // Without an id of its own, a prefixed client would share the broker id `prefix`
    // with every other such client of its tenant: it gets one of its own.
    let assigned_client_id = match (&route.client_id_prefix, connect.client_id.is_empty()) {
        (Some(_), true) => Some(generated_client_id()?),
        _ => None,
    };
    let forward = match (&route.client_id_prefix, &route.mount, multi) {
        (None, None, false) => forward,
        (prefix, mount, _) => {
            let Ok(Packet::Connect(mut c)) = crate::mqtt::decode_bytes(forward, connect.protocol, usize::MAX)
            else {
                return Err(Unroutable::TooLong);
            };
            if let Some(p) = prefix {
                let id = assigned_client_id.as_deref().unwrap_or(&c.client_id);
                c.client_id = MqttStr::try_from(format!("{p}{id}")).map_err(|_| Unroutable::TooLong)?;
            }
            if let (Some(m), Some(w)) = (mount, c.will.as_mut()) {
                w.topic =
                    MqttStr::try_from(Mount(m.clone()).outward(&w.topic)).map_err(|_| Unroutable::TooLong)?;
            }
            if multi {
                // An alias would be known to one link only: none on such sessions.
                c.properties.topic_alias_maximum = None;
                let mut routed = split(config, &facts, route, *c, connect.protocol, slot)?;
                routed.assigned_client_id = assigned_client_id;
                return Ok(routed);
            }
            Packet::Connect(c).to_bytes(connect.protocol).map_err(|_| Unroutable::TooLong)?
        }
    };
    Ok(Routed { route, forward, slot, multi: None, assigned_client_id })
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
    Ok(Routed { route, forward, slot, multi: Some(Multi { connect, will }), assigned_client_id: None })
}
