//! Pieces 2.6 and 3.0 share: servers, channel addresses and parameters, messages
//! and their payload formats, security scopes, and what is only documentation.

use super::model::{Message, OpBinding, Payload, Scheme, Server};
use crate::doc::{pointer_escape, DocError, Node, Obj, Value};

/// Said of keys read but not applied.
pub const IGNORED: &str = "not understood by mqtt-proxy (ignored)";

/// Keys that only document (titles, descriptions, examples, tags, extensions).
pub fn is_documentation(k: &str) -> bool {
    matches!(
        k,
        "title"
            | "summary"
            | "description"
            | "tags"
            | "externalDocs"
            | "examples"
            | "name"
            | "operationId"
            | "messageId"
            | "correlationId"
            | "deprecated"
    ) || (k.starts_with("x-") && !k.starts_with("x-mqtt-proxy"))
}

/// The document's top level: `info.title` into `api`, documentation keys marked
/// read; returns the cursor and `defaultContentType`.
pub fn top<'a>(root: &'a Node, api: &mut super::model::Api) -> Result<(Obj<'a>, Option<String>), DocError> {
    let mut top = Obj::new(root, "")?;
    top.skip(|k| k == "asyncapi" || k == "id" || k == "components" || is_documentation(k));
    if let Some(mut info) = top.opt_obj("info")? {
        api.title = info.opt_str("title")?.unwrap_or_default().to_string();
        info.skip(|_| true);
    }
    let default_ct = top.opt_str("defaultContentType")?.map(str::to_string);
    Ok((top, default_ct))
}

/// Collects `o`'s unread keys as warnings.
pub fn finish(o: Obj<'_>, warnings: &mut Vec<DocError>) {
    warnings.extend(o.unread(IGNORED));
}

/// Reads the `bindings` of an object: MQTT bindings are named as not enforced yet,
/// others ignored.
pub fn bindings(o: &mut Obj<'_>, warnings: &mut Vec<DocError>) -> Result<(), DocError> {
    let Some(mut b) = o.opt_obj("bindings")? else { return Ok(()) };
    if let Some(mut m) = b.opt_obj("mqtt")? {
        m.skip(|k| k == "bindingVersion");
        warnings.extend(m.unread("MQTT binding not enforced yet (ignored)"));
    }
    warnings.extend(b.unread("bindings of other protocols do not apply (ignored)"));
    Ok(())
}

/// Seconds from a binding field: an integer, or a schema's `maximum`.
fn seconds(n: &Node) -> Option<u32> {
    match &n.value {
        Value::Int(i) => u32::try_from(*i).ok(),
        _ => n.get("maximum").and_then(Node::scalar_text).and_then(|x| x.parse::<u32>().ok()),
    }
}

/// An operation's `bindings`: the MQTT one read (`qos`, `retain`,
/// `messageExpiryInterval`), others ignored.
pub fn op_bindings(o: &mut Obj<'_>, warnings: &mut Vec<DocError>) -> Result<OpBinding, DocError> {
    let mut out = OpBinding::default();
    let Some(mut b) = o.opt_obj("bindings")? else { return Ok(out) };
    if let Some(mut m) = b.opt_obj("mqtt")? {
        m.skip(|k| k == "bindingVersion");
        out.qos = match m.opt_u64("qos")? {
            Some(q @ 0..=2) => Some(q as u8),
            Some(q) => return Err(m.error_at("qos", format!("{q}: use 0, 1 or 2"))),
            None => None,
        };
        out.retain = m.opt_bool("retain")?;
        match m.opt("messageExpiryInterval").map(seconds) {
            None => {}
            Some(Some(e)) => out.expiry = Some(e),
            Some(None) => warnings.push(
                m.error_at("messageExpiryInterval", "neither seconds nor a schema with `maximum` (ignored)"),
            ),
        }
        warnings.extend(m.unread("MQTT binding not enforced yet (ignored)"));
    }
    warnings.extend(b.unread("bindings of other protocols do not apply (ignored)"));
    Ok(out)
}

/// A server, from its `protocol` and its host text (`host:port`, maybe with a
/// scheme and `{variables}`), or `None` (with a warning) when it is not MQTT.
pub fn server(
    name: &str,
    o: &mut Obj<'_>,
    host: &str,
    warnings: &mut Vec<DocError>,
) -> Result<Option<Server>, DocError> {
    let protocol = o.req_str("protocol")?;
    let tls = match protocol {
        "mqtt" => false,
        "mqtts" | "secure-mqtt" => true,
        other => {
            warnings.push(o.error_at("protocol", format!("`{other}` is not MQTT: server ignored")));
            return Ok(None);
        }
    };
    o.skip(|k| k == "protocolVersion" || is_documentation(k) || k == "security");
    let mut host = host.to_string();
    if let Some(mut vars) = o.opt_obj("variables")? {
        let vp = vars.pointer().to_string();
        for (k, v) in vars.all() {
            let mut vo = Obj::new(v, &format!("{vp}/{}", pointer_escape(k)))?;
            let d =
                vo.opt_scalar("default")?.ok_or_else(|| vo.error("a server variable needs a `default`"))?;
            vo.skip(|k| k == "enum" || is_documentation(k));
            finish(vo, warnings);
            host = host.replace(&format!("{{{k}}}"), &d);
        }
    }
    let host = host.split_once("://").map_or(host.as_str(), |(_, h)| h).trim_end_matches('/').to_string();
    let (h, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
            Ok(p) => (h.to_string(), p),
            Err(_) => return Err(o.error(format!("`{host}`: the port is not a number"))),
        },
        _ => (host.clone(), if tls { 8883 } else { 1883 }),
    };
    if h.contains('{') {
        return Err(o.error(format!("`{h}`: a variable without a definition")));
    }
    let mut server = Server {
        name: name.to_string(),
        host: h,
        port,
        tls,
        keep_alive: None,
        max_packet_size: None,
        session_expiry: None,
        line: o.node().line,
    };
    if let Some(mut b) = o.opt_obj("bindings")? {
        if let Some(mut m) = b.opt_obj("mqtt")? {
            m.skip(|k| k == "bindingVersion");
            server.keep_alive = match m.opt_u64("keepAlive")? {
                Some(k) => {
                    Some(u16::try_from(k).map_err(|_| m.error_at("keepAlive", "at most 65535 seconds"))?)
                }
                None => None,
            };
            server.max_packet_size = m.opt_u64("maximumPacketSize")?;
            server.session_expiry = match m.opt("sessionExpiryInterval") {
                None => None,
                Some(n) => Some(seconds(n).ok_or_else(|| {
                    m.error_at("sessionExpiryInterval", "seconds, or a schema with `maximum`")
                })?),
            };
            warnings.extend(m.unread("MQTT server binding not enforced yet (ignored)"));
        }
        warnings.extend(b.unread("bindings of other protocols do not apply (ignored)"));
    }
    Ok(Some(server))
}

/// The address as a filter (parameters → `+`) and as an ACL template
/// (parameters bound by `x-mqtt-proxy-identity` → `{sub}` / `{claims.x}`).
pub fn address(
    address: &str,
    params: Option<Obj<'_>>,
    at: &Node,
    pointer: &str,
    warnings: &mut Vec<DocError>,
) -> Result<(String, String), DocError> {
    let mut bound: Vec<(String, String)> = Vec::new();
    if let Some(mut p) = params {
        let pp = p.pointer().to_string();
        for (k, v) in p.all() {
            let mut po = Obj::new(v, &format!("{pp}/{}", pointer_escape(k)))?;
            if let Some(claim) = po.opt_str("x-mqtt-proxy-identity")? {
                let t = if claim == "sub" {
                    "{sub}".to_string()
                } else {
                    format!("{{claims.{}}}", claim.trim_start_matches("claims."))
                };
                bound.push((k.to_string(), t));
            }
            po.skip(|k| {
                k == "enum" || k == "default" || k == "schema" || k == "location" || is_documentation(k)
            });
            finish(po, warnings);
        }
    }
    let (mut filter, mut template) = (Vec::new(), Vec::new());
    for level in address.split('/') {
        match level.strip_prefix('{').and_then(|l| l.strip_suffix('}')) {
            Some(name) if !name.contains(['{', '}']) => {
                filter.push("+".to_string());
                template
                    .push(bound.iter().find(|(n, _)| n == name).map_or("+".to_string(), |(_, t)| t.clone()));
            }
            _ if level.contains(['{', '}']) => {
                return Err(DocError::at(
                    at,
                    pointer,
                    format!("`{address}`: a parameter must be a whole topic level"),
                ))
            }
            _ if level.contains(['+', '#']) => {
                return Err(DocError::at(
                    at,
                    pointer,
                    format!("`{address}`: a channel address names topics; write parameters, not wildcards"),
                ))
            }
            _ => {
                filter.push(level.to_string());
                template.push(level.to_string());
            }
        }
    }
    Ok((filter.join("/"), template.join("/")))
}

/// The schemes a `security` list requires: 3.0 lists Security Scheme objects
/// (references inlined); 2.6 names entries of `components.securitySchemes`
/// (`root` is the resolved 2.6 document).
pub fn schemes(items: &[Node], root: Option<&Node>) -> Vec<Scheme> {
    let mut out = Vec::new();
    for n in items {
        let objects: Vec<&Node> = match root {
            Some(r) => n
                .entries()
                .unwrap_or_default()
                .iter()
                .filter_map(|(name, _, _)| {
                    r.at_pointer(&format!("/components/securitySchemes/{}", pointer_escape(name)))
                })
                .collect(),
            None => vec![n],
        };
        for o in objects {
            let Some(kind) = o.get("type").and_then(Node::as_str) else { continue };
            let detail = o.get("in").or_else(|| o.get("scheme")).and_then(Node::as_str).map(str::to_string);
            let s = Scheme { kind: kind.to_string(), detail, line: o.line };
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// The scopes of a `security` list (`[{scheme: [scopes]}]` in 2.6; 3.0 Security
/// Scheme objects with `scopes`).
pub fn scopes(items: &[Node]) -> Vec<String> {
    let mut out = Vec::new();
    for n in items {
        let Value::Map(m) = &n.value else { continue };
        for (k, _, v) in m {
            let list = if k == "scopes" { Some(v) } else { v.get("scopes").or(Some(v)) };
            if let Some(Node { value: Value::Seq(s), .. }) = list {
                out.extend(s.iter().filter_map(Node::as_str).map(str::to_string));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn payload(
    format: Option<&str>,
    schema: &Node,
    proto_message: Option<String>,
    at: &Obj<'_>,
) -> Result<Option<Payload>, DocError> {
    let f = format.unwrap_or("application/vnd.aai.asyncapi+json").to_ascii_lowercase();
    if f.starts_with("application/vnd.aai.asyncapi")
        || f.starts_with("application/schema+json")
        || f.starts_with("application/schema+yaml")
    {
        return Ok(Some(Payload::Json(schema.to_json())));
    }
    if f.starts_with("application/vnd.apache.avro") {
        return Ok(Some(Payload::Avro(schema.to_json())));
    }
    if f.starts_with("application/vnd.google.protobuf") {
        let text = schema.as_str().ok_or_else(|| at.error("a Protobuf payload is the .proto source text"))?;
        return Ok(Some(Payload::Protobuf(text.to_string(), proto_message)));
    }
    Err(at.error(format!("schema format `{f}`: not supported (payload not validated)")))
}

/// A Message Object; `schema_format` is 2.6's message-level `schemaFormat`.
pub fn message(
    name: &str,
    node: &Node,
    pointer: &str,
    default_content_type: Option<&str>,
    warnings: &mut Vec<DocError>,
) -> Result<Message, DocError> {
    let mut o = Obj::new(node, pointer)?;
    o.skip(|k| is_documentation(k) || k == "traits");
    let content_type = o.opt_str("contentType")?.or(default_content_type).map(str::to_string);
    let proto_message = o.opt_str("x-mqtt-proxy-message")?.map(str::to_string);
    let format = o.opt_str("schemaFormat")?.map(str::to_string);
    let payload = match o.opt("payload") {
        None => None,
        Some(p) => {
            let (format, schema) = match (p.get("schemaFormat"), p.get("schema")) {
                (Some(f), Some(s)) => (f.as_str().map(str::to_string), s),
                _ => (format, p),
            };
            match payload(format.as_deref(), schema, proto_message, &o) {
                Ok(p) => p,
                Err(e) => {
                    warnings.push(e);
                    None
                }
            }
        }
    };
    let hp = o.child("headers");
    let headers = match o.opt("headers") {
        Some(h) => headers(h, &hp, warnings),
        None => Vec::new(),
    };
    bindings(&mut o, warnings)?;
    finish(o, warnings);
    Ok(Message { name: name.to_string(), payload, content_type, headers, line: node.line })
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.replace('$', "$$")).to_string()
}

/// A `headers` schema (an object schema) as User Property checks: string (length,
/// `pattern` or `enum`), integer / number (`minimum`, `maximum`), boolean. Other
/// shapes are warnings. Headers are 5.0 User Properties; a missing one passes.
fn headers(h: &Node, pointer: &str, warnings: &mut Vec<DocError>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(props) = h.get("properties").and_then(Node::entries) else {
        warnings.push(DocError::at(h, pointer, "headers without `properties` (ignored)"));
        return out;
    };
    for (name, _, p) in props {
        let at = format!("{pointer}/properties/{}", pointer_escape(name));
        let num = |k: &str| p.get(k).and_then(Node::scalar_text);
        let mut keys = Vec::new();
        match p.get("type").and_then(Node::as_str) {
            Some("string") => {
                keys.push("model: string".to_string());
                if let Some(n) = num("minLength") {
                    keys.push(format!("min_length: {n}"));
                }
                if let Some(n) = num("maxLength") {
                    keys.push(format!("max_length: {n}"));
                }
                let choices = p.get("enum").and_then(|e| match &e.value {
                    Value::Seq(s) => {
                        Some(s.iter().filter_map(Node::as_str).map(regex::escape).collect::<Vec<_>>())
                    }
                    _ => None,
                });
                let pattern = p.get("pattern").and_then(Node::as_str);
                if choices.is_some() && pattern.is_some() {
                    warnings.push(DocError::at(p, &at, "`pattern` next to `enum`: only `enum` is checked"));
                }
                match (choices, pattern) {
                    (Some(c), _) => {
                        keys.push(format!("pattern: {}", json_str(&format!("^(?:{})$", c.join("|")))))
                    }
                    (None, Some(pat)) => keys.push(format!("pattern: {}", json_str(pat))),
                    (None, None) => {}
                }
            }
            Some(t @ ("integer" | "number")) => {
                keys.push(format!("model: {}", if t == "integer" { "int64" } else { "double" }));
                if let Some(n) = num("minimum") {
                    keys.push(format!("min: {n}"));
                }
                if let Some(n) = num("maximum") {
                    keys.push(format!("max: {n}"));
                }
            }
            Some("boolean") => keys.push("model: boolean".to_string()),
            other => {
                warnings.push(DocError::at(
                    p,
                    &at,
                    format!("header type {other:?} is not checked (ignored)"),
                ));
                continue;
            }
        }
        out.push((name.clone(), format!("{{{}}}", keys.join(", "))));
    }
    out
}
