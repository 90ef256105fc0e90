//! JWT verification against the TEST-ONLY fixtures (`scripts/gen-test-keys.sh`):
//! tokens made by PyJWT (an independent implementation) verify; tokens we sign on the
//! ring provider verify; and a table of hostile tokens is refused, each for its reason.

use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use mqtt_proxy::auth::{parse_jwks, ring_provider, AuthError, Key, TokenVerifier};
use serde_json::{json, Value};
use std::collections::HashMap;

const JWKS: &str = include_str!("fixtures/jwt/TEST-ONLY-jwks.json");
const TOKENS: &str = include_str!("fixtures/jwt/TEST-ONLY-tokens.json");
const RSA_PEM: &str = include_str!("fixtures/jwt/TEST-ONLY-rsa-private.pem");
const EC_PEM: &str = include_str!("fixtures/jwt/TEST-ONLY-ec-private.pem");
const ED_PEM: &str = include_str!("fixtures/jwt/TEST-ONLY-ed25519-private.pem");
const NOW: u64 = 1_800_000_000;
const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";

fn verifier() -> TokenVerifier {
    ring_provider::install();
    let mut v = TokenVerifier::new(parse_jwks(JWKS).expect("fixture JWKS"));
    v.issuer = Some(ISS.into());
    v.audience = Some(AUD.into());
    v
}

fn pyjwt(name: &str) -> String {
    let t: HashMap<String, String> = serde_json::from_str(TOKENS).expect("tokens");
    t[name].clone()
}

fn claims() -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": "device-7", "exp": NOW + 3600, "scope": "mqtt:stream"})
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    ring_provider::install();
    let key = match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256 => {
            EncodingKey::from_rsa_pem(RSA_PEM.as_bytes())
        }
        Algorithm::ES256 => EncodingKey::from_ec_pem(EC_PEM.as_bytes()),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(ED_PEM.as_bytes()),
        _ => panic!("no fixture for {alg:?}"),
    }
    .expect("fixture key");
    let mut h = Header::new(alg);
    h.kid = kid.map(String::from);
    encode(&h, claims, &key).expect("sign")
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

/// A token with an arbitrary header and payload and the given signature bytes.
fn forge(header: &Value, payload: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes()),
        b64(signature)
    )
}

#[test]
fn tokens_from_pyjwt_verify() {
    let v = verifier();
    for name in ["pyjwt-rs256-stream", "pyjwt-ps256-stream", "pyjwt-es256-stream", "pyjwt-eddsa-stream"] {
        let id = v.verify(&pyjwt(name), NOW).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(id.subject, "device-42");
        assert!(id.has_scopes(&["mqtt:stream"]), "{name}: {:?}", id.roles);
        assert_eq!(id.expires_at, 4_102_444_800 + v.leeway, "exp plus the leeway");
    }
    let id = v.verify(&pyjwt("pyjwt-rs256-noscope"), NOW).expect("valid, other scope");
    assert!(!id.has_scopes(&["mqtt:stream"]));
    let id = v.verify(&pyjwt("pyjwt-es256-stream"), NOW).expect("array scope");
    assert_eq!(id.roles, vec!["mqtt:stream", "mqtt:admin"]);
}

#[test]
fn dotted_role_claims_and_claim_text() {
    let mut v = verifier();
    v.roles_claim = "realm_access.roles".into();
    let id = v.verify(&pyjwt("pyjwt-eddsa-stream"), NOW).expect("valid");
    assert_eq!(id.roles, vec!["ops"]);
    assert_eq!(id.claim("iss").as_deref(), Some(ISS));
    assert_eq!(id.claim("exp").as_deref(), Some("4102444800"));
    assert_eq!(id.claim("realm_access.nope"), None);
}

#[test]
fn tokens_signed_on_the_ring_provider_verify() {
    let v = verifier();
    for (alg, kid) in [(Algorithm::RS256, "example"), (Algorithm::ES256, "ec-1"), (Algorithm::EdDSA, "ed-1")]
    {
        let t = sign(alg, Some(kid), &claims());
        assert_eq!(v.verify(&t, NOW).map(|i| i.subject), Ok("device-7".to_string()), "{alg:?}");
    }
}

#[test]
fn hmac_keys_from_a_shared_secret() {
    ring_provider::install();
    let key = Key::hmac(b"TEST-ONLY shared secret", Algorithm::HS256, None).expect("key");
    let v = TokenVerifier::new(vec![key]);
    let t = encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(b"TEST-ONLY shared secret"),
    )
    .expect("sign");
    assert!(v.verify(&t, NOW).is_ok());
    let wrong =
        encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(b"guess")).expect("sign");
    assert_eq!(v.verify(&wrong, NOW), Err(AuthError::BadSignature));
}

#[test]
fn leeway_applies_to_exp_and_nbf() {
    let v = verifier();
    let mut c = claims();
    c["exp"] = json!(NOW - 10);
    assert!(
        v.verify(&sign(Algorithm::RS256, Some("example"), &c), NOW).is_ok(),
        "10 s past exp, 30 s leeway"
    );
    c["exp"] = json!(NOW + 3600);
    c["nbf"] = json!(NOW + 20);
    assert!(
        v.verify(&sign(Algorithm::RS256, Some("example"), &c), NOW).is_ok(),
        "nbf 20 s ahead, 30 s leeway"
    );
}

#[test]
fn hostile_tokens_are_refused_each_for_its_reason() {
    let v = verifier();
    let good = sign(Algorithm::RS256, Some("example"), &claims());
    let parts: Vec<&str> = good.split('.').collect();
    let rsa_header = json!({"alg": "RS256", "kid": "example", "typ": "JWT"});
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        sign(Algorithm::RS256, Some("example"), &c)
    };
    // HS256 "signed" with the RSA public key material: the classic confusion attack.
    let jwk: Value =
        serde_json::from_str(include_str!("fixtures/jwt/TEST-ONLY-rsa-public.jwk.json")).expect("jwk");
    let confused = {
        let header = json!({"alg": "HS256", "kid": "example"});
        let msg = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims().to_string().as_bytes()));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, jwk["n"].as_str().expect("n").as_bytes());
        format!("{msg}.{}", b64(ring::hmac::sign(&key, msg.as_bytes()).as_ref()))
    };
    let other_rsa = {
        // A key that is not in the set, with the same kid.
        let pem = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
            .output()
            .expect("openssl");
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some("example".into());
        encode(&h, &claims(), &EncodingKey::from_rsa_pem(&pem.stdout).expect("pem")).expect("sign")
    };
    let mut tampered_sig = parts[2].as_bytes().to_vec();
    tampered_sig[10] = if tampered_sig[10] == b'A' { b'B' } else { b'A' };
    let cases: Vec<(&str, String, AuthError)> = vec![
        ("alg none", forge(&json!({"alg": "none"}), &claims(), b""), AuthError::AlgNone),
        ("alg None", forge(&json!({"alg": "None", "kid": "example"}), &claims(), b""), AuthError::AlgNone),
        ("alg NONE with a signature", forge(&json!({"alg": "NONE"}), &claims(), b"sig"), AuthError::AlgNone),
        ("HS256 with the RSA public key", confused, AuthError::AlgMismatch),
        (
            "PS256 under the RS256 kid",
            {
                let mut h = Header::new(Algorithm::PS256);
                h.kid = Some("example".into());
                encode(&h, &claims(), &EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).expect("pem"))
                    .expect("sign")
            },
            AuthError::AlgMismatch,
        ),
        (
            "RS512 under an RS256 key",
            sign(Algorithm::RS512, Some("example"), &claims()),
            AuthError::AlgMismatch,
        ),
        (
            "ES256 naming the RSA kid",
            sign(Algorithm::ES256, Some("example"), &claims()),
            AuthError::AlgMismatch,
        ),
        ("unknown kid", sign(Algorithm::RS256, Some("stolen"), &claims()), AuthError::UnknownKid),
        ("no kid where keys have ids", sign(Algorithm::RS256, None, &claims()), AuthError::UnknownKid),
        (
            "unknown algorithm",
            forge(&json!({"alg": "XS999", "kid": "example"}), &claims(), b"x"),
            AuthError::UnsupportedAlg,
        ),
        ("signed by another key", other_rsa, AuthError::BadSignature),
        ("wrong issuer", with(&|c| c["iss"] = json!("https://evil.example.com")), AuthError::WrongIssuer),
        (
            "no issuer",
            with(&|c| c.as_object_mut().map(|o| o.remove("iss")).map(drop).unwrap_or(())),
            AuthError::WrongIssuer,
        ),
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("https://other.example.com")),
            AuthError::WrongAudience,
        ),
        ("audience list without ours", with(&|c| c["aud"] = json!(["a", "b"])), AuthError::WrongAudience),
        ("expired", with(&|c| c["exp"] = json!(NOW - 3600)), AuthError::Expired),
        (
            "no exp",
            with(&|c| c.as_object_mut().map(|o| o.remove("exp")).map(drop).unwrap_or(())),
            AuthError::Expired,
        ),
        ("exp as text", with(&|c| c["exp"] = json!("tomorrow")), AuthError::Expired),
        ("not yet valid", with(&|c| c["nbf"] = json!(NOW + 3600)), AuthError::NotYetValid),
        ("no subject", with(&|c| c["sub"] = json!(42)), AuthError::NoIdentity),
        (
            "tampered payload",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(with(&|c| c["sub"] = json!("admin")).split('.').nth(1).expect("p").as_bytes()),
                parts[2]
            ),
            AuthError::BadSignature,
        ),
        (
            "tampered payload (re-encoded claims)",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(json!({"iss": ISS, "aud": AUD, "sub": "admin", "exp": NOW + 99, "scope": "mqtt:stream"})
                    .to_string()
                    .as_bytes()),
                parts[2]
            ),
            AuthError::BadSignature,
        ),
        (
            "tampered signature",
            format!("{}.{}.{}", parts[0], parts[1], String::from_utf8(tampered_sig).expect("ascii")),
            AuthError::BadSignature,
        ),
        (
            "signature of another token",
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                with(&|c| c["sub"] = json!("x")).split('.').nth(2).expect("sig")
            ),
            AuthError::BadSignature,
        ),
        ("signature cut mid-character", good[..good.len() - 21].to_string(), AuthError::Malformed),
        ("truncated to two parts", format!("{}.{}", parts[0], parts[1]), AuthError::Malformed),
        ("four parts", format!("{good}.x"), AuthError::Malformed),
        ("empty", String::new(), AuthError::Malformed),
        ("64 KiB long", format!("{}.{}.{}", parts[0], "A".repeat(65536), parts[2]), AuthError::TooLong),
        ("header not base64", format!("!!!.{}.{}", parts[1], parts[2]), AuthError::Malformed),
        ("header not JSON", format!("{}.{}.{}", b64(b"not json"), parts[1], parts[2]), AuthError::Malformed),
        ("payload not JSON", forge(&rsa_header, &json!("just a string"), b"sig"), AuthError::BadSignature),
        ("header without alg", forge(&json!({"kid": "example"}), &claims(), b"sig"), AuthError::Malformed),
    ];
    assert!(cases.len() >= 20);
    for (name, token, expected) in cases {
        assert_eq!(v.verify(&token, NOW).map(|i| i.subject), Err(expected), "{name}");
    }
}

#[test]
fn hmac_key_as_an_oct_jwk_with_the_secret_from_the_environment() {
    use mqtt_proxy::config::Config;
    ring_provider::install();
    let secret = b"TEST-ONLY shared secret for HS256";
    let k = b64(secret);
    let yaml = "listeners:\n  - name: l\n    bind: 127.0.0.1:0\n    upstream: u\n    guard: g\n\
                upstreams:\n  - name: u\n    servers: [\"127.0.0.1:1\"]\n\
                guards:\n  - name: g\n    keys:\n      - {kty: oct, alg: HS256, k: \"${JWT_SECRET}\"}\n";
    let cfg = Config::parse(yaml, |v| (v == "JWT_SECRET").then(|| k.clone())).expect("valid");
    let v = &cfg.guards[0].verifier;
    let t =
        encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(secret)).expect("sign");
    assert_eq!(v.verify(&t, NOW).map(|i| i.subject), Ok("device-7".to_string()));
    // An RS256 token cannot be checked against the shared secret.
    assert_eq!(v.verify(&sign(Algorithm::RS256, None, &claims()), NOW), Err(AuthError::AlgMismatch));
}

#[test]
fn a_token_without_subject_is_refused_unless_identity_is_optional() {
    let mut c = claims();
    c.as_object_mut().expect("object").remove("sub");
    let t = sign(Algorithm::RS256, Some("example"), &c);
    assert_eq!(verifier().verify(&t, NOW), Err(AuthError::NoIdentity));
    let mut lenient = verifier();
    lenient.require_identity = false;
    let id = lenient.verify(&t, NOW).expect("accepted without sub (Zilla's guard does)");
    assert_eq!(id.subject, "");
    assert!(id.has_scopes(&["mqtt:stream"]));
    // A subject of the wrong type is still refused: optional means absent, not junk.
    c["sub"] = json!(42);
    assert_eq!(lenient.verify(&sign(Algorithm::RS256, Some("example"), &c), NOW), Err(AuthError::NoIdentity));
}
