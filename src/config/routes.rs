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
        if let Some(m) = &r.mount {
            if m.contains('+') || m.contains('#') || !m.ends_with('/') {
                return Err(bad("mount", format!("`{m}`: a mount point has no wildcards and ends with `/`")));
            }
        }
        rules.push(RuleSpec {
            listeners: ls,
            client_id: r.client_id.as_deref().map(Glob::new),
            sni: r.sni.as_deref().map(Glob::new),
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
            },
        });
    }
    Table::new(rules).map_err(|e| {
        let line = raw.get(e.rule).map_or(0, |r| r.upstream.referenced.line());
        ConfigError::Invalid { line, key: format!("routes[{}]", e.rule), message: e.message }
    })
}
