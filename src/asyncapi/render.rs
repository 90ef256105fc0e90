//! An [`Api`] as native config text ([`render`]) and as the table
//! `mqtt-proxy asyncapi check` prints ([`table`]).

use super::model::{Action, Api, Channel, Message, Payload};
use std::fmt::Write;

/// A broker group the listeners send their clients to.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Name.
    pub name: String,
    /// `host:port` of each server (native text).
    pub servers: Vec<String>,
}

fn q(s: &str) -> String {
    serde_json::Value::String(s.replace('$', "$$")).to_string()
}

fn list(items: &[String]) -> String {
    let v: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", v.join(", "))
}

/// ACL entries for one action: each operation's channel template (its filter
/// without a guard: a parameter bound to the identity means nothing without a
/// token) with the scopes that operation needs beyond `common`.
fn entries(api: &Api, action: Action, guard: bool, common: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    for c in &api.channels {
        for o in c.operations.iter().filter(|o| o.action == action) {
            let filter = q(if guard { &c.template } else { &c.filter });
            let extra: Vec<String> = o.scopes.iter().filter(|s| !common.contains(s)).cloned().collect();
            let mut keys = Vec::new();
            if guard && !extra.is_empty() {
                keys.push(format!("scopes: {}", list(&extra)));
            }
            if let Some(qos) = o.binding.qos {
                keys.push(format!("max_qos: {qos}"));
            }
            if action == Action::Send && o.binding.retain == Some(false) {
                keys.push("retain: false".into());
            }
            if let Some(e) = o.binding.expiry.filter(|_| action == Action::Send) {
                keys.push(format!("max_message_expiry: {e}"));
            }
            let e = match keys.is_empty() {
                true => filter,
                false => format!("{{filter: {filter}, {}}}", keys.join(", ")),
            };
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    format!("[{}]", out.join(", "))
}

/// Scopes every operation requires: a client needs them to connect.
fn common_scopes(api: &Api) -> Vec<String> {
    let mut ops = api.channels.iter().flat_map(|c| &c.operations);
    let Some(first) = ops.next() else { return Vec::new() };
    let mut out = first.scopes.clone();
    for o in ops {
        out.retain(|s| o.scopes.contains(s));
    }
    out
}

/// A validator for one direction of a channel.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    /// Native model and schema text of the payload (none: any payload).
    pub model: Option<(&'static str, String)>,
    /// The Content Type every message names.
    pub content_type: Option<String>,
    /// User Property checks every message shares (name, native content).
    pub headers: Vec<(String, String)>,
}

/// The checks of the messages of `c` in one direction, `None` when there is
/// nothing to check, or why the payloads cannot be checked.
pub(crate) fn schema(c: &Channel, action: Action) -> Result<Option<Check>, String> {
    let msgs: Vec<_> = c.operations.iter().filter(|o| o.action == action).flat_map(|o| &o.messages).collect();
    let Some(first) = msgs.first() else { return Ok(None) };
    let same = |f: &dyn Fn(&&Message) -> bool| msgs.iter().all(f);
    let content_type = first.content_type.clone().filter(|ct| same(&|m| m.content_type.as_ref() == Some(ct)));
    let headers = if same(&|m| m.headers == first.headers) { first.headers.clone() } else { Vec::new() };
    let payloads: Vec<&Payload> = msgs.iter().filter_map(|m| m.payload.as_ref()).collect();
    let model = match payloads.as_slice() {
        _ if payloads.len() < msgs.len() => None,
        [Payload::Json(s)] => Some(("json", s.to_string())),
        [Payload::Avro(s)] => Some(("avro", s.to_string())),
        [Payload::Protobuf(t, _)] => Some(("protobuf", t.clone())),
        many if many.iter().all(|p| matches!(p, Payload::Json(_))) => {
            let all: Vec<&serde_json::Value> = many
                .iter()
                .filter_map(|p| match p {
                    Payload::Json(s) => Some(s),
                    _ => None,
                })
                .collect();
            Some(("json", serde_json::json!({ "anyOf": all }).to_string()))
        }
        _ => {
            return Err(format!(
                "channel `{}`: several Avro or Protobuf messages in one direction (not validated)",
                c.id
            ))
        }
    };
    if model.is_none() && content_type.is_none() && headers.is_empty() {
        return Ok(None);
    }
    Ok(Some(Check { model, content_type, headers }))
}

/// How a document's listeners are written.
#[derive(Debug, Clone, Default)]
pub struct Listeners<'a> {
    /// The upstream their clients go to.
    pub upstream: &'a str,
    /// The guard that authenticates them (operation scopes then apply).
    pub guard: Option<&'a str>,
}

/// The `listeners:` block: one listener per MQTT server, with the channels as ACL.
pub fn listeners(api: &Api, how: &Listeners<'_>) -> String {
    let mut out = String::from("listeners:\n");
    let g = how.guard.is_some();
    let common = if g { common_scopes(api) } else { Vec::new() };
    let (publish, subscribe) =
        (entries(api, Action::Send, g, &common), entries(api, Action::Receive, g, &common));
    for s in &api.servers {
        let host = if s.host.parse::<std::net::IpAddr>().is_ok() {
            s.host.clone()
        } else if s.host == "localhost" {
            "127.0.0.1".into()
        } else {
            let _ = writeln!(
                out,
                "  # `{}` is not an address of this machine: listening on every interface",
                s.host
            );
            "0.0.0.0".into()
        };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let _ = writeln!(out, "  - name: {}   # servers.{} (line {})", q(&s.name), s.name, s.line);
        let _ = writeln!(out, "    bind: {}", q(&format!("{host}:{}", s.port)));
        let _ = writeln!(out, "    upstream: {}", q(how.upstream));
        if let Some(g) = how.guard {
            let _ = writeln!(out, "    guard: {}", q(g));
            let _ = writeln!(out, "    scopes: {}", list(&common));
        }
        if s.tls {
            let _ = writeln!(out, "    # mqtts: TLS from the config's `asyncapi[].tls`");
        }
        let _ = writeln!(out, "    acl:\n      publish: {publish}\n      subscribe: {subscribe}");
    }
    out
}

/// The `catalogs:` and `schemas:` blocks: one validator per channel and direction
/// whose messages all have a payload schema (empty text when there is none).
pub fn schemas(api: &Api, catalog: &str) -> String {
    let mut out = String::new();
    let mut subjects = Vec::new();
    let mut rules = Vec::new();
    for c in &api.channels {
        let send = schema(c, Action::Send).ok().flatten();
        let recv = schema(c, Action::Receive).ok().flatten();
        let both = send.is_some() && send == recv;
        for (dir, s) in [("publish", send.clone()), ("deliver", recv)] {
            let Some(check) = s else { continue };
            if both && dir == "deliver" {
                continue;
            }
            let dir = if both { "both" } else { dir };
            let subject = format!("{}/{dir}", c.filter);
            if let Some((_, text)) = &check.model {
                subjects.push((subject.clone(), text.clone()));
            }
            rules.push((c, dir, subject, check));
        }
    }
    if rules.is_empty() {
        return out;
    }
    if !subjects.is_empty() {
        let _ = writeln!(out, "catalogs:\n  - name: {}\n    inline:", q(catalog));
        for (subject, text) in &subjects {
            let _ = writeln!(out, "      {}: {}", q(subject), q(text));
        }
    }
    let _ = writeln!(out, "schemas:");
    for (c, dir, subject, check) in &rules {
        let _ = writeln!(out, "  - filter: {}   # channel at line {}", q(&c.filter), c.line);
        let _ = writeln!(out, "    direction: {dir}");
        if let Some((model, _)) = &check.model {
            let _ = writeln!(
                out,
                "    content: {{model: {model}, catalog: {}, subject: {}}}",
                q(catalog),
                q(subject)
            );
        }
        if let Some(ct) = &check.content_type {
            let _ = writeln!(out, "    content_type: {}", q(ct));
        }
        if !check.headers.is_empty() {
            let _ = writeln!(out, "    user_properties:");
            for (name, content) in &check.headers {
                let _ = writeln!(out, "      {}: {content}", q(name));
            }
        }
    }
    out
}

/// The `upstreams:` block for a document whose servers are brokers, and `routes:`
/// sending its channels' topics there (publishes to `send` channels,
/// subscriptions to `receive` channels).
pub fn broker_side(api: &Api, name: &str) -> String {
    let servers: Vec<String> = api
        .servers
        .iter()
        .map(|s| {
            let h = if s.host.contains(':') { format!("[{}]", s.host) } else { s.host.clone() };
            format!("{h}:{}", s.port)
        })
        .collect();
    let mut out = format!("upstreams:\n  - name: {}\n    servers: {}\n", q(name), list(&servers));
    let topics = |a: Action| -> Vec<String> {
        let mut v: Vec<String> = api
            .channels
            .iter()
            .filter(|c| c.operations.iter().any(|o| o.action == a))
            .map(|c| c.filter.clone())
            .collect();
        v.dedup();
        v
    };
    let (p, s) = (topics(Action::Send), topics(Action::Receive));
    if !p.is_empty() || !s.is_empty() {
        let _ = writeln!(
            out,
            "routes:\n  - publish_topics: {}\n    subscribe_topics: {}\n    upstream: {}",
            list(&p),
            list(&s),
            q(name)
        );
    }
    out
}

/// The limits the servers' MQTT bindings ask for: the smallest `keepAlive`,
/// `maximumPacketSize` and `sessionExpiryInterval` of them.
pub fn limits(api: &Api) -> (Option<u16>, Option<u64>, Option<u32>) {
    let keep_alive = api.servers.iter().filter_map(|s| s.keep_alive).min();
    let max_packet = api.servers.iter().filter_map(|s| s.max_packet_size).min();
    let session_expiry = api.servers.iter().filter_map(|s| s.session_expiry).min();
    (keep_alive, max_packet, session_expiry)
}

/// The native config for `api` (from `source`) run on its own: its listeners
/// send clients to `upstream` and, with `guard`, authenticate them with that
/// (native) guard.
pub fn render(api: &Api, source: &str, upstream: &Upstream, guard: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Native mqtt-proxy config derived from AsyncAPI {} document `{}` ({source}).",
        api.version, api.title
    );
    let _ = writeln!(
        out,
        "# Clients may publish to `send` channels and subscribe to `receive` channels, nothing else."
    );
    out.push_str(&listeners(api, &Listeners { upstream: &upstream.name, guard }));
    // Server addresses are native text already (`${MQTT_BROKER:-…}` stays a reference).
    let servers: Vec<String> =
        upstream.servers.iter().map(|s| serde_json::Value::String(s.clone()).to_string()).collect();
    let _ =
        writeln!(out, "upstreams:\n  - name: {}\n    servers: [{}]", q(&upstream.name), servers.join(", "));
    out.push_str(&schemas(api, "asyncapi"));
    let (keep_alive, max_packet, session_expiry) = limits(api);
    if keep_alive.is_some() || max_packet.is_some() || session_expiry.is_some() {
        let _ = writeln!(out, "limits:   # the servers' MQTT bindings");
        if let Some(k) = keep_alive {
            let _ = writeln!(out, "  keep_alive_max: {k}");
        }
        if let Some(m) = max_packet {
            let _ = writeln!(out, "  max_packet_size: {m}");
        }
        if let Some(e) = session_expiry {
            let _ = writeln!(out, "  session_expiry_max: {e}");
        }
    }
    out
}

/// Servers, channels (filter, ACL template, who may do what) and validators.
pub fn table(api: &Api) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "AsyncAPI {} `{}`", api.version, api.title);
    for s in &api.servers {
        let _ = writeln!(
            out,
            "listener  {:<16} {}:{}{}",
            s.name,
            s.host,
            s.port,
            if s.tls { " (TLS)" } else { "" }
        );
    }
    let _ = writeln!(
        out,
        "{:<16} {:<36} {:<8} {:<10} validators",
        "channel", "topic (ACL template)", "publish", "subscribe"
    );
    for c in &api.channels {
        let can = |a: Action| {
            let ops: Vec<_> = c.operations.iter().filter(|o| o.action == a).collect();
            match ops.iter().find(|o| !o.scopes.is_empty()) {
                _ if ops.is_empty() => "-".to_string(),
                Some(o) => format!("yes {:?}", o.scopes),
                None => "yes".to_string(),
            }
        };
        let mut v = Vec::new();
        for (a, d) in [(Action::Send, "publish"), (Action::Receive, "deliver")] {
            match schema(c, a) {
                Ok(Some(check)) => {
                    let model = check.model.map_or("any payload", |(m, _)| m);
                    let ct = check.content_type.map(|c| format!(" ({c})")).unwrap_or_default();
                    let h: Vec<&str> = check.headers.iter().map(|(n, _)| n.as_str()).collect();
                    let h = if h.is_empty() { String::new() } else { format!(" user properties {h:?}") };
                    v.push(format!("{d}: {model}{ct}{h}"))
                }
                Ok(None) => {}
                Err(e) => v.push(format!("{d}: none ({e})")),
            }
        }
        let _ = writeln!(
            out,
            "{:<16} {:<36} {:<8} {:<10} {}",
            c.id,
            c.template,
            can(Action::Send),
            can(Action::Receive),
            v.join("; ")
        );
    }
    for w in &api.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
