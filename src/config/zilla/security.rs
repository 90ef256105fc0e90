//! Zilla `vaults` (filesystem keystores) and `guards` (jwt), read into what the
//! native config needs: a PKCS#12 path and password per vault, issuer / audience /
//! JWKs per guard. Anything else in these sections is refused with its place.

use super::emit::Src;
use super::text::{native, EnvMode};
use super::UNSUPPORTED;
use crate::doc::{DocError, Node, Obj, Value};

/// A vault's key store.
#[derive(Debug, Clone)]
pub struct Store {
    /// PKCS#12 path (native text, relative to the Zilla file).
    pub path: String,
    /// Its password (native text).
    pub password: Option<String>,
}

/// A guard, as the native config writes it.
#[derive(Debug, Clone)]
pub struct JwtGuard {
    /// Zilla name.
    pub name: String,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required `aud`.
    pub audience: Option<String>,
    /// JWKs (JSON, strings in native text, base64 fields made base64url).
    pub keys: Vec<serde_json::Value>,
    /// Where it was defined.
    pub src: Src,
}

fn src(node: &Node, pointer: &str) -> Src {
    Src { line: node.line, pointer: pointer.to_string() }
}

/// `vaults:` → key store per vault name.
pub fn vaults(v: Option<Obj<'_>>, mode: &EnvMode<'_>) -> Result<Vec<(String, Option<Store>)>, DocError> {
    let Some(mut v) = v else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let pointer = v.pointer().to_string();
    for (name, node) in v.all() {
        let mut o = Obj::new(node, &format!("{pointer}/{}", crate::doc::pointer_escape(name)))?;
        let ty = o.req_str("type")?;
        if ty != "filesystem" {
            return Err(o.error_at("type", format!("`{ty}` vaults are not supported: use `filesystem`")));
        }
        let mut store = None;
        if let Some(mut opts) = o.opt_obj("options")? {
            if let Some(mut k) = opts.opt_obj("keys")? {
                let ty = k.opt_str("type")?.unwrap_or("pkcs12");
                if ty != "pkcs12" {
                    return Err(k.error_at(
                        "type",
                        format!("`{ty}` key stores are not supported: convert it to PKCS#12 (keytool -importkeystore -deststoretype pkcs12)"),
                    ));
                }
                let path_node = k.req("store")?;
                let path = path_node.as_str().ok_or_else(|| k.error_at("store", "expected a path"))?;
                let path = native(mode, path, path_node, &k.child("store"))?;
                let password = match k.opt("password") {
                    None => None,
                    Some(n) => {
                        let s = n.scalar_text().ok_or_else(|| k.error_at("password", "expected a string"))?;
                        Some(native(mode, &s, n, &k.child("password"))?)
                    }
                };
                k.finish(UNSUPPORTED)?;
                store = Some(Store { path, password });
            }
            opts.finish(
                "not supported yet (trust stores and signers: mutual TLS and TLS to brokers come later)",
            )?;
        }
        o.finish(UNSUPPORTED)?;
        out.push((name.to_string(), store));
    }
    Ok(out)
}

/// JWK members that are base64url; Zilla also takes standard base64 there.
const BASE64_MEMBERS: [&str; 11] = ["n", "e", "x", "y", "k", "d", "p", "q", "dp", "dq", "qi"];

fn jwk(node: &Node, pointer: &str, mode: &EnvMode<'_>) -> Result<serde_json::Value, DocError> {
    let Value::Map(m) = &node.value else { return Err(DocError::at(node, pointer, "a JWK is a mapping")) };
    let mut out = serde_json::Map::new();
    for (k, _, v) in m {
        let p = format!("{pointer}/{}", crate::doc::pointer_escape(k));
        let value = match v.as_str() {
            Some(s) => {
                let s = native(mode, s, v, &p)?;
                let s = if BASE64_MEMBERS.contains(&k.as_str()) {
                    s.replace('+', "-").replace('/', "_").trim_end_matches('=').to_string()
                } else {
                    s
                };
                serde_json::Value::String(s)
            }
            None => v.to_json(),
        };
        out.insert(k.clone(), value);
    }
    Ok(serde_json::Value::Object(out))
}

/// `guards:` → JWT guards.
pub fn guards(g: Option<Obj<'_>>, mode: &EnvMode<'_>) -> Result<Vec<JwtGuard>, DocError> {
    let Some(mut g) = g else { return Ok(Vec::new()) };
    let pointer = g.pointer().to_string();
    let mut out = Vec::new();
    for (name, node) in g.all() {
        let gp = format!("{pointer}/{}", crate::doc::pointer_escape(name));
        let mut o = Obj::new(node, &gp)?;
        let ty = o.req_str("type")?;
        if ty != "jwt" {
            return Err(o.error_at("type", format!("`{ty}` guards are not supported: use `jwt`")));
        }
        let mut guard = JwtGuard {
            name: name.to_string(),
            issuer: None,
            audience: None,
            keys: Vec::new(),
            src: src(node, &gp),
        };
        if let Some(mut opts) = o.opt_obj("options")? {
            for (key, slot) in [("issuer", &mut guard.issuer), ("audience", &mut guard.audience)] {
                if let Some(n) = opts.opt(key) {
                    let s = n.as_str().ok_or_else(|| opts.error_at(key, "expected a string"))?;
                    *slot = Some(native(mode, s, n, &opts.child(key))?);
                }
            }
            let kp = opts.child("keys");
            match opts.opt("keys") {
                None => {}
                Some(Node { value: Value::Seq(items), .. }) => {
                    for (i, k) in items.iter().enumerate() {
                        guard.keys.push(jwk(k, &format!("{kp}/{i}"), mode)?);
                    }
                }
                Some(n) => {
                    return Err(DocError::at(
                        n,
                        &kp,
                        "keys must be a list of JWKs (a JWKS URL is not supported: use a native `jwks_file`)",
                    ))
                }
            }
            opts.finish(UNSUPPORTED)?;
        }
        if guard.keys.is_empty() {
            return Err(o.error("a jwt guard needs `options.keys`"));
        }
        o.finish(UNSUPPORTED)?;
        out.push(guard);
    }
    Ok(out)
}
