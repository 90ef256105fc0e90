//! JWT verification: signature, algorithm pinned by the key, `iss`, `aud`, `exp`,
//! `nbf` with leeway, identity and roles from (dotted-path) claims.
//!
//! Pure: the current time comes in as an argument, keys come from the config. The
//! signature is checked by `jsonwebtoken` (on the ring provider); every claim rule
//! is checked here against `now`, so tests can move time. `alg: none` is refused
//! before anything else, and a token can only be verified by a key whose own `alg`
//! equals the token's: an HS256 token can never be checked against an RSA public
//! key. Nothing here logs; errors are typed ([`AuthError`]).

use super::keys::{Key, KeySet};
use super::AuthError;
use base64::Engine;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use std::str::FromStr;

/// A verified token's facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The identity claim (default `sub`).
    pub subject: String,
    /// Roles / scopes from the roles claim (default `scope`).
    pub roles: Vec<String>,
    /// When the token stops being accepted: `exp` plus the verifier's leeway,
    /// seconds since the epoch (the session deadline, so a token accepted inside the
    /// leeway is not cut off at once).
    pub expires_at: u64,
    /// All claims, for templates (`{claims.tenant}`) and routing.
    pub claims: Map<String, Value>,
}

impl Identity {
    /// True when `other` is the same identity as far as `claims` (dotted paths)
    /// tell: the same subject and the same value of each of those claims (a missing
    /// claim equals only a missing one). What a re-authentication must keep.
    pub fn same_as<S: AsRef<str>>(&self, other: &Identity, claims: &[S]) -> bool {
        self.subject == other.subject
            && claims.iter().all(|c| lookup(&self.claims, c.as_ref()) == lookup(&other.claims, c.as_ref()))
    }

    /// True if every one of `scopes` is among the roles.
    pub fn has_scopes<S: AsRef<str>>(&self, scopes: &[S]) -> bool {
        scopes.iter().all(|s| self.roles.iter().any(|r| r == s.as_ref()))
    }

    /// A claim by dotted path, as text (strings as is, numbers and booleans printed).
    pub fn claim(&self, path: &str) -> Option<String> {
        match lookup(&self.claims, path)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// How tokens are checked.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    /// Required `iss`, if set.
    pub issuer: Option<String>,
    /// Required audience (in `aud`, string or array), if set.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    pub leeway: u64,
    /// Longest token accepted, bytes.
    pub max_len: usize,
    /// Claim holding the roles (dotted path).
    pub roles_claim: String,
    /// Claim holding the identity (dotted path).
    pub identity_claim: String,
    /// A token without the identity claim is refused (`false`: accepted with an
    /// empty subject, which `{sub}` templates treat as missing, as Zilla does).
    pub require_identity: bool,
    /// Verification keys (replaceable at run time).
    pub keys: std::sync::Arc<KeySet>,
}

impl TokenVerifier {
    /// A verifier with the usual defaults (`scope`, `sub`, 30 s leeway, 8 KiB).
    pub fn new(keys: Vec<Key>) -> Self {
        TokenVerifier {
            issuer: None,
            audience: None,
            leeway: 30,
            max_len: 8192,
            roles_claim: "scope".into(),
            identity_claim: "sub".into(),
            require_identity: true,
            keys: std::sync::Arc::new(KeySet::new(keys)),
        }
    }

    fn key_for<'k>(keys: &'k [Key], alg: Algorithm, kid: Option<&str>) -> Result<&'k Key, AuthError> {
        let key = match kid {
            Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)).ok_or(AuthError::UnknownKid)?,
            // Keys with ids are only ever chosen by id.
            None if keys.iter().any(|k| k.kid.is_some()) => return Err(AuthError::UnknownKid),
            None => match keys.iter().find(|k| k.alg == alg) {
                Some(k) => k,
                None if keys.is_empty() => return Err(AuthError::UnsupportedAlg),
                None => return Err(AuthError::AlgMismatch),
            },
        };
        if key.alg != alg {
            return Err(AuthError::AlgMismatch);
        }
        Ok(key)
    }

    /// Verifies `token` at time `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: u64) -> Result<Identity, AuthError> {
        if token.len() > self.max_len {
            return Err(AuthError::TooLong);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| AuthError::Malformed)?;
        let header: Map<String, Value> = serde_json::from_slice(&header).map_err(|_| AuthError::Malformed)?;
        let alg = header.get("alg").and_then(Value::as_str).ok_or(AuthError::Malformed)?;
        if alg.eq_ignore_ascii_case("none") {
            return Err(AuthError::AlgNone);
        }
        let alg = Algorithm::from_str(alg).map_err(|_| AuthError::UnsupportedAlg)?;
        let keys = self.keys.load();
        let key = Self::key_for(&keys, alg, header.get("kid").and_then(Value::as_str))?;

        // Signature only; the claim rules below use `now`, not the system clock.
        let mut v = Validation::new(alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &v).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                _ => AuthError::Malformed,
            })?;
        let claims = data.claims;
        let leeway = self.leeway;
        let exp = claims.get("exp").and_then(Value::as_u64).ok_or(AuthError::Expired)?;
        if exp.saturating_add(leeway) <= now {
            return Err(AuthError::Expired);
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf.as_u64().ok_or(AuthError::Malformed)?;
            if nbf > now.saturating_add(leeway) {
                return Err(AuthError::NotYetValid);
            }
        }
        if let Some(iss) = &self.issuer {
            if claims.get("iss").and_then(Value::as_str) != Some(iss.as_str()) {
                return Err(AuthError::WrongIssuer);
            }
        }
        if let Some(aud) = &self.audience {
            let ok = match claims.get("aud") {
                Some(Value::String(a)) => a == aud,
                Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(aud.as_str())),
                _ => false,
            };
            if !ok {
                return Err(AuthError::WrongAudience);
            }
        }
        let subject = match lookup(&claims, &self.identity_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            None if !self.require_identity => String::new(),
            _ => return Err(AuthError::NoIdentity),
        };
        let roles = match lookup(&claims, &self.roles_claim) {
            Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(String::from).collect(),
            _ => Vec::new(),
        };
        Ok(Identity { subject, roles, expires_at: exp.saturating_add(leeway), claims })
    }
}

/// A claim by dotted path (`realm_access.roles`).
fn lookup<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(sub: &str, claims: serde_json::Value) -> Identity {
        Identity {
            subject: sub.into(),
            roles: vec![],
            expires_at: 0,
            claims: claims.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn same_identity_means_same_subject_and_same_named_claims() {
        let a = id("d1", json!({"tenant": "acme", "org": {"unit": 7}, "jti": "1"}));
        assert!(a.same_as(
            &id("d1", json!({"tenant": "acme", "org": {"unit": 7}, "jti": "2"})),
            &["tenant", "org.unit"]
        ));
        assert!(!a.same_as(&id("d2", json!({"tenant": "acme", "org": {"unit": 7}})), &["tenant"]));
        assert!(!a.same_as(&id("d1", json!({"tenant": "globex"})), &["tenant"]));
        assert!(!a.same_as(&id("d1", json!({"tenant": "acme", "org": {"unit": 8}})), &["org.unit"]));
        assert!(!a.same_as(&id("d1", json!({})), &["tenant"]), "a missing claim is another value");
        assert!(id("d1", json!({})).same_as(&id("d1", json!({})), &["tenant"]));
    }
}
