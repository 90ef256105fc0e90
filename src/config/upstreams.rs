//! One `upstreams[]` entry validated: its servers resolved (once, at load), their TLS
//! names, the balance, the health check and the PROXY header setting. Duplicate
//! names and references to upstreams are checked by the caller and by the route
//! compiler; nothing here opens a socket.

use super::raw::RawUpstream;
use super::{invalid, tls, Balance, ConfigError, HealthCheck, Secret, Server, Upstream};
use serde_saphyr::Spanned;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// The upstream at index `i` of the config.
pub(super) fn validate(i: usize, u: &RawUpstream, base: Option<&Path>) -> Result<Upstream, ConfigError> {
    if u.servers.is_empty() {
        return Err(invalid(&u.name, format!("upstreams[{i}].servers"), "at least one server is needed"));
    }
    let line = u.name.referenced.line();
    let tls = match &u.tls {
        Some(t) => Some(tls::client(t, base, line, &format!("upstreams[{i}].tls"))?),
        None => None,
    };
    let mut servers = Vec::new();
    for (j, s) in u.servers.iter().enumerate() {
        let key = format!("upstreams[{i}].servers[{j}]");
        let addr = resolve(s, key.clone())?;
        let tls_name = match &tls {
            None => None,
            Some((_, name)) => {
                let host = name.clone().unwrap_or_else(|| host_of(&s.value));
                let n = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|_| invalid(s, key, format!("`{host}` is not a TLS server name")))?;
                Some(n)
            }
        };
        servers.push(Server { name: s.value.clone(), addr, tls_name });
    }
    let balance = match u.balance.as_ref().map(|b| (b, b.value.as_str())) {
        None | Some((_, "hash")) => Balance::Hash,
        Some((_, "ordered")) => Balance::Ordered,
        Some((b, x)) => {
            return Err(invalid(b, format!("upstreams[{i}].balance"), format!("`{x}`: use hash or ordered")))
        }
    };
    if u.health_check.as_ref().is_some_and(|h| h.password.is_some() && h.username.is_none()) {
        return Err(invalid(
            &u.name,
            format!("upstreams[{i}].health_check.password"),
            "a probe password needs a `username` (MQTT 3.1.1)",
        ));
    }
    let health_check = u.health_check.as_ref().map(|h| HealthCheck {
        interval: h.interval.map_or(Duration::from_secs(2), |d| d.0),
        timeout: h.timeout.map_or(Duration::from_secs(1), |d| d.0),
        failures: h.failures.unwrap_or(1).max(1),
        username: h.username.clone(),
        password: h.password.clone().map(Secret),
    });
    let up = std::sync::Arc::new(servers.iter().map(|_| std::sync::atomic::AtomicBool::new(true)).collect());
    Ok(Upstream {
        name: u.name.value.clone(),
        servers,
        balance,
        health_check,
        up,
        connect_timeout: u.connect_timeout.map_or(Duration::from_secs(5), |d| d.0),
        tls: tls.map(|t| t.0),
        proxy_protocol: match &u.proxy_protocol {
            None => false,
            Some(v) if v.value == "v2" => true,
            Some(v) => {
                let key = format!("upstreams[{i}].proxy_protocol");
                return Err(invalid(v, key, format!("`{}`: brokers are sent v2 only", v.value)));
            }
        },
    })
}

fn resolve(s: &Spanned<String>, key: String) -> Result<SocketAddr, ConfigError> {
    let mut addrs =
        s.value.to_socket_addrs().map_err(|e| invalid(s, key.clone(), format!("`{}`: {e}", s.value)))?;
    addrs.next().ok_or_else(|| invalid(s, key, format!("`{}` resolves to no address", s.value)))
}

/// The host part of `host:port` (brackets removed from IPv6 literals).
fn host_of(server: &str) -> String {
    let host = server.rsplit_once(':').map_or(server, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']').to_string()
}
