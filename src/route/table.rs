//! Route rules, compiled: ordered, first match wins.
//!
//! A rule has conditions (listener, client-id glob, token claims, topic filters) and
//! an action (upstream group, mount point, client-id prefix, tenant limit). Rules
//! *without* topic filters are **session rules**: the first one whose conditions
//! hold picks the session's upstream (its broker gets the CONNECT and decides the
//! CONNACK), its mount point and client-id prefix. Rules *with* topic filters are
//! **topic rules**: a publish goes to the upstream of the first topic rule matching
//! its topic (and the session), else to the session's upstream; a subscription goes
//! to the session's upstream and to every upstream of a topic rule whose filters
//! share a topic with it. Topic filters sit in one [`Trie`], so a lookup costs the
//! topic's depth, not the number of rules.

use super::trie::Trie;
use crate::auth::acl::{Context, Template};
use crate::auth::Identity;

/// A client-id pattern: `*` matches any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// A pattern.
    pub fn new(p: &str) -> Glob {
        Glob(p.to_string())
    }

    /// True if `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        let parts: Vec<&str> = self.0.split('*').collect();
        if parts.len() == 1 {
            return s == self.0;
        }
        let (first, last) = (parts[0], parts[parts.len() - 1]);
        if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
            return false;
        }
        let mut rest = &s[first.len()..s.len() - last.len()];
        for p in &parts[1..parts.len() - 1] {
            match rest.find(p) {
                Some(i) => rest = &rest[i + p.len()..],
                None => return false,
            }
        }
        true
    }
}

/// A rule as configured (names already resolved to indices).
#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    /// Listeners it applies to (empty: all).
    pub listeners: Vec<usize>,
    /// Client-id pattern.
    pub client_id: Option<Glob>,
    /// TLS server name (SNI) pattern.
    pub sni: Option<Glob>,
    /// Address ranges the client's address must be in (empty: any).
    pub sources: Vec<super::cidr::Cidr>,
    /// Claims that must have these values (string form; arrays: contain it).
    pub claims: Vec<(String, String)>,
    /// Topic filters for publishes and subscriptions.
    pub topics: Vec<String>,
    /// Topic filters for publishes only.
    pub publish_topics: Vec<String>,
    /// Topic filters for subscriptions only.
    pub subscribe_topics: Vec<String>,
    /// The action.
    pub action: Action,
}

/// What a matching rule does.
#[derive(Debug, Clone, Default)]
pub struct Action {
    /// Index of the upstream group.
    pub upstream: usize,
    /// Prefix added to topics towards the broker, removed towards the client
    /// (session rules only), e.g. `{claims.tenant}/`.
    pub mount: Option<Template>,
    /// Prefix added to the client id towards the broker (session rules only).
    pub client_id_prefix: Option<Template>,
    /// The tenant this session counts against (session rules only).
    pub tenant: Option<Template>,
    /// Connections one tenant may hold across all cores.
    pub max_connections: Option<usize>,
    /// PUBLISH packets one tenant's sessions may send, all together.
    pub max_message_rate: Option<crate::ratelimit::Rate>,
}

/// A rule that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("routes[{rule}]: {message}")]
pub struct RouteError {
    /// Rule index.
    pub rule: usize,
    /// What is wrong.
    pub message: String,
}

/// What a session is, for routing.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Listener index.
    pub listener: usize,
    /// The client id the client sent.
    pub client_id: &'a str,
    /// The TLS server name the client asked for (TLS listeners).
    pub sni: Option<&'a str>,
    /// The client's address (from the PROXY header behind a balancer).
    pub source: Option<std::net::IpAddr>,
    /// The verified token, if any.
    pub identity: Option<&'a Identity>,
}

/// A session's route, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRoute {
    /// The rule that decided (`None`: the listener's default upstream).
    pub rule: Option<usize>,
    /// The session's upstream.
    pub upstream: usize,
    /// Mount point, expanded (e.g. `acme/`).
    pub mount: Option<String>,
    /// Client-id prefix, expanded.
    pub client_id_prefix: Option<String>,
    /// Tenant, expanded, with its connection limit.
    pub tenant: Option<(String, Option<usize>)>,
    /// Every upstream the session may need: its own first, then topic rules'.
    pub upstreams: Vec<usize>,
}

/// All rules, compiled.
#[derive(Debug, Default)]
pub struct Table {
    rules: Vec<RuleSpec>,
    /// Filters that route publishes.
    publish_trie: Trie,
    /// Filters that route subscriptions.
    subscribe_trie: Trie,
    /// Indices of session rules, in order.
    session_rules: Vec<usize>,
    /// Indices of topic rules, in order.
    topic_rules: Vec<usize>,
}

fn claim_holds(identity: Option<&Identity>, name: &str, want: &str) -> bool {
    let Some(i) = identity else { return false };
    match i.claim(name) {
        Some(v) => v == want,
        None => match i.claims.get(name) {
            Some(serde_json::Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(want)),
            _ => false,
        },
    }
}

impl RuleSpec {
    /// True for a session rule (no topic filters at all).
    fn is_session_rule(&self) -> bool {
        self.topics.is_empty() && self.publish_topics.is_empty() && self.subscribe_topics.is_empty()
    }

    fn applies(&self, f: &Facts<'_>) -> bool {
        (self.listeners.is_empty() || self.listeners.contains(&f.listener))
            && self.client_id.as_ref().is_none_or(|g| g.matches(f.client_id))
            && self.sni.as_ref().is_none_or(|g| f.sni.is_some_and(|s| g.matches(s)))
            && (self.sources.is_empty()
                || f.source.is_some_and(|ip| self.sources.iter().any(|c| c.contains(ip))))
            && self.claims.iter().all(|(k, v)| claim_holds(f.identity, k, v))
    }
}

impl Table {
    /// Compiles rules (topic filters must be valid).
    pub fn new(rules: Vec<RuleSpec>) -> Result<Table, RouteError> {
        let mut t = Table {
            publish_trie: Trie::default(),
            subscribe_trie: Trie::default(),
            session_rules: Vec::new(),
            topic_rules: Vec::new(),
            rules: Vec::new(),
        };
        for (i, r) in rules.iter().enumerate() {
            if r.is_session_rule() {
                t.session_rules.push(i);
                continue;
            }
            if r.action.mount.is_some() || r.action.client_id_prefix.is_some() || r.action.tenant.is_some() {
                return Err(RouteError {
                    rule: i,
                    message: "`mount`, `client_id_prefix` and `tenant` belong to session rules (rules without topic filters)"
                        .into(),
                });
            }
            let tagged = r.topics.iter().map(|f| (f, true, true));
            let tagged = tagged.chain(r.publish_topics.iter().map(|f| (f, true, false)));
            for (f, publish, subscribe) in tagged.chain(r.subscribe_topics.iter().map(|f| (f, false, true))) {
                crate::mqtt::topic::validate_filter(f)
                    .map_err(|e| RouteError { rule: i, message: format!("topic filter `{f}`: {e}") })?;
                if publish {
                    t.publish_trie.insert(f, i as u32);
                }
                if subscribe {
                    t.subscribe_trie.insert(f, i as u32);
                }
            }
            t.topic_rules.push(i);
        }
        t.rules = rules;
        Ok(t)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// (session rules, topic rules).
    pub fn counts(&self) -> (usize, usize) {
        (self.session_rules.len(), self.topic_rules.len())
    }

    /// Every token claim a rule reads (conditions and templates), each once.
    pub fn claim_paths(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rules {
            let a = &r.action;
            let templates = [&a.mount, &a.client_id_prefix, &a.tenant];
            let names = r.claims.iter().map(|(k, _)| k.as_str());
            for c in names.chain(templates.into_iter().flatten().flat_map(|t| t.claim_paths())) {
                if !out.iter().any(|x| x == c) {
                    out.push(c.to_string());
                }
            }
        }
        out
    }

    /// True without rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The message rate of the tenant a session routed by `rule` counts against.
    pub fn tenant_rate(&self, rule: Option<usize>) -> Option<crate::ratelimit::Rate> {
        let a = &self.rules.get(rule?)?.action;
        a.max_message_rate.filter(|_| a.tenant.is_some())
    }

    /// The session's route; `default` is the listener's upstream. `None` when a
    /// template of the deciding rule cannot be filled (a claim it names is missing).
    pub fn session(&self, f: &Facts<'_>, default: usize) -> Option<SessionRoute> {
        let ctx = Context { identity: f.identity, client_id: f.client_id };
        let rule = self.session_rules.iter().copied().find(|&i| self.rules[i].applies(f));
        let mut route = SessionRoute {
            rule,
            upstream: default,
            mount: None,
            client_id_prefix: None,
            tenant: None,
            upstreams: Vec::new(),
        };
        if let Some(i) = rule {
            let a = &self.rules[i].action;
            route.upstream = a.upstream;
            route.mount = match &a.mount {
                Some(t) => Some(t.expand(&ctx)?),
                None => None,
            };
            route.client_id_prefix = match &a.client_id_prefix {
                Some(t) => Some(t.expand(&ctx)?),
                None => None,
            };
            route.tenant = match &a.tenant {
                Some(t) => Some((t.expand(&ctx)?, a.max_connections)),
                None => None,
            };
        }
        route.upstreams.push(route.upstream);
        for &i in &self.topic_rules {
            let up = self.rules[i].action.upstream;
            if !route.upstreams.contains(&up) && self.rules[i].applies(f) {
                route.upstreams.push(up);
            }
        }
        Some(route)
    }

    /// The upstream of a publish to `topic` (`None`: the session's own).
    #[inline]
    pub fn publish(&self, f: &Facts<'_>, topic: &str) -> Option<usize> {
        if self.topic_rules.is_empty() {
            return None;
        }
        self.publish_trie
            .first(topic, |i| self.rules[i as usize].applies(f))
            .map(|i| self.rules[i as usize].action.upstream)
    }

    /// Calls `each` with the upstream of every topic rule (applying to the session)
    /// whose filters share a topic with subscription filter `filter`.
    pub fn subscribe(&self, f: &Facts<'_>, filter: &str, each: &mut impl FnMut(usize)) {
        self.subscribe_trie.overlapping(filter, &mut |i| {
            let r = &self.rules[i as usize];
            if r.applies(f) {
                each(r.action.upstream);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(tenant: &str) -> Identity {
        let claims = json!({"tenant": tenant, "groups": ["ops", "line1"]});
        Identity {
            subject: "d1".into(),
            roles: Vec::new(),
            expires_at: u64::MAX,
            claims: claims.as_object().cloned().unwrap_or_default(),
        }
    }

    fn topic_rule(filter: &str, upstream: usize) -> RuleSpec {
        RuleSpec {
            topics: vec![filter.into()],
            action: Action { upstream, ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn globs() {
        assert!(Glob::new("press-*").matches("press-7"));
        assert!(!Glob::new("press-*").matches("lathe-7"));
        assert!(Glob::new("*-line1-*").matches("a-line1-b"));
        assert!(Glob::new("a*b*c").matches("abc") && !Glob::new("a*b*c").matches("acb"));
        assert!(Glob::new("exact").matches("exact") && !Glob::new("exact").matches("exact2"));
    }

    #[test]
    fn sessions_by_claim_with_mount_points() {
        let tmpl = |s: &str| Some(Template::parse_text(s, true).expect("template"));
        let rules = vec![
            RuleSpec {
                claims: vec![("tenant".into(), "initech".into())],
                action: Action { upstream: 2, ..Default::default() },
                ..Default::default()
            },
            RuleSpec {
                claims: vec![("groups".into(), "ops".into())],
                action: Action {
                    upstream: 1,
                    mount: tmpl("{claims.tenant}/"),
                    client_id_prefix: tmpl("{claims.tenant}-"),
                    tenant: tmpl("{claims.tenant}"),
                    max_connections: Some(10),
                    max_message_rate: None,
                },
                ..Default::default()
            },
        ];
        let t = Table::new(rules).expect("compiles");
        let (acme, initech) = (identity("acme"), identity("initech"));
        let f = |i| Facts { listener: 0, client_id: "d1", sni: None, source: None, identity: Some(i) };
        let r = t.session(&f(&acme), 0).expect("route");
        assert_eq!((r.rule, r.upstream, r.mount.as_deref()), (Some(1), 1, Some("acme/")));
        assert_eq!(r.client_id_prefix.as_deref(), Some("acme-"));
        assert_eq!(r.tenant, Some(("acme".into(), Some(10))));
        assert_eq!(t.session(&f(&initech), 0).map(|r| r.upstream), Some(2));
        let anon = Facts {
            listener: 0,
            client_id: "d1",
            sni: Some("acme.example.com"),
            source: None,
            identity: None,
        };
        assert_eq!(t.session(&anon, 5).map(|r| (r.rule, r.upstream)), Some((None, 5)));
    }

    #[test]
    fn sessions_by_server_name() {
        let rule = RuleSpec {
            sni: Some(Glob::new("acme.*")),
            action: Action { upstream: 3, ..Default::default() },
            ..Default::default()
        };
        let t = Table::new(vec![rule]).expect("compiles");
        let f = |sni| Facts { listener: 0, client_id: "c", sni, source: None, identity: None };
        assert_eq!(t.session(&f(Some("acme.mqtt.example")), 0).map(|r| r.upstream), Some(3));
        assert_eq!(t.session(&f(Some("globex.mqtt.example")), 0).map(|r| r.upstream), Some(0));
        assert_eq!(t.session(&f(None), 0).map(|r| r.upstream), Some(0), "plain TCP has no server name");
    }

    #[test]
    fn topic_rules_first_match_wins() {
        let mut rules = vec![topic_rule("line1/#", 1), topic_rule("line2/#", 2), topic_rule("+/alarms", 3)];
        rules[2].listeners = vec![1];
        let t = Table::new(rules).expect("compiles");
        let f = Facts { listener: 0, client_id: "c", sni: None, source: None, identity: None };
        assert_eq!(t.publish(&f, "line1/press/t"), Some(1));
        assert_eq!(t.publish(&f, "line2/alarms"), Some(2));
        assert_eq!(t.publish(&f, "line3/alarms"), None, "rule 2 is for listener 1 only");
        let f1 = Facts { listener: 1, ..f };
        assert_eq!(t.publish(&f1, "line3/alarms"), Some(3));
        let r = t.session(&f, 0).expect("route");
        assert_eq!(r.upstreams, vec![0, 1, 2]);
        let mut ups = Vec::new();
        t.subscribe(&f, "#", &mut |u| ups.push(u));
        ups.sort_unstable();
        assert_eq!(ups, vec![1, 2]);
        ups.clear();
        t.subscribe(&f, "line1/+/t", &mut |u| ups.push(u));
        assert_eq!(ups, vec![1]);
        // Direction-specific filters.
        let one_way = vec![
            RuleSpec {
                publish_topics: vec!["cmd/#".into()],
                action: Action { upstream: 4, ..Default::default() },
                ..Default::default()
            },
            RuleSpec {
                subscribe_topics: vec!["events/#".into()],
                action: Action { upstream: 5, ..Default::default() },
                ..Default::default()
            },
        ];
        let t2 = Table::new(one_way).expect("compiles");
        assert_eq!(t2.publish(&f, "cmd/x"), Some(4));
        assert_eq!(t2.publish(&f, "events/x"), None, "a subscribe-only filter");
        let mut ups = Vec::new();
        t2.subscribe(&f, "#", &mut |u| ups.push(u));
        assert_eq!(ups, vec![5], "a publish-only filter does not take subscriptions");
        let bad = RuleSpec { topics: vec!["a/#/b".into()], ..Default::default() };
        assert!(Table::new(vec![bad]).is_err());
    }

    #[test]
    fn dollar_topics_are_routed_only_by_rules_that_name_them() {
        // A catch-all rule and a `$SYS` rule; `$share/{group}/` is stripped first,
        // as the session router does.
        let t = Table::new(vec![topic_rule("#", 1), topic_rule("+/alarms", 2), topic_rule("$SYS/#", 3)])
            .expect("compiles");
        let f = Facts { listener: 0, client_id: "c", sni: None, source: None, identity: None };
        // (topic, upstream of the publish)
        for (topic, up) in
            [("$SYS/broker/load", Some(3)), ("$SYS/alarms", Some(3)), ("line1/alarms", Some(1))]
        {
            assert_eq!(t.publish(&f, topic), up, "publish {topic}");
        }
        // (subscription filter, upstreams it is sent to besides the session's own)
        for (filter, want) in [
            ("$SYS/#", vec![3]),
            ("$share/g/$SYS/#", vec![3]),
            ("#", vec![1, 2]),
            ("$share/g/#", vec![1, 2]),
            ("+/alarms", vec![1, 2]),
        ] {
            let mut ups = Vec::new();
            t.subscribe(&f, crate::session::multi::routed_filter(filter), &mut |u| ups.push(u));
            ups.sort_unstable();
            ups.dedup();
            assert_eq!(ups, want, "subscribe {filter}");
        }
    }

    #[test]
    fn source_ranges_pick_the_rule() {
        let rule = RuleSpec {
            sources: vec![super::super::cidr::Cidr::parse("192.0.2.0/24").expect("range")],
            action: Action { upstream: 1, ..Default::default() },
            ..Default::default()
        };
        let t = Table::new(vec![rule]).expect("table");
        let f = |source: Option<&str>| Facts {
            listener: 0,
            client_id: "c",
            sni: None,
            source: source.map(|s| s.parse().expect("ip")),
            identity: None,
        };
        assert_eq!(t.session(&f(Some("192.0.2.77")), 0).map(|r| r.upstream), Some(1));
        assert_eq!(t.session(&f(Some("198.51.100.1")), 0).map(|r| r.upstream), Some(0));
        assert_eq!(t.session(&f(None), 0).map(|r| r.upstream), Some(0), "no address, no match");
    }
}
