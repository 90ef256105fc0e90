//! Zilla `bindings:` read into typed bindings (each key consumed or refused), then
//! walked as a graph: tcp server (port) → [tls server] → mqtt server → mqtt client
//! → tcp client. Types and kinds outside that chain are refused with their place.

use super::emit::Src;
use super::text::{key_of, native, EnvMode};
use super::UNSUPPORTED;
use crate::doc::{pointer_escape, DocError, Node, Obj, Value};

/// One port of a tcp server.
#[derive(Debug, Clone)]
pub struct Port {
    /// Compared with route conditions.
    pub key: String,
    /// Native text of the port.
    pub text: String,
    /// Where it is written.
    pub src: Src,
}

/// An mqtt server route.
#[derive(Debug, Clone, Default)]
pub struct MqttRoute {
    /// `guarded`: guard name and roles.
    pub guarded: Option<(String, Vec<String>)>,
    /// Session conditions: client-id patterns.
    pub client_ids: Vec<String>,
    /// Publish conditions: topic filters.
    pub publish: Vec<String>,
    /// Subscribe conditions: topic filters.
    pub subscribe: Vec<String>,
    /// True when it has no `when` (matches everything).
    pub catch_all: bool,
    /// Exit binding.
    pub exit: String,
    /// Where it is written.
    pub src: Src,
}

/// A binding of the supported chain.
#[derive(Debug, Clone)]
pub enum Binding {
    /// `type: tcp, kind: server`.
    TcpServer {
        /// Native text of the host.
        host: String,
        /// Ports.
        ports: Vec<Port>,
        /// (port keys, exit) per route.
        routes: Vec<(Vec<String>, String, Src)>,
        /// Default exit.
        exit: Option<String>,
    },
    /// `type: tls, kind: server`.
    TlsServer {
        /// Vault name.
        vault: Option<String>,
        /// Key aliases in the vault.
        keys: Vec<String>,
        /// Server names.
        sni: Vec<String>,
        /// ALPN protocols.
        alpn: Vec<String>,
        /// Exit.
        exit: String,
    },
    /// `type: mqtt, kind: server`.
    MqttServer {
        /// Guard name and where the token is (user name / password pattern).
        authorization: Option<(String, Option<String>, Option<String>, Src)>,
        /// Routes in order, the binding's `exit` last (as a catch-all).
        routes: Vec<MqttRoute>,
    },
    /// `type: mqtt, kind: client`.
    MqttClient {
        /// Exit.
        exit: String,
    },
    /// `type: tcp, kind: client`.
    TcpClient {
        /// Native `host:port`.
        server: String,
    },
}

/// A binding with its name and place.
#[derive(Debug, Clone)]
pub struct Named {
    /// Name.
    pub name: String,
    /// The binding.
    pub binding: Binding,
    /// Where it is defined.
    pub src: Src,
}

fn strings(o: &mut Obj<'_>, key: &str) -> Result<Vec<String>, DocError> {
    let p = o.child(key);
    let Some(items) = o.opt_seq(key)? else { return Ok(Vec::new()) };
    items
        .iter()
        .enumerate()
        .map(|(i, n)| {
            n.as_str()
                .map(|s| s.replace('$', "$$"))
                .ok_or_else(|| DocError::at(n, &format!("{p}/{i}"), "expected a string"))
        })
        .collect()
}

fn exit(o: &mut Obj<'_>) -> Result<Option<String>, DocError> {
    Ok(o.opt_str("exit")?.map(str::to_string))
}

/// Reads every binding; unknown keys and unsupported types are errors.
pub fn read(b: Obj<'_>, mode: &EnvMode<'_>) -> Result<(Vec<Named>, Vec<String>), DocError> {
    let mut b = b;
    let pointer = b.pointer().to_string();
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for (name, node) in b.all() {
        let bp = format!("{pointer}/{}", pointer_escape(name));
        let mut o = Obj::new(node, &bp)?;
        let ty = o.req_str("type")?;
        let kind = o.req_str("kind")?;
        if let Some(t) = o.opt("telemetry") {
            notes.push(format!(
                "bindings.{name}.telemetry (line {}): mqtt-proxy counts every binding's metrics",
                t.line
            ));
        }
        let binding = match (ty, kind) {
            ("tcp", "server") => tcp_server(&mut o, mode)?,
            ("tls", "server") => tls_server(&mut o)?,
            ("mqtt", "server") => mqtt_server(&mut o)?,
            ("mqtt", "client") => {
                if o.opt("options").is_some() {
                    return Err(o.error_at("options", "mqtt client options are not supported"));
                }
                Binding::MqttClient { exit: exit(&mut o)?.ok_or_else(|| o.error("`exit` is required"))? }
            }
            ("tcp", "client") => tcp_client(&mut o, mode)?,
            ("tls", "client") => {
                return Err(o.error_at("type", "tls client bindings (TLS to brokers) are not supported yet: use a native `upstreams[].tls`"))
            }
            (t, k) => {
                return Err(o.error_at(
                    "type",
                    format!("`{t}` {k} bindings are not supported: mqtt-proxy translates tcp/tls/mqtt server and mqtt/tcp client bindings"),
                ))
            }
        };
        o.finish(UNSUPPORTED)?;
        out.push(Named { name: name.to_string(), binding, src: Src { line: node.line, pointer: bp } });
    }
    Ok((out, notes))
}

fn port_list(n: &Node, p: &str, mode: &EnvMode<'_>) -> Result<Vec<Port>, DocError> {
    let one = |n: &Node, p: &str| -> Result<Port, DocError> {
        let s = n.scalar_text().ok_or_else(|| DocError::at(n, p, "expected a port number"))?;
        if s.contains('-') && !s.contains("${{") {
            return Err(DocError::at(n, p, "port ranges are not supported: list the ports"));
        }
        Ok(Port {
            key: key_of(&s),
            text: native(mode, &s, n, p)?,
            src: Src { line: n.line, pointer: p.to_string() },
        })
    };
    match &n.value {
        Value::Seq(items) => items.iter().enumerate().map(|(i, x)| one(x, &format!("{p}/{i}"))).collect(),
        _ => Ok(vec![one(n, p)?]),
    }
}

fn tcp_server(o: &mut Obj<'_>, mode: &EnvMode<'_>) -> Result<Binding, DocError> {
    let mut opts = o.opt_obj("options")?.ok_or_else(|| o.error("`options` (host, port) is required"))?;
    let host_node = opts.req("host")?;
    let host = host_node.scalar_text().ok_or_else(|| opts.error_at("host", "expected a host"))?;
    let host = native(mode, &host, host_node, &opts.child("host"))?;
    let pp = opts.child("port");
    let ports = port_list(opts.req("port")?, &pp, mode)?;
    opts.finish(UNSUPPORTED)?;
    let mut routes = Vec::new();
    let rp = o.child("routes");
    for (i, r) in o.opt_seq("routes")?.unwrap_or_default().iter().enumerate() {
        let mut ro = Obj::new(r, &format!("{rp}/{i}"))?;
        let mut keys = Vec::new();
        let wp = ro.child("when");
        for (j, w) in ro.opt_seq("when")?.unwrap_or_default().iter().enumerate() {
            let mut wo = Obj::new(w, &format!("{wp}/{j}"))?;
            let cp = wo.child("port");
            let port = wo.req("port")?;
            keys.extend(port_list(port, &cp, mode)?.into_iter().map(|p| p.key));
            wo.finish("not supported (tcp routes are chosen by `port` only)")?;
        }
        let x = exit(&mut ro)?.ok_or_else(|| ro.error("`exit` is required"))?;
        if ro.opt("guarded").is_some() {
            return Err(ro.error_at(
                "guarded",
                "guarded tcp routes are not supported: guard the mqtt server's routes",
            ));
        }
        let src = Src { line: r.line, pointer: ro.pointer().to_string() };
        ro.finish(UNSUPPORTED)?;
        routes.push((keys, x, src));
    }
    Ok(Binding::TcpServer { host, ports, routes, exit: exit(o)? })
}

fn tls_server(o: &mut Obj<'_>) -> Result<Binding, DocError> {
    let vault = o.opt_str("vault")?.map(str::to_string);
    let (mut keys, mut sni, mut alpn) = (Vec::new(), Vec::new(), Vec::new());
    if let Some(mut opts) = o.opt_obj("options")? {
        keys = strings(&mut opts, "keys")?;
        sni = strings(&mut opts, "sni")?;
        alpn = strings(&mut opts, "alpn")?;
        opts.finish("not supported yet (trust, signers, mutual: client certificates come later)")?;
    }
    if o.opt("routes").is_some() {
        return Err(
            o.error_at("routes", "tls server routes (by ALPN or server name) are not supported: use `exit`")
        );
    }
    let exit = exit(o)?.ok_or_else(|| o.error("`exit` is required"))?;
    Ok(Binding::TlsServer { vault, keys, sni, alpn, exit })
}

fn mqtt_server(o: &mut Obj<'_>) -> Result<Binding, DocError> {
    let mut authorization = None;
    if let Some(mut opts) = o.opt_obj("options")? {
        if let Some(mut a) = opts.opt_obj("authorization")? {
            let ap = a.pointer().to_string();
            let entries: Vec<(&str, &Node)> = a.all().collect();
            if entries.len() != 1 {
                return Err(a.error("name exactly one guard"));
            }
            let (guard, node) = entries[0];
            let mut g = Obj::new(node, &format!("{ap}/{}", pointer_escape(guard)))?;
            let mut c = g.opt_obj("credentials")?.ok_or_else(|| g.error("`credentials` is required"))?;
            let mut conn = c.opt_obj("connect")?.ok_or_else(|| c.error("`connect` is required"))?;
            let username = conn.opt_str("username")?.map(str::to_string);
            let password = conn.opt_str("password")?.map(str::to_string);
            if username.is_none() && password.is_none() {
                return Err(conn.error("give `username` or `password` with `{credentials}`"));
            }
            conn.finish(UNSUPPORTED)?;
            c.finish(UNSUPPORTED)?;
            let src = Src { line: node.line, pointer: g.pointer().to_string() };
            g.finish(UNSUPPORTED)?;
            authorization = Some((guard.to_string(), username, password, src));
        }
        if opts.opt("topics").is_some() {
            return Err(opts.error_at(
                "topics",
                "topic validators are not supported in zilla.yaml yet: use native `catalogs` and `schemas`",
            ));
        }
        opts.finish(UNSUPPORTED)?;
    }
    let mut routes = Vec::new();
    let rp = o.child("routes");
    for (i, r) in o.opt_seq("routes")?.unwrap_or_default().iter().enumerate() {
        routes.push(mqtt_route(r, &format!("{rp}/{i}"))?);
    }
    if let Some(x) = exit(o)? {
        let src = Src { line: o.node().line, pointer: o.child("exit") };
        routes.push(MqttRoute { catch_all: true, exit: x, src, ..MqttRoute::default() });
    }
    if routes.is_empty() {
        return Err(o.error("an mqtt server needs `routes` or `exit`"));
    }
    Ok(Binding::MqttServer { authorization, routes })
}

fn mqtt_route(r: &Node, pointer: &str) -> Result<MqttRoute, DocError> {
    let mut ro = Obj::new(r, pointer)?;
    let mut route =
        MqttRoute { src: Src { line: r.line, pointer: pointer.to_string() }, ..MqttRoute::default() };
    if let Some(mut g) = ro.opt_obj("guarded")? {
        let gp = g.pointer().to_string();
        let entries: Vec<(&str, &Node)> = g.all().collect();
        if entries.len() != 1 {
            return Err(g.error("name exactly one guard"));
        }
        let (name, roles) = entries[0];
        let Value::Seq(items) = &roles.value else {
            return Err(DocError::at(
                roles,
                &format!("{gp}/{}", pointer_escape(name)),
                "expected a list of roles",
            ));
        };
        let roles = items.iter().map(|n| {
            n.as_str().map(|s| s.replace('$', "$$")).ok_or_else(|| DocError::at(n, &gp, "a role is a string"))
        });
        route.guarded = Some((name.to_string(), roles.collect::<Result<_, _>>()?));
    }
    let wp = ro.child("when");
    match ro.opt_seq("when")? {
        None => route.catch_all = true,
        Some(conditions) => {
            for (j, w) in conditions.iter().enumerate() {
                let mut wo = Obj::new(w, &format!("{wp}/{j}"))?;
                for (kind, field) in [("session", "client-id"), ("publish", "topic"), ("subscribe", "topic")]
                {
                    let kp = wo.child(kind);
                    for (k, item) in wo.opt_seq(kind)?.unwrap_or_default().iter().enumerate() {
                        let mut io = Obj::new(item, &format!("{kp}/{k}"))?;
                        let v = io.req_str(field)?.replace('$', "$$");
                        if field == "topic" && v.contains('{') {
                            return Err(io.error_at(
                                field,
                                "placeholders in route topics are not supported: use a native `acl` template",
                            ));
                        }
                        io.finish(UNSUPPORTED)?;
                        match kind {
                            "session" => route.client_ids.push(v),
                            "publish" => route.publish.push(v),
                            _ => route.subscribe.push(v),
                        }
                    }
                }
                wo.finish(UNSUPPORTED)?;
            }
        }
    }
    route.exit = exit(&mut ro)?.ok_or_else(|| ro.error("`exit` is required"))?;
    if ro.opt("with").is_some() {
        return Err(
            ro.error_at("with", "route `with` (topic rewriting) is not supported: use a native `mount`")
        );
    }
    ro.finish(UNSUPPORTED)?;
    Ok(route)
}

fn tcp_client(o: &mut Obj<'_>, mode: &EnvMode<'_>) -> Result<Binding, DocError> {
    let mut opts = o.opt_obj("options")?.ok_or_else(|| o.error("`options` (host, port) is required"))?;
    let hn = opts.req("host")?;
    let host = hn.scalar_text().ok_or_else(|| opts.error_at("host", "expected a host"))?;
    let host = native(mode, &host, hn, &opts.child("host"))?;
    let pn = opts.req("port")?;
    let port = pn.scalar_text().ok_or_else(|| opts.error_at("port", "expected a port"))?;
    let port = native(mode, &port, pn, &opts.child("port"))?;
    opts.finish(UNSUPPORTED)?;
    if o.opt("routes").is_some() {
        return Err(o.error_at("routes", "tcp client routes are not supported"));
    }
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
    Ok(Binding::TcpClient { server: format!("{host}:{port}") })
}
