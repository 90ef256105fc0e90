//! A `jsonwebtoken` crypto provider on `ring`, the project's one crypto backend.
//!
//! jsonwebtoken 11 ships only aws-lc-rs and RustCrypto providers; this module gives
//! it verifiers and signers for HS256/384/512, RS256/384/512, PS256/384/512,
//! ES256/384 and EdDSA (Ed25519) from `ring`. Signing exists for tools and tests
//! (the load-test harness mints tokens); the proxy only verifies. Key material is
//! never logged. [`install`] must run before the first token is checked; it is
//! idempotent.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature::{self as sig, KeyPair};
use ring::{digest, hmac, rand};
use signature::{Signer, Verifier};

fn hmac_alg(a: Algorithm) -> Option<hmac::Algorithm> {
    Some(match a {
        Algorithm::HS256 => hmac::HMAC_SHA256,
        Algorithm::HS384 => hmac::HMAC_SHA384,
        Algorithm::HS512 => hmac::HMAC_SHA512,
        _ => return None,
    })
}

fn rsa_params(a: Algorithm) -> Option<&'static sig::RsaParameters> {
    Some(match a {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn rsa_encoding(a: Algorithm) -> Option<&'static dyn sig::RsaEncoding> {
    Some(match a {
        Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_SHA512,
        _ => return None,
    })
}

fn ecdsa_verify_alg(a: Algorithm) -> Option<&'static sig::EcdsaVerificationAlgorithm> {
    Some(match a {
        Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
        _ => return None,
    })
}

fn ecdsa_sign_alg(a: Algorithm) -> Option<&'static sig::EcdsaSigningAlgorithm> {
    Some(match a {
        Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => return None,
    })
}

fn sig_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> signature::Error {
    signature::Error::from_source(e)
}

#[derive(Debug)]
struct Unspecified;
impl std::fmt::Display for Unspecified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("signature rejected")
    }
}
impl std::error::Error for Unspecified {}

struct RingVerifier {
    alg: Algorithm,
    key: DecodingKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        let bad = |_| sig_err(Unspecified);
        let a = self.alg;
        match (self.key.kind(), a) {
            (DecodingKeyKind::SecretOrDer(secret), _) if hmac_alg(a).is_some() => {
                let alg = hmac_alg(a).ok_or_else(|| sig_err(Unspecified))?;
                hmac::verify(&hmac::Key::new(alg, secret), msg, signature).map_err(bad)
            }
            (DecodingKeyKind::RsaModulusExponent { n, e }, _) => {
                let params = rsa_params(a).ok_or_else(|| sig_err(Unspecified))?;
                sig::RsaPublicKeyComponents { n, e }.verify(params, msg, signature).map_err(bad)
            }
            (DecodingKeyKind::SecretOrDer(der), _) if rsa_params(a).is_some() => {
                let params = rsa_params(a).ok_or_else(|| sig_err(Unspecified))?;
                sig::UnparsedPublicKey::new(params, der).verify(msg, signature).map_err(bad)
            }
            (DecodingKeyKind::SecretOrDer(point), _) if ecdsa_verify_alg(a).is_some() => {
                let alg = ecdsa_verify_alg(a).ok_or_else(|| sig_err(Unspecified))?;
                sig::UnparsedPublicKey::new(alg, point).verify(msg, signature).map_err(bad)
            }
            (DecodingKeyKind::SecretOrDer(raw), Algorithm::EdDSA) => {
                sig::UnparsedPublicKey::new(&sig::ED25519, raw).verify(msg, signature).map_err(bad)
            }
            _ => Err(sig_err(Unspecified)),
        }
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

struct RingSigner {
    alg: Algorithm,
    key: EncodingKey,
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let a = self.alg;
        let der = self.key.as_bytes();
        let rng = rand::SystemRandom::new();
        if let Some(alg) = hmac_alg(a) {
            return Ok(hmac::sign(&hmac::Key::new(alg, der), msg).as_ref().to_vec());
        }
        if let Some(enc) = rsa_encoding(a) {
            let pair = sig::RsaKeyPair::from_der(der)
                .or_else(|_| sig::RsaKeyPair::from_pkcs8(der))
                .map_err(|e| sig_err(KeyRejected(e.to_string())))?;
            let mut out = vec![0; pair.public().modulus_len()];
            pair.sign(enc, &rng, msg, &mut out).map_err(|_| sig_err(Unspecified))?;
            return Ok(out);
        }
        if let Some(alg) = ecdsa_sign_alg(a) {
            let pair = sig::EcdsaKeyPair::from_pkcs8(alg, der, &rng)
                .map_err(|e| sig_err(KeyRejected(e.to_string())))?;
            return Ok(pair.sign(&rng, msg).map_err(|_| sig_err(Unspecified))?.as_ref().to_vec());
        }
        if a == Algorithm::EdDSA {
            let pair = sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map_err(|e| sig_err(KeyRejected(e.to_string())))?;
            return Ok(pair.sign(msg).as_ref().to_vec());
        }
        Err(sig_err(Unspecified))
    }
}

#[derive(Debug)]
struct KeyRejected(String);
impl std::fmt::Display for KeyRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key rejected: {}", self.0)
    }
}
impl std::error::Error for KeyRejected {}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    Ok(Box::new(RingVerifier { alg: *alg, key: key.clone() }))
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Ok(Box::new(RingSigner { alg: *alg, key: key.clone() }))
}

fn unsupported<T>() -> Result<T> {
    Err(Error::from(ErrorKind::InvalidKeyFormat))
}

fn digest_of(data: &[u8], h: ThumbprintHash) -> Result<Vec<u8>> {
    let alg = match h {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
        _ => return unsupported(),
    };
    Ok(digest::digest(alg, data).as_ref().to_vec())
}

fn ed_public(der: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>> {
    match curve {
        EllipticCurve::Ed25519 => sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(|p| p.public_key().as_ref().to_vec())
            .map_err(|_| Error::from(ErrorKind::InvalidEddsaKey)),
        _ => unsupported(),
    }
}

/// The provider. Key utilities the proxy does not use (deriving JWKs from private
/// keys) answer with an error instead of panicking.
pub static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| unsupported(),
        rsa_pub_components_from_public_key: |_| unsupported(),
        ec_pub_components_from_private_key: |_, _| unsupported(),
        ed_pub_components_from_private_key: ed_public,
        compute_digest: digest_of,
    },
};

/// Installs the ring provider for this process (idempotent; another provider
/// installed first stays, which only tests could do).
pub fn install() {
    let _ = PROVIDER.install_default();
}
