//! TEST-ONLY tokens: RS256, kid `example`, signed with the fixture key of
//! tests/fixtures/jwt (whose public half is in TEST-ONLY-jwks.json), expiring in an
//! hour, with whatever other claims a test needs.
#![allow(dead_code)]

/// `Bearer <token>` carrying `claims` plus `exp`.
pub fn bearer(mut claims: serde_json::Value) -> String {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    mqtt_proxy::auth::ring_provider::install();
    let key =
        EncodingKey::from_rsa_pem(include_bytes!("../fixtures/jwt/TEST-ONLY-rsa-private.pem")).expect("key");
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("example".into());
    let exp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 3600;
    claims["exp"] = serde_json::json!(exp);
    format!("Bearer {}", encode(&h, &claims, &key).expect("sign"))
}
