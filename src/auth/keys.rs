//! Verification keys: a set of JWKs (RFC 7517), each with its algorithm and optional
//! key id, from inline JSON or a JWKS document.
//!
//! A key must say which algorithm it is for (`alg`), or have one implied by its type
//! and curve (EC P-256 → ES256, P-384 → ES384, OKP Ed25519 → EdDSA); an RSA or `oct`
//! key without `alg` is refused at load, since guessing is how algorithm-confusion
//! attacks start. Secrets in `oct` keys never appear in `Debug` output.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::fmt;

/// One verification key.
#[derive(Clone)]
pub struct Key {
    /// Key id (`kid`), if any.
    pub kid: Option<String>,
    /// The only algorithm this key verifies.
    pub alg: Algorithm,
    /// The key.
    pub key: DecodingKey,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// Why a key could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a JWK / JWKS document.
    #[error("not a JWK or JWK set: {0}")]
    Json(String),
    /// No `alg`, and none implied by the key type.
    #[error("key {0}: `alg` is required for this key type")]
    NoAlg(String),
    /// An `alg` the proxy does not verify (e.g. RSA-OAEP, which is for encryption).
    #[error("key {0}: algorithm not usable for signatures")]
    BadAlg(String),
    /// The key material is unusable.
    #[error("key {0}: {1}")]
    Material(String, String),
}

fn signing_alg(k: KeyAlgorithm) -> Option<Algorithm> {
    Some(match k {
        KeyAlgorithm::HS256 => Algorithm::HS256,
        KeyAlgorithm::HS384 => Algorithm::HS384,
        KeyAlgorithm::HS512 => Algorithm::HS512,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

fn implied_alg(p: &AlgorithmParameters) -> Option<Algorithm> {
    match p {
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        _ => None,
    }
}

impl Key {
    /// A key from a parsed JWK.
    pub fn from_jwk(jwk: &Jwk) -> Result<Key, KeyError> {
        let kid = jwk.common.key_id.clone();
        let name = kid.clone().unwrap_or_else(|| "(no kid)".into());
        let alg = match jwk.common.key_algorithm {
            Some(a) => signing_alg(a).ok_or_else(|| KeyError::BadAlg(name.clone()))?,
            None => implied_alg(&jwk.algorithm).ok_or_else(|| KeyError::NoAlg(name.clone()))?,
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| KeyError::Material(name.clone(), e.to_string()))?;
        if key.family() != alg.family() {
            return Err(KeyError::BadAlg(name));
        }
        Ok(Key { kid, alg, key })
    }

    /// A shared-secret key (HS256/384/512) with an optional id.
    pub fn hmac(secret: &[u8], alg: Algorithm, kid: Option<String>) -> Result<Key, KeyError> {
        if !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(KeyError::BadAlg(kid.unwrap_or_default()));
        }
        Ok(Key { kid, alg, key: DecodingKey::from_secret(secret) })
    }
}

/// Parses one JWK or a JWKS (`{"keys": [...]}`) document.
pub fn parse_jwks(json: &str) -> Result<Vec<Key>, KeyError> {
    if let Ok(set) = serde_json::from_str::<JwkSet>(json) {
        return set.keys.iter().map(Key::from_jwk).collect();
    }
    let jwk: Jwk = serde_json::from_str(json).map_err(|e| KeyError::Json(e.to_string()))?;
    Ok(vec![Key::from_jwk(&jwk)?])
}

/// The keys of one guard, replaceable while the proxy runs (a JWKS file that
/// changed): readers on every core load the current set without locks; each
/// replacement bumps `generation`, which invalidates tokens cached under older keys.
#[derive(Debug)]
pub struct KeySet {
    inline: Vec<Key>,
    current: arc_swap::ArcSwap<Vec<Key>>,
    generation: std::sync::atomic::AtomicU64,
}

impl KeySet {
    /// A set of fixed keys.
    pub fn new(keys: Vec<Key>) -> Self {
        KeySet::with_file_keys(keys, Vec::new())
    }

    /// Inline keys plus keys read from a file.
    pub fn with_file_keys(inline: Vec<Key>, file: Vec<Key>) -> Self {
        let all: Vec<Key> = inline.iter().cloned().chain(file).collect();
        KeySet { inline, current: arc_swap::ArcSwap::from_pointee(all), generation: Default::default() }
    }

    /// The keys now.
    pub fn load(&self) -> arc_swap::Guard<std::sync::Arc<Vec<Key>>> {
        self.current.load()
    }

    /// Replaces the file's keys (the inline ones stay).
    pub fn replace_file_keys(&self, file: Vec<Key>) {
        let all: Vec<Key> = self.inline.iter().cloned().chain(file).collect();
        self.current.store(std::sync::Arc::new(all));
        self.generation.fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Changes with every replacement.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Watches JWKS files on a thread of its own (off the data path): every `every`,
/// a file whose modification time changed is re-read; a file that no longer parses
/// is reported and the keys in use stay. Ends when `stop` is set.
pub fn watch(
    files: Vec<(std::sync::Arc<KeySet>, std::path::PathBuf)>,
    every: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let mtime = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut seen: Vec<_> = files.iter().map(|(_, p)| mtime(p)).collect();
    std::thread::Builder::new().name("jwks-watch".into()).spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(every);
            for ((set, path), last) in files.iter().zip(seen.iter_mut()) {
                let now = mtime(path);
                if now == *last {
                    continue;
                }
                *last = now;
                match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| parse_jwks(&t).map_err(|e| e.to_string())) {
                    Ok(keys) => {
                        // Swap first, then say so: whoever reads the line can use the keys.
                        let n = keys.len();
                        set.replace_file_keys(keys);
                        tracing::info!(file = %path.display(), keys = n, "JWKS reloaded");
                    }
                    Err(e) => tracing::warn!(file = %path.display(), error = %e, "JWKS reload failed; keeping the keys in use"),
                }
            }
        }
    })?;
    Ok(())
}
