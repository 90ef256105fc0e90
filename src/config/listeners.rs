//! One `listeners[]` entry validated: its address, upstream and guard references,
//! ACL templates, PROXY protocol settings, TLS, connect rate and WebSocket path.
//! Duplicate names are checked by the caller; nothing here binds a socket.

use super::raw::{RawAcl, RawAclEntry, RawListener};
use super::{invalid, rates, tls, ConfigError, Listener, Secret, Upstream};
use serde_saphyr::Spanned;
use std::net::SocketAddr;
use std::path::Path;

/// The listener at index `i` of the config, given the upstreams and guards validated before it.
pub(super) fn validate(
    i: usize,
    l: &RawListener,
    upstreams: &[Upstream],
    guards: &[crate::auth::Guard],
    base: Option<&Path>,
) -> Result<Listener, ConfigError> {
    let bind: SocketAddr = l.bind.value.parse().map_err(|_| {
        invalid(&l.bind, format!("listeners[{i}].bind"), format!("`{}` is not an ip:port", l.bind.value))
    })?;
    let upstream = upstreams.iter().position(|u| u.name == l.upstream.value).ok_or_else(|| {
        invalid(
            &l.upstream,
            format!("listeners[{i}].upstream"),
            format!("no upstream named `{}`", l.upstream.value),
        )
    })?;
    let guard = match &l.guard {
        None => None,
        Some(g) => Some(guards.iter().position(|x| x.name == g.value).ok_or_else(|| {
            invalid(g, format!("listeners[{i}].guard"), format!("no guard named `{}`", g.value))
        })?),
    };
    if guard.is_none() && !l.scopes.is_empty() {
        return Err(invalid(&l.name, format!("listeners[{i}].scopes"), "scopes need a `guard`"));
    }
    // Token or client-certificate placeholders need something that names the client.
    let has_identity = guard.is_some()
        || l.tls.as_ref().is_some_and(|t| t.client_auth.is_some())
        || l.proxy_protocol_tls_identity;
    let acl = match &l.acl {
        Some(a) => Some(acl_config(i, a, has_identity)?),
        None => None,
    };
    let (proxy_protocol, proxy_protocol_tls_identity) = proxy_protocol(i, l)?;
    let upstream_username = match &l.upstream_username {
        Some(t) => Some(
            crate::auth::Template::parse_text(&t.value, guard.is_some())
                .map_err(|e| invalid(t, format!("listeners[{i}].upstream_username"), e.to_string()))?,
        ),
        None => None,
    };
    Ok(Listener {
        name: l.name.value.clone(),
        bind,
        upstream,
        guard,
        scopes: l.scopes.clone(),
        acl,
        upstream_username,
        upstream_password: l.upstream_password.clone().map(Secret),
        tls: match &l.tls {
            Some(t) => Some(tls::server(t, base, l.name.referenced.line(), &format!("listeners[{i}].tls"))?),
            None => None,
        },
        proxy_protocol,
        proxy_protocol_tls_identity,
        connect_rate: l
            .connect_rate
            .as_ref()
            .map(|r| rates::rate(r, &format!("listeners[{i}].connect_rate")))
            .transpose()?,
        websocket_path: match &l.websocket {
            None => None,
            Some(ws) => Some(match &ws.path {
                None => "/mqtt".to_string(),
                Some(p) if p.value.starts_with('/') && !p.value.contains(['?', '#', ' ']) => p.value.clone(),
                Some(p) => {
                    let key = format!("listeners[{i}].websocket.path");
                    return Err(invalid(p, key, format!("`{}`: an absolute path, e.g. /mqtt", p.value)));
                }
            }),
        },
    })
}

/// A listener's PROXY protocol settings: the accepted version, and whether the v2
/// SSL TLV's common name may name the client (only without TLS here: TLS ends at
/// the balancer or at this listener, not both).
fn proxy_protocol(
    i: usize,
    l: &RawListener,
) -> Result<(Option<crate::proxy_protocol::Accept>, bool), ConfigError> {
    use crate::proxy_protocol::Accept;
    let accept = match &l.proxy_protocol {
        None => None,
        Some(v) => Some(Accept::parse(&v.value).ok_or_else(|| {
            invalid(v, format!("listeners[{i}].proxy_protocol"), format!("`{}`: use v1, v2 or any", v.value))
        })?),
    };
    if l.proxy_protocol_tls_identity {
        let key = format!("listeners[{i}].proxy_protocol_tls_identity");
        if !matches!(accept, Some(Accept::V2 | Accept::Any)) {
            return Err(invalid(&l.name, key, "needs `proxy_protocol: v2` (the SSL TLV is v2 only)"));
        }
        if l.tls.is_some() {
            return Err(invalid(&l.name, key, "TLS ends at the balancer or at this listener, not both"));
        }
    }
    Ok((accept, l.proxy_protocol_tls_identity))
}

fn acl_config(i: usize, a: &RawAcl, has_guard: bool) -> Result<crate::auth::AclConfig, ConfigError> {
    use crate::auth::{Entry, Template, V3Denied};
    type Raw = Option<Vec<Spanned<RawAclEntry>>>;
    let list = |what: &str, v: &Raw| -> Result<Option<Vec<Entry>>, ConfigError> {
        let Some(v) = v else { return Ok(None) };
        let parsed = v.iter().enumerate().map(|(j, t)| {
            let key = format!("listeners[{i}].acl.{what}[{j}]");
            if !t.value.scopes.is_empty() && !has_guard {
                return Err(invalid(t, key, "scopes need a `guard`"));
            }
            let filter = Template::parse(&t.value.filter, has_guard)
                .map_err(|e| invalid(t, key.clone(), e.to_string()))?;
            let max_qos = match t.value.max_qos {
                None => None,
                Some(q) => Some(
                    crate::mqtt::QoS::from_u8(q)
                        .ok_or_else(|| invalid(t, format!("{key}.max_qos"), format!("{q}: use 0, 1 or 2")))?,
                ),
            };
            if what == "subscribe" && (t.value.retain.is_some() || t.value.max_message_expiry.is_some()) {
                return Err(invalid(t, key, "`retain` and `max_message_expiry` limit publishes"));
            }
            let limits = crate::auth::Limits {
                max_qos,
                no_retain: t.value.retain == Some(false),
                max_expiry: t.value.max_message_expiry,
            };
            Ok(Entry { filter, scopes: t.value.scopes.clone(), limits })
        });
        parsed.collect::<Result<Vec<_>, _>>().map(Some)
    };
    let client_id = match &a.client_id {
        Some(t) => Some(
            Template::parse_text(&t.value, has_guard)
                .map_err(|e| invalid(t, format!("listeners[{i}].acl.client_id"), e.to_string()))?,
        ),
        None => None,
    };
    let v3_denied = match &a.v3_denied_publish {
        None => V3Denied::Drop,
        Some(s) if s.value == "drop" => V3Denied::Drop,
        Some(s) if s.value == "disconnect" => V3Denied::Disconnect,
        Some(s) => {
            return Err(invalid(
                s,
                format!("listeners[{i}].acl.v3_denied_publish"),
                "use `drop` or `disconnect`",
            ))
        }
    };
    Ok(crate::auth::AclConfig {
        publish: list("publish", &a.publish)?,
        subscribe: list("subscribe", &a.subscribe)?,
        client_id,
        v3_denied,
    })
}
