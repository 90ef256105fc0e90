//! Validating `tls:` sections (listeners and upstreams) into rustls configurations.
//! File paths are relative to the config file.

use super::raw::{RawClientTls, RawIdentity, RawServerTls};
use super::ConfigError;
use crate::tls::{self, ClientAuth, ClientSpec, Identity, ServerSpec};
use rustls::{ClientConfig, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A listener's TLS, ready to accept.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// rustls configuration.
    pub config: Arc<ServerConfig>,
    /// Handshake deadline.
    pub handshake_timeout: Duration,
}

fn path(base: Option<&Path>, p: &str) -> PathBuf {
    base.map_or_else(|| PathBuf::from(p), |b| b.join(p))
}

fn bad(line: u64, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { line, key: key.into(), message: message.into() }
}

fn identity(r: &RawIdentity, base: Option<&Path>) -> Result<Option<Identity>, String> {
    let (cert, key, pkcs12, password) = (&r.cert, &r.key, &r.pkcs12, &r.password);
    match (cert, key, pkcs12) {
        (None, None, None) => Ok(None),
        (Some(c), Some(k), None) => Ok(Some(Identity::Pem { cert: path(base, c), key: path(base, k) })),
        (None, None, Some(p)) => Ok(Some(Identity::Pkcs12 {
            path: path(base, p),
            password: password.clone().unwrap_or_default(),
            alias: r.alias.clone(),
        })),
        _ if r.alias.is_some() && pkcs12.is_none() => {
            Err("`alias` names a key in a `pkcs12` keystore".into())
        }
        _ => Err("give either `cert` and `key`, or `pkcs12` (with `password`)".into()),
    }
}

/// A listener's `tls:` (`line` and `key` name the listener in errors).
pub fn server(t: &RawServerTls, base: Option<&Path>, line: u64, key: &str) -> Result<ServerTls, ConfigError> {
    let default = identity(&t.identity, base).map_err(|m| bad(line, key, m))?;
    let mut sni = Vec::new();
    for (i, s) in t.sni.iter().enumerate() {
        let id = identity(&s.identity, base)
            .map_err(|m| bad(line, &format!("{key}.sni[{i}]"), m))?
            .ok_or_else(|| bad(line, &format!("{key}.sni[{i}]"), "a certificate is required"))?;
        sni.push((s.name.clone(), id));
    }
    let client_auth = match &t.client_auth {
        None => None,
        Some(c) => {
            let mode = match c.mode.value.as_str() {
                "required" => ClientAuth::Required,
                "optional" => ClientAuth::Optional,
                other => {
                    let line = c.mode.referenced.line();
                    return Err(bad(
                        line,
                        &format!("{key}.client_auth.mode"),
                        format!("`{other}`: use required or optional"),
                    ));
                }
            };
            Some((mode, path(base, &c.ca)))
        }
    };
    let spec = ServerSpec { default, sni, alpn: t.alpn.clone(), client_auth };
    let config = tls::server_config(&spec).map_err(|e| bad(line, key, e.to_string()))?;
    Ok(ServerTls { config, handshake_timeout: t.handshake_timeout.map_or(Duration::from_secs(10), |d| d.0) })
}

/// An upstream's `tls:`.
pub fn client(
    t: &RawClientTls,
    base: Option<&Path>,
    line: u64,
    key: &str,
) -> Result<(Arc<ClientConfig>, Option<String>), ConfigError> {
    let id = identity(&t.identity, base).map_err(|m| bad(line, key, m))?;
    let spec = ClientSpec { ca: path(base, &t.ca), server_name: t.server_name.clone(), identity: id };
    let cfg = tls::client_config(&spec).map_err(|e| bad(line, key, e.to_string()))?;
    Ok((cfg, spec.server_name))
}
