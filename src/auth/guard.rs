//! The JWT guard of a listener: where the token is in CONNECT (user name, password
//! or MQTT 5.0 enhanced authentication), how it is verified, which scopes are
//! required, what is stripped before the broker sees the CONNECT, and how a refusal
//! looks on the wire.
//!
//! Pure: `check` takes the CONNECT and the time. Every failure is an [`AuthError`]
//! for the log and metrics; the client sees only [`Reject`]'s one answer, whatever
//! the reason.

use super::{AuthError, Identity, ThrottleConfig, TokenCache, TokenVerifier};
use crate::mqtt::Connect;
use std::rc::Rc;

/// A username pattern around the token, e.g. `Bearer {credentials}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialPattern {
    prefix: String,
    suffix: String,
}

impl CredentialPattern {
    /// Parses a pattern containing `{credentials}` exactly once.
    pub fn parse(p: &str) -> Option<Self> {
        let (prefix, suffix) = p.split_once("{credentials}")?;
        if suffix.contains("{credentials}") {
            return None;
        }
        Some(CredentialPattern { prefix: prefix.into(), suffix: suffix.into() })
    }

    /// The token inside `s`, if `s` matches.
    pub fn extract<'a>(&self, s: &'a str) -> Option<&'a str> {
        let t = s.strip_prefix(self.prefix.as_str())?.strip_suffix(self.suffix.as_str())?;
        (!t.is_empty()).then_some(t)
    }
}

/// How a refused client is answered (the same for every reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// CONNACK 0x87 Not authorized (3.1.1: return code 5), then close.
    ConnAck,
    /// Close without CONNACK.
    Close,
}

/// Where a guard looks for the token, in this order: MQTT 5.0 enhanced
/// authentication (the CONNECT's Authentication Method equals `auth_method`, the
/// token is the Authentication Data), the password pattern, the user name pattern.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Authentication Method name (5.0), e.g. `jwt`.
    pub auth_method: Option<String>,
    /// Pattern applied to the password (as UTF-8).
    pub password: Option<CredentialPattern>,
    /// Pattern applied to the user name.
    pub username: Option<CredentialPattern>,
}

/// Where a token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Enhanced authentication (5.0): re-authentication with AUTH is possible.
    AuthData,
    /// Password or user name.
    Credentials,
}

/// A guard.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Name (logs).
    pub name: String,
    /// Token checks.
    pub verifier: TokenVerifier,
    /// Where the token is in CONNECT.
    pub sources: Sources,
    /// Refusal answer.
    pub reject: Reject,
    /// Slow-down of repeated failures per source address.
    pub throttle: ThrottleConfig,
    /// A JWKS file re-read when it changes, and how often to look.
    pub jwks_file: Option<(std::path::PathBuf, std::time::Duration)>,
}

impl Guard {
    /// The token in a CONNECT, and where it was.
    pub fn token<'a>(&self, connect: &'a Connect) -> Result<(&'a str, Found), AuthError> {
        let props = &connect.properties;
        if let (Some(m), Some(method)) = (&self.sources.auth_method, &props.authentication_method) {
            if method.as_str() == m {
                let data = props.authentication_data.as_deref().ok_or(AuthError::Missing)?;
                let t = std::str::from_utf8(data).map_err(|_| AuthError::Malformed)?;
                return Ok((t, Found::AuthData));
            }
        }
        if let (Some(p), Some(pw)) = (&self.sources.password, &connect.password) {
            if let Some(t) = std::str::from_utf8(pw).ok().and_then(|pw| p.extract(pw)) {
                return Ok((t, Found::Credentials));
            }
        }
        if let (Some(p), Some(user)) = (&self.sources.username, &connect.username) {
            if let Some(t) = p.extract(user) {
                return Ok((t, Found::Credentials));
            }
        }
        Err(AuthError::Missing)
    }

    /// Verifies a token (cached per core when `cache` is given) and the `scopes`.
    pub fn verify(
        &self,
        token: &str,
        scopes: &[String],
        now: u64,
        cache: Option<(&mut TokenCache, usize)>,
    ) -> Result<Rc<Identity>, AuthError> {
        let generation = self.verifier.keys.generation();
        let id = match cache {
            Some((cache, g)) => match cache.get(g, token, now, generation) {
                Some(id) => id,
                None => {
                    let id = Rc::new(self.verifier.verify(token, now)?);
                    cache.insert(g, token, id.clone(), now, generation);
                    id
                }
            },
            None => Rc::new(self.verifier.verify(token, now)?),
        };
        if !id.has_scopes(scopes) {
            return Err(AuthError::MissingScope);
        }
        Ok(id)
    }

    /// Authenticates a CONNECT at `now` and checks the listener's `scopes`.
    pub fn check(
        &self,
        connect: &Connect,
        scopes: &[String],
        now: u64,
        cache: Option<(&mut TokenCache, usize)>,
    ) -> Result<(Rc<Identity>, Found), AuthError> {
        let (token, found) = self.token(connect)?;
        Ok((self.verify(token, scopes, now, cache)?, found))
    }

    /// The CONNECT to forward: without anything the guard read credentials from.
    pub fn strip(&self, connect: &Connect) -> Connect {
        let mut c = Connect { username: None, password: None, ..connect.clone() };
        if self.sources.auth_method.is_some() {
            c.properties.authentication_method = None;
            c.properties.authentication_data = None;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(user: Option<&str>, password: Option<&str>, method: Option<(&str, &str)>) -> Connect {
        use crate::mqtt::{ConnectProperties, MqttStr, Protocol};
        let mut properties = ConnectProperties::default();
        if let Some((m, d)) = method {
            properties.authentication_method = MqttStr::try_from(m).ok();
            properties.authentication_data = Some(bytes::Bytes::copy_from_slice(d.as_bytes()));
        }
        Connect {
            protocol: Protocol::V5,
            clean_start: true,
            keep_alive: 0,
            client_id: MqttStr::default(),
            will: None,
            username: user.and_then(|u| MqttStr::try_from(u).ok()),
            password: password.map(|p| bytes::Bytes::copy_from_slice(p.as_bytes())),
            properties,
        }
    }

    #[test]
    fn token_sources_in_order() {
        let guard = Guard {
            name: "g".into(),
            verifier: TokenVerifier::new(vec![]),
            sources: Sources {
                auth_method: Some("jwt".into()),
                password: CredentialPattern::parse("{credentials}"),
                username: CredentialPattern::parse("Bearer {credentials}"),
            },
            reject: Reject::ConnAck,
            throttle: ThrottleConfig::default(),
            jwks_file: None,
        };
        let c = connect(Some("Bearer u"), Some("p"), Some(("jwt", "a")));
        assert_eq!(guard.token(&c), Ok(("a", Found::AuthData)));
        let c = connect(Some("Bearer u"), Some("p"), Some(("other", "a")));
        assert_eq!(guard.token(&c), Ok(("p", Found::Credentials)));
        let c = connect(Some("Bearer u"), None, None);
        assert_eq!(guard.token(&c), Ok(("u", Found::Credentials)));
        assert_eq!(guard.token(&connect(Some("u"), None, None)), Err(AuthError::Missing));
        let stripped = guard.strip(&connect(Some("Bearer u"), Some("p"), Some(("jwt", "a"))));
        assert!(stripped.username.is_none() && stripped.password.is_none());
        assert!(
            stripped.properties.authentication_method.is_none()
                && stripped.properties.authentication_data.is_none()
        );
    }

    #[test]
    fn patterns() {
        let p = CredentialPattern::parse("Bearer {credentials}").expect("pattern");
        assert_eq!(p.extract("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(p.extract("bearer abc"), None);
        assert_eq!(p.extract("Bearer "), None);
        let p = CredentialPattern::parse("{credentials}").expect("pattern");
        assert_eq!(p.extract("tok"), Some("tok"));
        assert!(CredentialPattern::parse("Bearer").is_none());
        assert!(CredentialPattern::parse("{credentials}{credentials}").is_none());
    }
}
