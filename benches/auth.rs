//! JWT verification cost per algorithm (divan), with the TEST-ONLY fixture keys.
//! Run: `cargo bench --bench auth`.

use divan::{black_box, Bencher};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use mqtt_proxy::auth::{parse_jwks, ring_provider, TokenVerifier};
use serde_json::json;

fn main() {
    divan::main();
}

const NOW: u64 = 1_800_000_000;

fn token(alg: Algorithm, kid: &str) -> String {
    ring_provider::install();
    let key = match alg {
        Algorithm::RS256 => {
            EncodingKey::from_rsa_pem(include_bytes!("../tests/fixtures/jwt/TEST-ONLY-rsa-private.pem"))
        }
        Algorithm::ES256 => {
            EncodingKey::from_ec_pem(include_bytes!("../tests/fixtures/jwt/TEST-ONLY-ec-private.pem"))
        }
        _ => EncodingKey::from_ed_pem(include_bytes!("../tests/fixtures/jwt/TEST-ONLY-ed25519-private.pem")),
    }
    .expect("fixture key");
    let mut h = Header::new(alg);
    h.kid = Some(kid.into());
    let claims = json!({"iss": "https://auth.example.com", "aud": "https://api.example.com",
        "sub": "device-1", "exp": NOW + 3600, "scope": "mqtt:stream"});
    encode(&h, &claims, &key).expect("sign")
}

fn verifier() -> TokenVerifier {
    let mut v = TokenVerifier::new(
        parse_jwks(include_str!("../tests/fixtures/jwt/TEST-ONLY-jwks.json")).expect("jwks"),
    );
    v.issuer = Some("https://auth.example.com".into());
    v.audience = Some("https://api.example.com".into());
    v
}

#[divan::bench(args = [("RS256", "example"), ("ES256", "ec-1"), ("EdDSA", "ed-1")])]
fn verify(b: Bencher, (alg, kid): (&str, &str)) {
    let alg: Algorithm = alg.parse().expect("alg");
    let t = token(alg, kid);
    let v = verifier();
    b.bench(|| v.verify(black_box(&t), NOW).expect("valid"));
}
