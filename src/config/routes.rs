//! `routes:` → a compiled [`crate::route::Table`], names resolved to indices.

use super::raw::{OneOrMany, RawRoute};
use super::{invalid, ConfigError, Listener, Upstream};
use crate::auth::acl::Template;
use crate::route::table::{Action, Glob, RuleSpec};
use crate::route::Table;

/// Validates and compiles the route rules.
pub fn compile(
    raw: &[RawRoute],
    listeners: &[Listener],
    upstreams: &[Upstream],
    has_guard: bool,
) -> Result<Table, ConfigError> {
    let mut rules = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let key = |k: &str| format!("routes[{i}].{k}");
        let bad = |k: &str, m: String| invalid(&r.upstream, key(k), m);
        let upstream = upstreams
            .iter()
            .position(|u| u.name == r.upstream.value)
            .ok_or_else(|| bad("upstream", format!("no upstream named `{}`", r.upstream.value)))?;
        let names = match &r.listener {
            None => Vec::new(),
            Some(OneOrMany::One(n)) => vec![n.clone()],
            Some(OneOrMany::Many(v)) => v.clone(),
        };
        let mut ls = Vec::new();
        for n in names {
            ls.push(
                listeners
                    .iter()
                    .position(|l| l.name == n)
                    .ok_or_else(|| bad("listener", format!("no listener named `{n}`")))?,
            );
        }
        let template = |k: &str, t: &Option<String>| -> Result<Option<Template>, ConfigError> {
            match t {
                Some(t) => Template::parse_text(t, has_guard).map(Some).map_err(|e| bad(k, e.to_string())),
                None => Ok(None),
            }
        };
        if !r.claims.is_empty() && !has_guard {
            return Err(bad("claims", "claims need a guard (no listener verifies tokens)".into()));
        }
        if r.max_connections.is_some() && r.tenant.is_none() {
            return Err(bad(
                "max_connections",
                "needs `tenant` (what the connections are counted by)".into(),
            ));
        }
        if r.max_message_rate.is_some() && r.tenant.is_none() {
            return Err(bad("max_message_rate", "needs `tenant` (what the messages are counted by)".into()));
        }
        let message_rate = match &r.max_message_rate {
            Some(m) => Some(super::rates::rate(m, &format!("routes[{i}].max_message_rate"))?),
            None => None,
        };
        if let Some(m) = &r.mount {
            if m.contains('+') || m.contains('#') || !m.ends_with('/') {
                return Err(bad("mount", format!("`{m}`: a mount point has no wildcards and ends with `/`")));
            }
        }
        rules.push(RuleSpec {
            listeners: ls,
            client_id: r.client_id.as_deref().map(Glob::new),
            sni: r.sni.as_deref().map(Glob::new),
            sources: r
                .source
                .iter()
                .map(|s| crate::route::cidr::Cidr::parse(s))
                .collect::<Result<_, _>>()
                .map_err(|e| bad("source", e))?,
            claims: r.claims.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            topics: r.topics.clone(),
            publish_topics: r.publish_topics.clone(),
            subscribe_topics: r.subscribe_topics.clone(),
            action: Action {
                upstream,
                mount: template("mount", &r.mount)?,
                client_id_prefix: template("client_id_prefix", &r.client_id_prefix)?,
                tenant: template("tenant", &r.tenant)?,
                max_connections: r.max_connections,
                max_message_rate: message_rate,
            },
        });
    }
    shared_servers(raw, &rules, listeners, upstreams)?;
    Table::new(rules).map_err(|e| {
        let line = raw.get(e.rule).map_or(0, |r| r.upstream.referenced.line());
        ConfigError::Invalid { line, key: format!("routes[{}]", e.rule), message: e.message }
    })
}

/// One session may span every group a topic rule names plus its own: two such
/// groups with a server in common would connect one client id to one broker twice,
/// and the broker would take each connection over with the other.
fn shared_servers(
    raw: &[RawRoute],
    rules: &[RuleSpec],
    listeners: &[Listener],
    upstreams: &[Upstream],
) -> Result<(), ConfigError> {
    let spans =
        |r: &RuleSpec| !r.topics.is_empty() || !r.publish_topics.is_empty() || !r.subscribe_topics.is_empty();
    let Some(first_topic_rule) = rules.iter().position(spans) else { return Ok(()) };
    let mut groups: Vec<usize> = listeners.iter().map(|l| l.upstream).collect();
    groups.extend(rules.iter().map(|r| r.action.upstream));
    groups.sort_unstable();
    groups.dedup();
    for (i, &a) in groups.iter().enumerate() {
        for &b in &groups[i + 1..] {
            let shared =
                upstreams[a].servers.iter().find(|s| upstreams[b].servers.iter().any(|t| t.addr == s.addr));
            if let Some(s) = shared {
                let at =
                    rules.iter().position(|r| spans(r) && (r.action.upstream == a || r.action.upstream == b));
                let at = at.unwrap_or(first_topic_rule);
                return Err(invalid(
                    &raw[at].upstream,
                    format!("routes[{at}].upstream"),
                    format!(
                        "upstreams `{}` and `{}` share server {} ({}): a session spanning both would connect \
                         to that broker twice with one client id, each connection taking over the other",
                        upstreams[a].name, upstreams[b].name, s.name, s.addr
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(servers_b: &str, topic_rule: bool) -> Result<Config, String> {
        let rule = if topic_rule { "routes:\n  - topics: [\"line/#\"]\n    upstream: b\n" } else { "" };
        let yaml = format!(
            "listeners:\n  - name: l\n    bind: 127.0.0.1:0\n    upstream: a\n\
             upstreams:\n  - name: a\n    servers: [\"127.0.0.1:1884\"]\n  - name: b\n    servers: [{servers_b}]\n{rule}"
        );
        Config::parse(&yaml, |_| None).map_err(|e| e.to_string())
    }

    #[test]
    fn groups_a_session_may_span_must_not_share_a_server() {
        let e = load("\"127.0.0.1:1885\", \"127.0.0.1:1884\"", true).expect_err("shared server");
        assert!(e.contains("upstreams `a` and `b` share server 127.0.0.1:1884"), "{e}");
        assert!(e.contains("routes[0].upstream"), "{e}");
        load("\"127.0.0.1:1885\"", true).expect("distinct servers");
        // Without topic rules no session spans groups: sharing is harmless.
        load("\"127.0.0.1:1884\"", false).expect("no topic rules");
    }
}
