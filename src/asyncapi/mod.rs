//! AsyncAPI 2.6 and 3.0 documents (YAML or JSON) → the native config: the
//! document's MQTT servers become listeners, its channels topic ACLs per direction
//! (what clients may publish, what they may subscribe to), its message payloads
//! schema rules checked in both directions (JSON Schema, Avro, Protobuf), its
//! content types Content Type checks.
//!
//! The document is taken to describe the proxy's clients: 3.0 `send` (2.6
//! `subscribe`, "messages produced by the application") lets them publish, 3.0
//! `receive` (2.6 `publish`) lets them subscribe. Channel parameters become `+`, or
//! the client's own identity when bound to a claim (`x-mqtt-proxy-identity: sub`).
//!
//! Pure apart from reading the document and the files its `$ref`s name
//! ([`read`] takes the reader). Whatever is read but not applied (bindings,
//! headers, security without a guard, unknown keys) is a warning with its JSON
//! pointer and line; `--strict` makes warnings errors.

mod common;
mod model;
mod refs;
mod render;
mod v2;
mod v3;

pub use model::{Action, Api, Channel, Message, Operation, Payload, Scheme, Server};
pub use render::{broker_side, limits, listeners, render, schemas, table, Listeners, Upstream};

use crate::doc::{parse, DocError};
use std::path::Path;

/// Reads the document at `path` (and the files its references name) with `read`.
pub fn read(path: &Path, read: &dyn Fn(&Path) -> std::io::Result<String>) -> Result<Api, DocError> {
    let top = |m: String| DocError { line: 0, pointer: "/".into(), message: m };
    let text = read(path).map_err(|e| top(format!("cannot read {}: {e}", path.display())))?;
    let raw = parse(&text).map_err(top)?;
    let mut files = refs::Files::new(read);
    let resolved = refs::resolve(&raw, path, &raw, &mut files)?;
    let version = resolved
        .get("asyncapi")
        .and_then(|n| n.scalar_text())
        .ok_or_else(|| top("not an AsyncAPI document: no `asyncapi` version".into()))?;
    let mut api = Api { version: version.clone(), ..Api::default() };
    match version.as_str() {
        "3.0.0" => v3::read(&raw, &resolved, &mut api)?,
        v if v.starts_with("2.") => {
            if v != "2.6.0" {
                let at = raw.get("asyncapi").map_or(0, |n| n.line);
                api.warnings.push(DocError {
                    line: at,
                    pointer: "/asyncapi".into(),
                    message: format!("`{v}` read as 2.6.0"),
                });
            }
            v2::read(&resolved, &mut api)?
        }
        v => return Err(top(format!("AsyncAPI `{v}` is not supported: use 2.6.0 or 3.0.0"))),
    }
    for c in &api.channels {
        for o in c.operations.iter().filter(|o| o.action == Action::Receive) {
            if o.binding.retain.is_some() || o.binding.expiry.is_some() {
                api.warnings.push(DocError {
                    line: o.line,
                    pointer: format!("/operations/{}/bindings/mqtt", crate::doc::pointer_escape(&o.id)),
                    message: "`retain` and `messageExpiryInterval` of a receive operation describe deliveries: not enforced (ignored)".into(),
                });
            }
        }
        for a in [Action::Send, Action::Receive] {
            if let Err(m) = render::schema(c, a) {
                api.warnings.push(DocError {
                    line: c.line,
                    pointer: format!("/channels/{}", crate::doc::pointer_escape(&c.id)),
                    message: m,
                });
            }
        }
    }
    Ok(api)
}

/// What a document asks for that only a guard can give: security schemes and
/// scopes, and channel parameters bound to the identity (which then take any value).
pub fn without_guard(api: &Api) -> Vec<DocError> {
    let mut out = Vec::new();
    if let Some(s) = api.schemes.first() {
        out.push(DocError {
            line: s.line,
            pointer: "/".into(),
            message: format!(
                "security (`{}`) is not applied without a guard: clients are not authenticated",
                s.kind
            ),
        });
    }
    for c in api.channels.iter().filter(|c| c.template != c.filter) {
        out.push(DocError {
            line: c.line,
            pointer: format!("/channels/{}", crate::doc::pointer_escape(&c.id)),
            message: format!(
                "`{}`: parameters bound to the identity apply only with a guard (else any value: `{}`)",
                c.template, c.filter
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests;
