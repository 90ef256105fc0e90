//! The binding graph walked into native listeners, upstreams, guards and route
//! rules ([`build`]), and written out as native YAML with comments ([`emit`]).

use super::bindings::{Binding, MqttRoute, Named};
use super::emit::{list, quote, Emitter, Src};
use super::security::{JwtGuard, Store};
use super::text::{native, EnvMode};
use super::UNSUPPORTED;
use crate::doc::{DocError, Node, Obj};

/// A native listener.
#[derive(Debug)]
pub struct Listener {
    name: String,
    bind: String,
    upstream: String,
    guard: Option<String>,
    scopes: Vec<String>,
    acl: Option<(Vec<AclEntry>, Vec<AclEntry>)>,
    tls: Option<Tls>,
    via: String,
    mqtt: String,
    src: Src,
}

#[derive(Debug)]
struct Tls {
    store: Store,
    alias: String,
    alpn: Vec<String>,
    sni: Vec<String>,
    src: Src,
}

/// An ACL entry: a filter and the roles (beyond the listener's) it needs.
type AclEntry = (String, Vec<String>);

/// A native guard: a Zilla guard with the credential pattern of an mqtt server.
#[derive(Debug)]
pub struct Guard {
    name: String,
    zilla: usize,
    username: Option<String>,
    password: Option<String>,
}

/// A native route rule.
#[derive(Debug)]
pub struct Rule {
    listeners: Vec<String>,
    client_id: Option<String>,
    publish: Vec<String>,
    subscribe: Vec<String>,
    upstream: String,
    src: Src,
}

/// Everything the native config gets.
#[derive(Debug, Default)]
pub struct Plan {
    listeners: Vec<Listener>,
    upstreams: Vec<(String, String, Src)>,
    guards: Vec<Guard>,
    rules: Vec<Rule>,
}

/// `telemetry` as the native config has it.
#[derive(Debug, Default)]
pub struct Telemetry {
    stdout: bool,
    metrics: Option<(String, Src)>,
}

fn err(src: &Src, message: impl Into<String>) -> DocError {
    DocError { line: src.line, pointer: src.pointer.clone(), message: message.into() }
}

fn find<'b>(bindings: &'b [Named], name: &str, from: &Src) -> Result<&'b Named, DocError> {
    bindings.iter().find(|b| b.name == name).ok_or_else(|| err(from, format!("no binding named `{name}`")))
}

/// The upstream an mqtt server route's exit leads to (mqtt client → tcp client).
fn upstream_of(bindings: &[Named], exit: &str, from: &Src, plan: &mut Plan) -> Result<String, DocError> {
    let client = find(bindings, exit, from)?;
    let Binding::MqttClient { exit } = &client.binding else {
        return Err(err(
            from,
            format!("`{exit}` must be an mqtt client binding (mqtt server routes exit to one)"),
        ));
    };
    let tcp = find(bindings, exit, &client.src)?;
    let Binding::TcpClient { server } = &tcp.binding else {
        return Err(err(&client.src, format!("`{exit}` must be a tcp client binding")));
    };
    if !plan.upstreams.iter().any(|(n, _, _)| *n == tcp.name) {
        plan.upstreams.push((tcp.name.clone(), server.clone(), tcp.src.clone()));
    }
    Ok(tcp.name.clone())
}

/// Walks the graph from every tcp server port.
pub fn build(
    bindings: &[Named],
    vaults: &[(String, Option<Store>)],
    guards: &[JwtGuard],
) -> Result<Plan, DocError> {
    let mut plan = Plan::default();
    for t in bindings {
        let Binding::TcpServer { host, ports, routes, exit } = &t.binding else { continue };
        for p in ports {
            let exit = routes
                .iter()
                .find(|(keys, _, _)| keys.contains(&p.key))
                .map(|(_, x, _)| x)
                .or(exit.as_ref())
                .ok_or_else(|| err(&p.src, format!("no route of `{}` takes port {}", t.name, p.key)))?;
            let mut next = find(bindings, exit, &t.src)?;
            let mut via = format!("{} → {}", t.name, next.name);
            let mut tls = None;
            if let Binding::TlsServer { vault, keys, sni, alpn, exit } = &next.binding {
                tls = Some(tls_of(next, vault, keys, sni, alpn, vaults)?);
                next = find(bindings, exit, &next.src)?;
                via.push_str(&format!(" → {}", next.name));
            }
            let Binding::MqttServer { .. } = &next.binding else {
                return Err(err(
                    &next.src,
                    format!("`{}` must be an mqtt server (tcp and tls servers lead to one)", next.name),
                ));
            };
            let host =
                if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.clone() };
            plan.listeners.push(Listener {
                name: format!("{}:{}", t.name, p.text),
                bind: format!("{host}:{}", p.text),
                upstream: String::new(),
                guard: None,
                scopes: Vec::new(),
                acl: None,
                tls,
                via,
                mqtt: next.name.clone(),
                src: p.src.clone(),
            });
        }
    }
    let mut servers: Vec<&Named> = Vec::new();
    for l in &plan.listeners {
        if !servers.iter().any(|s| s.name == l.mqtt) {
            servers.push(find(bindings, &l.mqtt, &l.src)?);
        }
    }
    for m in servers {
        mqtt_server(bindings, m, guards, &mut plan)?;
    }
    if plan.listeners.is_empty() {
        return Err(DocError {
            line: 0,
            pointer: "/bindings".into(),
            message: "no tcp server binding: nothing to listen on".into(),
        });
    }
    Ok(plan)
}

fn tls_of(
    b: &Named,
    vault: &Option<String>,
    keys: &[String],
    sni: &[String],
    alpn: &[String],
    vaults: &[(String, Option<Store>)],
) -> Result<Tls, DocError> {
    let v = vault.as_ref().ok_or_else(|| err(&b.src, "a tls server needs a `vault`"))?;
    let store = vaults
        .iter()
        .find(|(n, _)| n == v)
        .ok_or_else(|| err(&b.src, format!("no vault named `{v}`")))?
        .1
        .clone()
        .ok_or_else(|| err(&b.src, format!("vault `{v}` has no `options.keys` store")))?;
    let alias = match keys {
        [one] => one.clone(),
        [] => return Err(err(&b.src, "a tls server needs `options.keys` (the key's alias in the vault)")),
        _ => return Err(err(&b.src, "more than one key per tls server is not supported yet")),
    };
    Ok(Tls { store, alias, alpn: alpn.to_vec(), sni: sni.to_vec(), src: b.src.clone() })
}

/// Fills in the listeners just added for mqtt server `m` and adds its rules.
fn mqtt_server(bindings: &[Named], m: &Named, guards: &[JwtGuard], plan: &mut Plan) -> Result<(), DocError> {
    let Binding::MqttServer { authorization, routes } = &m.binding else { return Ok(()) };
    let mine: Vec<usize> = (0..plan.listeners.len()).filter(|&i| plan.listeners[i].mqtt == m.name).collect();
    let guard = match authorization {
        None => None,
        Some((g, username, password, src)) => {
            let zilla = guards
                .iter()
                .position(|x| x.name == *g)
                .ok_or_else(|| err(src, format!("no guard named `{g}`")))?;
            let same = plan
                .guards
                .iter()
                .find(|x| x.zilla == zilla && x.username == *username && x.password == *password);
            Some(match same {
                Some(x) => x.name.clone(),
                None => {
                    let taken = plan.guards.iter().any(|x| x.zilla == zilla);
                    let name = if taken { format!("{g}@{}", m.name) } else { g.clone() };
                    plan.guards.push(Guard {
                        name: name.clone(),
                        zilla,
                        username: username.clone(),
                        password: password.clone(),
                    });
                    name
                }
            })
        }
    };
    let first = &routes[0];
    for r in routes {
        if let Some((g, _)) = &r.guarded {
            match authorization {
                Some((a, ..)) if a == g => {}
                _ => {
                    return Err(err(
                        &r.src,
                        format!("guard `{g}` is not the mqtt server's `options.authorization` guard"),
                    ))
                }
            }
        }
    }
    let roles = |r: &MqttRoute| {
        let mut v = r.guarded.as_ref().map(|(_, roles)| roles.clone()).unwrap_or_default();
        v.sort();
        v
    };
    // With a route that takes everything, roles are checked at CONNECT for all of
    // them; without one, each route's topics are ACL entries needing its roles.
    if routes.iter().any(|r| r.catch_all) {
        if let Some(r) = routes.iter().find(|r| roles(r) != roles(first)) {
            return Err(err(
                &r.src,
                "routes guarded by different roles next to a route without `when` are not supported: roles apply to every topic there",
            ));
        }
    }
    let mut scopes = roles(first);
    for r in routes {
        let rs = roles(r);
        scopes.retain(|s| rs.contains(s));
    }
    let extra =
        |r: &MqttRoute| -> Vec<String> { roles(r).into_iter().filter(|x| !scopes.contains(x)).collect() };
    if let Some(i) = routes.iter().position(|r| r.catch_all) {
        if let Some(r) = routes.get(i + 1) {
            return Err(err(&r.src, "unreachable: an earlier route has no `when` and takes everything"));
        }
    }
    let catch_all = routes.iter().find(|r| r.catch_all);
    let session =
        upstream_of(bindings, &catch_all.unwrap_or(first).exit, &catch_all.unwrap_or(first).src, plan)?;
    let names: Vec<String> = mine.iter().map(|&i| plan.listeners[i].name.clone()).collect();
    let mut publish = Vec::new();
    let mut subscribe = Vec::new();
    for r in routes.iter().filter(|r| !r.catch_all) {
        let upstream = upstream_of(bindings, &r.exit, &r.src, plan)?;
        if !r.client_ids.is_empty() && catch_all.is_none() {
            return Err(err(
                &r.src,
                "session (client-id) routes need a last route without `when`: mqtt-proxy cannot refuse a client id by route",
            ));
        }
        for c in &r.client_ids {
            let rule = Rule {
                listeners: names.clone(),
                client_id: Some(c.clone()),
                publish: vec![],
                subscribe: vec![],
                upstream: upstream.clone(),
                src: r.src.clone(),
            };
            plan.rules.push(rule);
        }
        publish.extend(r.publish.iter().map(|t| (t.clone(), extra(r))));
        subscribe.extend(r.subscribe.iter().map(|t| (t.clone(), extra(r))));
        if upstream != session && (!r.publish.is_empty() || !r.subscribe.is_empty()) {
            let rule = Rule {
                listeners: names.clone(),
                client_id: None,
                publish: r.publish.clone(),
                subscribe: r.subscribe.clone(),
                upstream,
                src: r.src.clone(),
            };
            plan.rules.push(rule);
        }
    }
    for &i in &mine {
        let l = &mut plan.listeners[i];
        l.upstream = session.clone();
        l.guard = guard.clone();
        l.scopes = scopes.clone();
        l.acl = catch_all.is_none().then(|| (publish.clone(), subscribe.clone()));
    }
    Ok(())
}

/// `telemetry:` → log output and metrics endpoint.
pub fn telemetry(
    t: Option<Obj<'_>>,
    mode: &EnvMode<'_>,
    notes: &mut Vec<String>,
) -> Result<Telemetry, DocError> {
    let mut out = Telemetry::default();
    let Some(mut t) = t else { return Ok(out) };
    if let Some(m) = t.opt("metrics") {
        notes.push(format!(
            "telemetry.metrics (line {}): mqtt-proxy exports its own metric set (README, Metrics)",
            m.line
        ));
    }
    if let Some(mut ex) = t.opt_obj("exporters")? {
        let ep = ex.pointer().to_string();
        for (name, node) in ex.all() {
            let mut e = Obj::new(node, &format!("{ep}/{}", crate::doc::pointer_escape(name)))?;
            match e.req_str("type")? {
                "stdout" => out.stdout = true,
                "prometheus" => out.metrics = Some(prometheus(&mut e, mode)?),
                other => {
                    return Err(e.error_at(
                        "type",
                        format!("`{other}` exporters are not supported: use stdout or prometheus"),
                    ))
                }
            }
            e.finish(UNSUPPORTED)?;
        }
    }
    t.finish(UNSUPPORTED)?;
    Ok(out)
}

fn prometheus(e: &mut Obj<'_>, mode: &EnvMode<'_>) -> Result<(String, Src), DocError> {
    let mut opts = e.opt_obj("options")?.ok_or_else(|| e.error("`options.endpoints` is required"))?;
    let ep = opts.child("endpoints");
    let endpoints = opts.opt_seq("endpoints")?.ok_or_else(|| opts.error("`endpoints` is required"))?;
    let [one] = endpoints else {
        return Err(opts.error_at("endpoints", "exactly one endpoint is supported"));
    };
    let mut o = Obj::new(one, &format!("{ep}/0"))?;
    if let Some(s) = o.opt_str("scheme")? {
        if s != "http" {
            return Err(o.error_at("scheme", "only `http` is supported"));
        }
    }
    if let Some(p) = o.opt_str("path")? {
        if p != "/metrics" {
            return Err(o.error_at("path", "mqtt-proxy serves metrics on `/metrics` only"));
        }
    }
    let pn: &Node = o.req("port")?;
    let port = pn.scalar_text().ok_or_else(|| o.error_at("port", "expected a port"))?;
    let port = native(mode, &port, pn, &o.child("port"))?;
    let src = Src { line: one.line, pointer: o.pointer().to_string() };
    o.finish(UNSUPPORTED)?;
    opts.finish(UNSUPPORTED)?;
    Ok((format!("0.0.0.0:{port}"), src))
}

fn entries(es: &[AclEntry]) -> String {
    let items: Vec<String> = es
        .iter()
        .map(|(f, roles)| match roles.is_empty() {
            true => quote(f),
            false => format!("{{filter: {}, scopes: {}}}", quote(f), list(roles)),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// The native YAML.
pub fn emit(
    name: Option<&str>,
    plan: &Plan,
    guards: &[JwtGuard],
    t: &Telemetry,
    notes: &[String],
) -> Emitter {
    let mut e = Emitter::default();
    e.comment(
        0,
        &format!("Native mqtt-proxy config translated from Zilla config `{}`.", name.unwrap_or("(unnamed)")),
    );
    e.comment(0, "Relative paths are relative to the Zilla file's directory.");
    for n in notes {
        e.comment(0, n);
    }
    e.line("listeners:", None);
    for l in &plan.listeners {
        e.comment(2, &format!("{} (line {})", l.via, l.src.line));
        e.line(&format!("  - name: {}", quote(&l.name)), Some(&l.src));
        e.line(&format!("    bind: {}", quote(&l.bind)), Some(&l.src));
        e.line(&format!("    upstream: {}", quote(&l.upstream)), Some(&l.src));
        if let Some(g) = &l.guard {
            e.line(&format!("    guard: {}", quote(g)), Some(&l.src));
            e.line(&format!("    scopes: {}", list(&l.scopes)), Some(&l.src));
        }
        if let Some((p, s)) = &l.acl {
            e.comment(4, "Zilla refuses what no route's `when` takes: the routes' topics as an ACL.");
            e.line("    acl:", Some(&l.src));
            e.line(&format!("      publish: {}", entries(p)), Some(&l.src));
            e.line(&format!("      subscribe: {}", entries(s)), Some(&l.src));
        }
        if let Some(tls) = &l.tls {
            let s = Some(&tls.src);
            e.line("    tls:", s);
            e.line(&format!("      pkcs12: {}", quote(&tls.store.path)), s);
            if let Some(p) = &tls.store.password {
                e.line(&format!("      password: {}", quote(p)), s);
            }
            e.line(&format!("      alias: {}", quote(&tls.alias)), s);
            if !tls.alpn.is_empty() {
                e.line(&format!("      alpn: {}", list(&tls.alpn)), s);
            }
            if !tls.sni.is_empty() {
                e.comment(6, &format!("sni {:?}: the key's certificate is served for these names and for clients naming none", tls.sni));
            }
        }
    }
    e.line("upstreams:", None);
    for (name, server, src) in &plan.upstreams {
        e.line(&format!("  - name: {}", quote(name)), Some(src));
        e.line(&format!("    servers: [{}]", quote(server)), Some(src));
    }
    if !plan.guards.is_empty() {
        e.line("guards:", None);
    }
    for g in &plan.guards {
        let z = &guards[g.zilla];
        let s = Some(&z.src);
        e.line(&format!("  - name: {}", quote(&g.name)), s);
        if let Some(i) = &z.issuer {
            e.line(&format!("    issuer: {}", quote(i)), s);
        }
        if let Some(a) = &z.audience {
            e.line(&format!("    audience: {}", quote(a)), s);
        }
        if let Some(u) = &g.username {
            e.line(&format!("    credentials: {}", quote(u)), s);
        }
        if let Some(p) = &g.password {
            e.line(&format!("    password: {}", quote(p)), s);
        }
        e.line("    roles_claim: \"scope\"", s);
        e.comment(4, "Zilla accepts tokens without `sub`.");
        e.line("    require_identity: false", s);
        e.line("    keys:", s);
        for k in &z.keys {
            e.line(&format!("      - {k}"), s);
        }
    }
    if !plan.rules.is_empty() {
        e.line("routes:", None);
    }
    for r in &plan.rules {
        let s = Some(&r.src);
        e.line(&format!("  - listener: {}", list(&r.listeners)), s);
        if let Some(c) = &r.client_id {
            e.line(&format!("    client_id: {}", quote(c)), s);
        }
        if !r.publish.is_empty() {
            e.line(&format!("    publish_topics: {}", list(&r.publish)), s);
        }
        if !r.subscribe.is_empty() {
            e.line(&format!("    subscribe_topics: {}", list(&r.subscribe)), s);
        }
        e.line(&format!("    upstream: {}", quote(&r.upstream)), s);
    }
    if t.stdout {
        e.line("log_output: stdout", None);
    }
    if let Some((bind, src)) = &t.metrics {
        e.line("metrics:", Some(src));
        e.line(&format!("  bind: {}", quote(bind)), Some(src));
    }
    e
}
