//! A Zilla `zilla.yaml` (recognised by its top-level `bindings:` key) translated
//! into native config text, which then takes the native path (raw serde structs →
//! validated [`super::Config`]) like any other file.
//!
//! Supported: `vaults` (filesystem, PKCS#12 keys), `guards` (jwt: issuer, audience,
//! inline JWKs, roles from `scope`), the binding chain tcp server (ports, routes by
//! port) → tls server (vault key, sni, alpn) → mqtt server (authorization by user
//! name or password pattern, routes `guarded` by roles with `when` session
//! client-id / publish topic / subscribe topic, `exit`) → mqtt client → tcp client,
//! `${{env.NAME}}`, and `telemetry` exporters `stdout` (our log output) and
//! `prometheus` (our metrics endpoint). Every other key, type or feature is refused
//! with its JSON pointer and line; nothing is ignored. Relative paths stay relative
//! to the Zilla file, which is where the native config is read from.
//!
//! No I/O here: text in, text out ([`translate`]).

mod bindings;
mod emit;
mod plan;
mod security;
mod text;

pub use emit::Emitter;
pub use text::EnvMode;

use crate::doc::{self, DocError, Obj};

/// What an unread key is told.
const UNSUPPORTED: &str = "not supported by mqtt-proxy's Zilla translation";

/// True when `text` is a Zilla config (a mapping with a top-level `bindings` key).
pub fn is_zilla(text: &str) -> bool {
    doc::parse(text).is_ok_and(|n| n.get("bindings").is_some() && n.get("listeners").is_none())
}

/// Translates Zilla config text into native config text (with the Zilla line of
/// every emitted line, for errors found later on the native path).
pub fn translate(text: &str, mode: &EnvMode<'_>) -> Result<Emitter, DocError> {
    let root = doc::parse(text).map_err(|m| DocError { line: 0, pointer: "/".into(), message: m })?;
    let mut top = Obj::new(&root, "")?;
    let name = top.opt_str("name")?.map(str::to_string);
    let vaults = security::vaults(top.opt_obj("vaults")?, mode)?;
    let guards = security::guards(top.opt_obj("guards")?, mode)?;
    let b = top.opt_obj("bindings")?.ok_or_else(|| top.error("`bindings` is required"))?;
    let (bindings, mut notes) = bindings::read(b, mode)?;
    let telemetry = plan::telemetry(top.opt_obj("telemetry")?, mode, &mut notes)?;
    if top.opt("catalogs").is_some() {
        return Err(top.error_at(
            "catalogs",
            "Zilla catalogs are not supported yet: use native `catalogs` and `schemas`",
        ));
    }
    top.finish(UNSUPPORTED)?;
    let plan = plan::build(&bindings, &vaults, &guards)?;
    Ok(plan::emit(name.as_deref(), &plan, &guards, &telemetry, &notes))
}

#[cfg(test)]
mod tests;
