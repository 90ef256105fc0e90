//! Validating a `guards:` entry into an [`auth::Guard`]: keys from inline JWKs or a
//! JWKS file, where the token is (user name / password patterns, 5.0 authentication
//! method; default `Bearer {credentials}` in the user name), leeway, claims, refusal.

use super::raw::RawGuard;
use super::ConfigError;
use crate::auth::{self, CredentialPattern, Guard, KeySet, Reject, Sources, ThrottleConfig, TokenVerifier};
use serde_saphyr::Spanned;
use std::path::Path;

fn err<T>(s: &Spanned<T>, key: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { line: s.referenced.line(), key, message: message.into() }
}

/// Validates guard `i`; relative JWKS paths are resolved against `base`.
pub fn validate(i: usize, g: &RawGuard, base: Option<&Path>) -> Result<Guard, ConfigError> {
    let key = |k: &str| format!("guards[{i}].{k}");
    let mut keys = Vec::new();
    for (j, jwk) in g.keys.iter().enumerate() {
        let parsed = auth::parse_jwks(&jwk.to_string())
            .map_err(|e| err(&g.name, key(&format!("keys[{j}]")), e.to_string()))?;
        keys.extend(parsed);
    }
    let mut file_keys = Vec::new();
    let mut jwks_file = None;
    if let Some(f) = &g.jwks_file {
        let path = base.map_or_else(|| Path::new(&f.value).to_path_buf(), |b| b.join(&f.value));
        super::sources::note(&path);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| err(f, key("jwks_file"), format!("{}: {e}", path.display())))?;
        file_keys = auth::parse_jwks(&text).map_err(|e| err(f, key("jwks_file"), e.to_string()))?;
        jwks_file = Some(path);
    }
    if keys.is_empty() && file_keys.is_empty() {
        return Err(err(&g.name, key("keys"), "a guard needs at least one key (`keys` or `jwks_file`)"));
    }
    let pattern = |p: &Spanned<String>, k: &str| {
        CredentialPattern::parse(&p.value)
            .ok_or_else(|| err(p, key(k), "must contain `{credentials}` exactly once"))
    };
    let mut sources = Sources {
        auth_method: g.auth_method.clone(),
        password: g.password.as_ref().map(|p| pattern(p, "password")).transpose()?,
        username: g.credentials.as_ref().map(|p| pattern(p, "credentials")).transpose()?,
    };
    if sources.auth_method.is_none() && sources.password.is_none() && sources.username.is_none() {
        sources.username = CredentialPattern::parse("Bearer {credentials}");
    }
    let reject = match g.reject.as_ref().map(|r| r.value.as_str()) {
        None | Some("connack") => Reject::ConnAck,
        Some("close") => Reject::Close,
        Some(other) => {
            let r = g.reject.as_ref().ok_or_else(|| err(&g.name, key("reject"), "missing"))?;
            return Err(err(r, key("reject"), format!("`{other}`: use `connack` or `close`")));
        }
    };
    let mut verifier = TokenVerifier::new(Vec::new());
    verifier.keys = std::sync::Arc::new(KeySet::with_file_keys(keys, file_keys));
    verifier.issuer = g.issuer.clone();
    verifier.audience = g.audience.clone();
    if let Some(l) = g.leeway {
        verifier.leeway = l.0.as_secs();
    }
    if let Some(c) = &g.roles_claim {
        verifier.roles_claim = c.clone();
    }
    if let Some(c) = &g.identity_claim {
        verifier.identity_claim = c.clone();
    }
    verifier.require_identity = g.require_identity.unwrap_or(true);
    let throttle = g.throttle.as_ref().map_or_else(ThrottleConfig::default, |t| ThrottleConfig {
        failures: t.failures,
        window: t.window.0,
        penalty: t.penalty.0,
    });
    let jwks_refresh = g.jwks_refresh.map_or(std::time::Duration::from_secs(10), |d| d.0);
    Ok(Guard {
        name: g.name.value.clone(),
        verifier,
        sources,
        reject,
        throttle,
        jwks_file: jwks_file.map(|p| (p, jwks_refresh)),
    })
}
