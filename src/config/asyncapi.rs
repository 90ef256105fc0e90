//! A proxy configured from an AsyncAPI document alone (`mqtt-proxy --asyncapi
//! api.yaml --upstream broker=127.0.0.1:1884`): the document rendered into native
//! config text by [`crate::asyncapi`], then validated like any native file.

use super::{Config, ConfigError};
use crate::asyncapi::{self, Api, Upstream};
use crate::doc::DocError;
use std::path::Path;

/// `NAME=host:port[,host:port...]` from the command line.
pub fn parse_upstream(s: &str) -> Result<Upstream, String> {
    let (name, servers) = s.split_once('=').ok_or("use NAME=HOST:PORT[,HOST:PORT...]")?;
    let servers: Vec<String> =
        servers.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect();
    if name.is_empty() || servers.is_empty() {
        return Err("use NAME=HOST:PORT[,HOST:PORT...]".into());
    }
    Ok(Upstream { name: name.to_string(), servers })
}

/// Reads the document (without `guarded`, what only a guard can apply is a
/// warning too); with `strict`, the first warning is an error.
pub fn read(path: &Path, guarded: bool, strict: bool) -> Result<Api, ConfigError> {
    let read = |p: &Path| {
        super::sources::note(p);
        std::fs::read_to_string(p)
    };
    let mut api = asyncapi::read(path, &read).map_err(ConfigError::AsyncApi)?;
    if !guarded {
        let w = asyncapi::without_guard(&api);
        api.warnings.extend(w);
    }
    match api.warnings.first() {
        Some(w) if strict => {
            Err(ConfigError::AsyncApi(DocError { message: format!("{} (--strict)", w.message), ..w.clone() }))
        }
        _ => Ok(api),
    }
}

impl Config {
    /// The config an AsyncAPI document gives with `upstream` as its brokers, and
    /// the document's warnings.
    pub fn from_asyncapi(
        path: &Path,
        upstream: &Upstream,
        strict: bool,
    ) -> Result<(Config, Api), ConfigError> {
        let (loaded, sources) = super::sources::recording(|| Config::asyncapi_file(path, upstream, strict));
        loaded.map(|(c, api)| (Config { sources, ..c }, api))
    }

    fn asyncapi_file(path: &Path, upstream: &Upstream, strict: bool) -> Result<(Config, Api), ConfigError> {
        let api = read(path, false, strict)?;
        if let Some(s) = api.servers.iter().find(|s| s.tls) {
            return Err(ConfigError::AsyncApi(DocError {
                line: s.line,
                pointer: format!("/servers/{}", crate::doc::pointer_escape(&s.name)),
                message: format!(
                    "server `{}` is {}: its certificate comes from a config file (`asyncapi: [{{spec, upstream, tls}}]`), never plaintext in its place",
                    s.name,
                    "mqtts"
                ),
            }));
        }
        let text = asyncapi::render(&api, &path.display().to_string(), upstream, None);
        let config = Config::parse_in(&text, |_| None, path.parent())?;
        Ok((config, api))
    }
}

/// What a document adds to the config (the native text it renders to, parsed).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Fragment {
    #[serde(default)]
    listeners: Vec<super::raw::RawListener>,
    #[serde(default)]
    upstreams: Vec<super::raw::RawUpstream>,
    #[serde(default)]
    catalogs: Vec<super::raw_schema::RawCatalog>,
    #[serde(default)]
    schemas: Vec<super::raw_schema::RawRule>,
    #[serde(default)]
    routes: Vec<super::raw::RawRoute>,
}

fn bad<T>(s: &serde_saphyr::Spanned<T>, key: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { line: s.referenced.line(), key, message: message.into() }
}

/// Whether `guard` reads the token where `scheme` puts it; `None` when it does.
fn scheme_mismatch(scheme: &asyncapi::Scheme, guard: &super::raw::RawGuard) -> Option<String> {
    let (user, password, method) = (
        guard.credentials.is_some() || (guard.password.is_none() && guard.auth_method.is_none()),
        guard.password.is_some(),
        guard.auth_method.is_some(),
    );
    let ok = match (scheme.kind.as_str(), scheme.detail.as_deref()) {
        ("userPassword", _) | ("apiKey" | "httpApiKey", Some("password")) => password,
        ("apiKey" | "httpApiKey", Some("user")) => user,
        ("http", Some("bearer")) | ("oauth2" | "openIdConnect", _) => user || password || method,
        ("X509", _) => {
            return Some("X509: client certificates are checked by `tls.client_auth`, not by a guard".into())
        }
        (k, _) => return Some(format!("security scheme `{k}` is not a token the JWT guard can check")),
    };
    (!ok).then(|| {
        format!(
            "security scheme `{}` puts the credentials where guard `{}` does not look",
            scheme.kind, guard.name.value
        )
    })
}

/// Binds channel parameters to token claims by name (the entry's `parameters`):
/// the channels' ACL templates get `{sub}` / `{claims.x}` at those levels.
fn bind_parameters(api: &mut Api, params: &std::collections::BTreeMap<String, String>) -> Result<(), String> {
    for (name, claim) in params {
        let placeholder = match claim.as_str() {
            "sub" => "{sub}".to_string(),
            c if c.strip_prefix("claims.").is_some_and(|p| !p.is_empty()) => format!("{{{c}}}"),
            c => return Err(format!("parameter `{name}`: `{c}` is not `sub` or `claims.<path>`")),
        };
        let wanted = format!("{{{name}}}");
        let mut used = false;
        for c in &mut api.channels {
            let levels: Vec<String> = c
                .address
                .split('/')
                .zip(c.template.split('/'))
                .map(|(a, t)| if a == wanted { placeholder.clone() } else { t.to_string() })
                .collect();
            used |= c.address.split('/').any(|a| a == wanted);
            c.template = levels.join("/");
        }
        if !used {
            return Err(format!("no channel has a parameter `{name}`"));
        }
    }
    Ok(())
}

/// Adds every `asyncapi:` entry's listeners (role server) or upstream and routes
/// (role client), and its validators, to `raw`; returns the documents' warnings.
pub(super) fn expand(
    raw: &mut super::raw::RawConfig,
    base: Option<&Path>,
) -> Result<Vec<String>, ConfigError> {
    let mut warnings = Vec::new();
    let entries = std::mem::take(&mut raw.asyncapi);
    for (i, e) in entries.iter().enumerate() {
        let key = |k: &str| format!("asyncapi[{i}].{k}");
        let path = base.map_or_else(|| Path::new(&e.spec.value).to_path_buf(), |b| b.join(&e.spec.value));
        let guarded = e.guard.is_some() && e.role.as_ref().is_none_or(|r| r.value == "server");
        let mut api = read(&path, guarded, e.strict)
            .map_err(|err| bad(&e.spec, key("spec"), format!("{}: {err}", e.spec.value)))?;
        bind_parameters(&mut api, &e.parameters).map_err(|m| bad(&e.spec, key("parameters"), m))?;
        warnings.extend(api.warnings.iter().map(|w| format!("{}: {w}", e.spec.value)));
        let role = e.role.as_ref().map_or("server", |r| r.value.as_str());
        let mut text = String::new();
        match role {
            "server" => {
                let up = e.upstream.as_ref().ok_or_else(|| {
                    bad(&e.spec, key("upstream"), "role server needs the `upstream` its clients go to")
                })?;
                if !raw.upstreams.iter().any(|u| u.name.value == up.value) {
                    return Err(bad(up, key("upstream"), format!("no upstream named `{}`", up.value)));
                }
                if let Some(g) = &e.guard {
                    let guard = raw
                        .guards
                        .iter()
                        .find(|x| x.name.value == g.value)
                        .ok_or_else(|| bad(g, key("guard"), format!("no guard named `{}`", g.value)))?;
                    for s in &api.schemes {
                        if let Some(m) = scheme_mismatch(s, guard) {
                            let w = format!("{}: line {}: {m}", e.spec.value, s.line);
                            if e.strict {
                                return Err(bad(g, key("guard"), w));
                            }
                            warnings.push(w);
                        }
                    }
                }
                let (keep_alive, max_packet, session_expiry) = asyncapi::limits(&api);
                let lim = &mut raw.limits;
                match (session_expiry, lim.session_expiry_max) {
                    (Some(x), None) => lim.session_expiry_max = Some(x),
                    (Some(x), Some(c)) if c != x => warnings.push(format!(
                        "{}: sessionExpiryInterval {x} from the document, limits.session_expiry_max {c} from the config: the config's applies",
                        e.spec.value
                    )),
                    _ => {}
                }
                match (keep_alive, lim.keep_alive_max) {
                    (Some(k), None) => lim.keep_alive_max = Some(k),
                    (Some(k), Some(c)) if c != k => warnings.push(format!(
                        "{}: keepAlive {k} from the document, limits.keep_alive_max {c} from the config: the config's applies",
                        e.spec.value
                    )),
                    _ => {}
                }
                match (max_packet, &lim.max_packet_size) {
                    (Some(m), None) => {
                        lim.max_packet_size = Some(
                            serde_saphyr::from_str(&m.to_string())
                                .map_err(|err| bad(&e.spec, key("spec"), format!("internal: {err}")))?,
                        )
                    }
                    (Some(m), Some(c)) if c.value != m => warnings.push(format!(
                        "{}: maximumPacketSize {m} from the document, limits.max_packet_size {} from the config: the config's applies",
                        e.spec.value, c.value
                    )),
                    _ => {}
                }
                let how = asyncapi::Listeners {
                    upstream: &up.value,
                    guard: e.guard.as_ref().map(|g| g.value.as_str()),
                };
                text.push_str(&asyncapi::listeners(&api, &how));
            }
            "client" => {
                let name = e.name.as_ref().ok_or_else(|| {
                    bad(&e.spec, key("name"), "role client needs the `name` of the upstream its servers form")
                })?;
                if let Some(s) = api.servers.iter().find(|s| s.tls) {
                    return Err(bad(&e.spec, key("role"), format!("server `{}` is mqtts: TLS to brokers from a document is not supported yet (use a native upstream with `tls`)", s.name)));
                }
                if api.servers.is_empty() {
                    return Err(bad(
                        &e.spec,
                        key("spec"),
                        "the document has no MQTT server to use as a broker",
                    ));
                }
                text.push_str(&asyncapi::broker_side(&api, &name.value));
            }
            other => {
                let r = e.role.as_ref().ok_or_else(|| bad(&e.spec, key("role"), "missing"))?;
                return Err(bad(r, key("role"), format!("`{other}`: use server or client")));
            }
        }
        text.push_str(&asyncapi::schemas(&api, &format!("asyncapi-{i}")));
        let frag: Fragment = serde_saphyr::from_str(&text).map_err(|err| {
            bad(&e.spec, key("spec"), format!("internal: the derived config does not parse: {err}"))
        })?;
        let mut listeners = frag.listeners;
        for l in &mut listeners {
            let mqtts = api.servers.iter().any(|s| s.tls && s.name == l.name.value);
            match (&e.tls, mqtts) {
                (Some(t), true) => l.tls = Some(t.clone()),
                (None, true) => {
                    return Err(bad(
                        &e.spec,
                        key("tls"),
                        format!("server `{}` is mqtts: give `tls`", l.name.value),
                    ))
                }
                _ => {}
            }
        }
        raw.listeners.extend(listeners);
        raw.upstreams.extend(frag.upstreams);
        raw.catalogs.extend(frag.catalogs);
        raw.schemas.extend(frag.schemas);
        raw.routes.extend(frag.routes);
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const ROOT: &str = env!("CARGO_MANIFEST_DIR");

    fn config(entry: &str) -> String {
        format!(
            "upstreams:\n  - name: plant\n    servers: [\"127.0.0.1:1884\"]\n\
             guards:\n  - name: jwt\n    jwks_file: {ROOT}/tests/fixtures/jwt/TEST-ONLY-jwks.json\n\
             asyncapi:\n  - spec: {ROOT}/tests/fixtures/asyncapi/{entry}\n"
        )
    }

    #[test]
    fn a_guarded_document_gives_identity_bound_and_scoped_entries() {
        let c =
            Config::parse(&config("plant-security-3.0.yaml\n    upstream: plant\n    guard: jwt"), |_| None)
                .expect("loads");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let l = &c.listeners[0];
        assert_eq!((l.name.as_str(), l.guard), ("plant", Some(0)));
        assert_eq!(l.scopes, ["plant:device"], "what every operation needs, at CONNECT");
        let publish = l.acl.as_ref().and_then(|a| a.publish.clone()).expect("publish");
        assert_eq!(publish.len(), 2);
        assert!(publish[0].scopes.is_empty());
        assert_eq!(publish[1].scopes, ["plant:alarm"], "the alarm channel needs more");
        assert_eq!(c.schemas.rules.len(), 2);
        // The server's MQTT binding: keepAlive and maximumPacketSize as limits.
        assert_eq!((c.limits.keep_alive_max, c.limits.max_packet_size), (Some(60), 4096));
        assert_eq!(c.limits.session_expiry_max, Some(3600));
        // A limit the config sets itself wins, with a warning.
        let own = config("plant-security-3.0.yaml\n    upstream: plant\n    guard: jwt")
            + "limits:\n  keep_alive_max: 30\n";
        let c = Config::parse(&own, |_| None).expect("loads");
        assert_eq!(c.limits.keep_alive_max, Some(30));
        assert!(c.warnings.iter().any(|w| w.contains("keepAlive 60 from the document")), "{:?}", c.warnings);
    }

    #[test]
    fn without_a_guard_what_needs_one_is_a_warning_or_with_strict_an_error() {
        let c =
            Config::parse(&config("plant-security-3.0.yaml\n    upstream: plant"), |_| None).expect("loads");
        assert!(
            c.warnings.iter().any(|w| w.contains("security (`oauth2`) is not applied")),
            "{:?}",
            c.warnings
        );
        let e =
            Config::parse(&config("plant-security-3.0.yaml\n    upstream: plant\n    strict: true"), |_| {
                None
            })
            .expect_err("strict");
        assert!(e.to_string().contains("asyncapi[0].spec") && e.to_string().contains("(--strict)"), "{e}");
    }

    #[test]
    fn a_client_role_document_is_an_upstream_with_topic_routes() {
        let yaml = format!(
            "listeners:\n  - name: l\n    bind: 127.0.0.1:0\n    upstream: plant\n{}",
            config("factory-3.0.yaml\n    role: client\n    name: factory")
        );
        let c = Config::parse(&yaml, |_| None).expect("loads");
        assert_eq!(c.upstreams[1].name, "factory");
        assert_eq!(c.routes.counts(), (0, 1), "one topic rule");
        assert_eq!(c.schemas.rules.len(), 2);
    }

    #[test]
    fn an_mqtts_server_never_becomes_a_plaintext_listener() {
        let dir = tempfile::tempdir().expect("tempdir");
        let doc = std::fs::read_to_string(format!("{ROOT}/tests/fixtures/asyncapi/lighting-3.0.yaml"))
            .expect("read")
            .replace("protocol: mqtt\n", "protocol: mqtts\n");
        let path = dir.path().join("api.yaml");
        std::fs::write(&path, doc).expect("write");
        let up = super::parse_upstream("b=127.0.0.1:1884").expect("upstream");
        let e = Config::from_asyncapi(&path, &up, false).expect_err("no certificate");
        assert!(e.to_string().contains("/servers/plant") && e.to_string().contains("never plaintext"), "{e}");
        let entry = format!(
            "upstreams:\n  - name: plant\n    servers: [\"127.0.0.1:1884\"]\nasyncapi:\n  - spec: {}\n    upstream: plant\n",
            path.display()
        );
        let e = Config::parse(&entry, |_| None).expect_err("no tls");
        assert!(e.to_string().contains("asyncapi[0].tls"), "{e}");
        let tls = format!(
            "    tls:\n      pkcs12: {ROOT}/tests/fixtures/tls/TEST-ONLY-localhost.p12\n      password: TEST-ONLY-keystore-password\n"
        );
        let c = Config::parse(&format!("{entry}{tls}"), |_| None).expect("loads");
        assert!(c.listeners[0].tls.is_some(), "the entry's certificate serves the mqtts server");
    }

    #[test]
    fn the_config_can_bind_a_parameter_the_document_leaves_open() {
        let entry = "factory-3.0.yaml\n    upstream: plant\n    guard: jwt\n    parameters: {machine: claims.machine}";
        let c = Config::parse(&config(entry), |_| None).expect("loads");
        let publish = c.listeners[0].acl.as_ref().and_then(|a| a.publish.clone()).expect("publish");
        let filters: Vec<String> = publish.iter().map(|e| format!("{:?}", e.filter)).collect();
        assert!(filters.iter().all(|f| f.contains("factory/{claims.machine}/")), "{filters:?}");
        let e = Config::parse(&config(&entry.replace("machine: claims", "nope: claims")), |_| None)
            .expect_err("unknown");
        assert!(e.to_string().contains("no channel has a parameter `nope`"), "{e}");
        let e = Config::parse(&config(&entry.replace("claims.machine", "tenant")), |_| None)
            .expect_err("bad claim");
        assert!(e.to_string().contains("asyncapi[0].parameters"), "{e}");
    }

    #[test]
    fn entries_are_checked_with_their_keys() {
        let e = |entry: &str| Config::parse(&config(entry), |_| None).expect_err("invalid").to_string();
        assert!(e("lighting-3.0.yaml").contains("asyncapi[0].upstream"));
        assert!(e("lighting-3.0.yaml\n    upstream: nope").contains("no upstream named `nope`"));
        assert!(
            e("lighting-3.0.yaml\n    upstream: plant\n    guard: nope").contains("no guard named `nope`")
        );
        assert!(e("lighting-3.0.yaml\n    role: client").contains("asyncapi[0].name"));
        assert!(e("lighting-3.0.yaml\n    role: both\n    upstream: plant").contains("use server or client"));
        assert!(e("missing.yaml\n    upstream: plant").contains("cannot read"));
    }
}
