//! The JWT guard of a listener: where the token is in CONNECT, how it is verified,
//! which scopes are required, and how a refusal looks on the wire.
//!
//! Pure: `check` takes the CONNECT and the time. Every failure is an [`AuthError`]
//! for the log and metrics; the client sees only [`Reject`]'s one answer, whatever
//! the reason.

use super::{AuthError, Identity, TokenCache, TokenVerifier};
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

/// A guard.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Name (logs).
    pub name: String,
    /// Token checks.
    pub verifier: TokenVerifier,
    /// Where the token is in the CONNECT user name.
    pub pattern: CredentialPattern,
    /// Refusal answer.
    pub reject: Reject,
}

impl Guard {
    /// The token in a CONNECT, where this guard looks for it.
    pub fn token<'a>(&self, connect: &'a Connect) -> Result<&'a str, AuthError> {
        let user = connect.username.as_ref().ok_or(AuthError::Missing)?;
        self.pattern.extract(user).ok_or(AuthError::Missing)
    }

    /// Authenticates a CONNECT at `now` and checks the listener's `scopes`. `cache`
    /// (this core's, with this guard's index) spares repeated signature checks.
    pub fn check(
        &self,
        connect: &Connect,
        scopes: &[String],
        now: u64,
        cache: Option<(&mut TokenCache, usize)>,
    ) -> Result<Rc<Identity>, AuthError> {
        let token = self.token(connect)?;
        let id = match cache {
            Some((cache, g)) => match cache.get(g, token, now) {
                Some(id) => id,
                None => {
                    let id = Rc::new(self.verifier.verify(token, now)?);
                    cache.insert(g, token, id.clone(), now);
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
