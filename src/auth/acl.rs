//! Topic ACLs from templates: which topics a session may publish to and which
//! filters it may subscribe to, written with placeholders filled from its identity:
//! `{sub}`, `{client_id}`, `{claims.<dotted path>}` (e.g. `devices/{sub}/#`).
//!
//! Templates are checked at config load; they are expanded once per session. A value
//! that contains `/`, `+`, `#` or U+0000, or a missing claim, removes that entry (it
//! can only ever narrow what is allowed). A subscription is allowed when every topic
//! it can match is matched by an allowed filter (filter containment), so `+` and `#`
//! in a request cannot widen access. Shared subscriptions are judged by their
//! filter. Pure: no I/O.

use super::Identity;
use crate::mqtt::topic::{self, SharedSubscription};
use crate::mqtt::QoS;

/// A filter with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

/// Where a template's values come from.
pub struct Context<'a> {
    /// The verified token, if the listener has a guard.
    pub identity: Option<&'a Identity>,
    /// The CONNECT client identifier.
    pub client_id: &'a str,
}

/// Why a template is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Unknown placeholder or unbalanced braces.
    #[error("`{0}`: placeholders are {{sub}}, {{client_id}} and {{claims.<path>}}")]
    Placeholder(String),
    /// Not a valid topic filter once filled.
    #[error("`{0}` is not a valid topic filter")]
    Filter(String),
    /// Uses token claims on a listener without a guard.
    #[error("`{0}` needs a guard (it uses the token)")]
    NeedsGuard(String),
}

impl Template {
    /// Parses and checks a filter template (token placeholders need a guard).
    pub fn parse(s: &str, has_guard: bool) -> Result<Template, TemplateError> {
        let t = Template::parse_text(s, has_guard)?;
        let probe = Template(s.into())
            .fill_with(|_| Some("x".into()))
            .ok_or_else(|| TemplateError::Placeholder(s.into()))?;
        topic::validate_filter(&probe).map_err(|_| TemplateError::Filter(s.into()))?;
        Ok(t)
    }

    /// Parses a template for plain text (e.g. a client identifier).
    pub fn parse_text(s: &str, has_guard: bool) -> Result<Template, TemplateError> {
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').ok_or_else(|| TemplateError::Placeholder(s.into()))? + open;
            let name = &rest[open + 1..close];
            let token = name == "sub" || name.strip_prefix("claims.").is_some_and(|p| !p.is_empty());
            if name != "client_id" && !token {
                return Err(TemplateError::Placeholder(s.into()));
            }
            if token && !has_guard {
                return Err(TemplateError::NeedsGuard(s.into()));
            }
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err(TemplateError::Placeholder(s.into()));
        }
        Ok(Template(s.into()))
    }

    /// The token claims the template reads (`{claims.tenant}` → `tenant`); `{sub}`
    /// is the subject, which a re-authentication always keeps anyway.
    pub fn claim_paths(&self) -> impl Iterator<Item = &str> {
        self.0.split('{').skip(1).filter_map(|p| p.split_once('}')?.0.strip_prefix("claims."))
    }

    fn fill_with(&self, value: impl Fn(&str) -> Option<String>) -> Option<String> {
        let mut out = String::with_capacity(self.0.len() + 16);
        let mut rest = self.0.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}')? + open;
            let v = value(&rest[open + 1..close])?;
            if v.is_empty() || v.contains(['/', '+', '#', '\0']) {
                return None;
            }
            out.push_str(&v);
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// Fills the placeholders; `None` when a value is missing or unsafe.
    pub fn expand(&self, ctx: &Context<'_>) -> Option<String> {
        self.fill_with(|name| match name {
            "client_id" => Some(ctx.client_id.to_string()),
            "sub" => ctx.identity.map(|i| i.subject.clone()),
            _ => ctx.identity.and_then(|i| i.claim(name.strip_prefix("claims.")?)),
        })
    }
}

/// True when every topic `req` can match is matched by `allowed` (both valid,
/// non-shared filters).
pub fn filter_within(req: &str, allowed: &str) -> bool {
    // `$` topics: a filter starting with a wildcard never matches them
    // [MQTT-4.7.2-1], so a request for `$SYS/#` is only within an allowed filter that
    // names its `$` level.
    if req.starts_with('$') && allowed.starts_with(['+', '#']) {
        return false;
    }
    let mut r = topic::levels(req);
    let mut a = topic::levels(allowed);
    loop {
        match (r.next(), a.next()) {
            (_, Some("#")) => return true,
            (Some("#"), _) => return false,
            (Some(_), Some("+")) => {}
            (Some("+"), Some(_)) => return false,
            (Some(x), Some(y)) if x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// What to do with a denied 3.1.1 PUBLISH (5.0 always gets a reason code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum V3Denied {
    /// Acknowledge and drop.
    #[default]
    Drop,
    /// Close the connection.
    Disconnect,
}

/// What a topic allows beyond being published to or subscribed at all (AsyncAPI
/// MQTT operation bindings): a QoS cap, no retained messages, a longest expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Highest QoS: publishes above it are refused (0x9B), subscriptions capped.
    pub max_qos: Option<QoS>,
    /// Retained publishes are refused (0x9A).
    pub no_retain: bool,
    /// Longest Message Expiry Interval, seconds: 5.0 publishes without one or with
    /// a longer one get this one.
    pub max_expiry: Option<u32>,
}

/// One ACL entry: a filter template, the scopes (roles) a token must carry for
/// the entry to count (none: every session of the listener), and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The filter.
    pub filter: Template,
    /// Scopes the session's token must all carry.
    pub scopes: Vec<String>,
    /// Limits on what matches it.
    pub limits: Limits,
}

impl From<Template> for Entry {
    fn from(filter: Template) -> Entry {
        Entry { filter, scopes: Vec::new(), limits: Limits::default() }
    }
}

impl Entry {
    /// The filter for this session, or `None` when its token lacks a scope or a
    /// placeholder has no safe value.
    pub fn expand(&self, ctx: &Context<'_>) -> Option<String> {
        if !self.scopes.is_empty() && !ctx.identity.is_some_and(|i| i.has_scopes(&self.scopes)) {
            return None;
        }
        self.filter.expand(ctx)
    }
}

/// A listener's ACL as configured (templates, expanded per session).
#[derive(Debug, Clone, Default)]
pub struct AclConfig {
    /// Topics the session may publish to (`None`: any).
    pub publish: Option<Vec<Entry>>,
    /// Filters the session may subscribe within (`None`: any).
    pub subscribe: Option<Vec<Entry>>,
    /// The client identifier the session must use (stops session hijacking).
    pub client_id: Option<Template>,
    /// Answer to a denied 3.1.1 PUBLISH.
    pub v3_denied: V3Denied,
}

impl AclConfig {
    /// The token claims its templates read.
    pub fn claim_paths(&self) -> impl Iterator<Item = &str> {
        let lists = [&self.publish, &self.subscribe].into_iter().flatten().flatten().map(|e| &e.filter);
        lists.chain(&self.client_id).flat_map(Template::claim_paths)
    }

    /// The session's ACL, or `Err` when the client identifier is not the one the
    /// template requires.
    pub fn for_session(&self, ctx: &Context<'_>) -> Result<Acl, super::AuthError> {
        if let Some(t) = &self.client_id {
            if t.expand(ctx).as_deref() != Some(ctx.client_id) {
                return Err(super::AuthError::ClientId);
            }
        }
        let fill = |es: &[Entry]| es.iter().filter_map(|e| e.expand(ctx)).collect::<Vec<_>>();
        // Limits are kept per expanded entry only when some entry has any.
        let limited = |es: &Option<Vec<Entry>>| -> Vec<(String, Limits)> {
            let es = es.as_deref().unwrap_or_default();
            if es.iter().all(|e| e.limits == Limits::default()) {
                return Vec::new();
            }
            es.iter().filter_map(|e| Some((e.expand(ctx)?, e.limits))).collect()
        };
        Ok(Acl {
            publish: self.publish.as_deref().map(fill),
            subscribe: self.subscribe.as_deref().map(fill),
            publish_limits: limited(&self.publish),
            subscribe_limits: limited(&self.subscribe),
        })
    }
}

/// A session's expanded ACL. `None` lists allow everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    /// Filters topics must match to be published.
    pub publish: Option<Vec<String>>,
    /// Filters subscriptions must stay within.
    pub subscribe: Option<Vec<String>>,
    /// Publish entries with their limits (empty when no entry has any).
    pub publish_limits: Vec<(String, Limits)>,
    /// Subscribe entries with their limits (empty when no entry has any).
    pub subscribe_limits: Vec<(String, Limits)>,
}

impl Acl {
    /// Expands templates for one session.
    pub fn expand(publish: Option<&[Template]>, subscribe: Option<&[Template]>, ctx: &Context<'_>) -> Acl {
        let fill = |ts: &[Template]| ts.iter().filter_map(|t| t.expand(ctx)).collect::<Vec<_>>();
        Acl { publish: publish.map(fill), subscribe: subscribe.map(fill), ..Acl::default() }
    }

    /// The limits of the first publish entry matching `topic`.
    pub fn publish_limits(&self, topic_name: &str) -> Limits {
        let hit = self.publish_limits.iter().find(|(f, _)| topic::matches(f, topic_name));
        hit.map(|(_, l)| *l).unwrap_or_default()
    }

    /// The QoS cap of the first subscribe entry `filter` lies within.
    pub fn subscribe_cap(&self, filter: &str) -> Option<QoS> {
        let plain = match SharedSubscription::split(filter) {
            Some(Ok(s)) => s.filter,
            _ => filter,
        };
        let hit = self.subscribe_limits.iter().find(|(f, _)| filter_within(plain, f));
        hit.and_then(|(_, l)| l.max_qos)
    }

    /// May the session publish to `topic`?
    pub fn can_publish(&self, topic_name: &str) -> bool {
        match &self.publish {
            None => true,
            Some(list) => list.iter().any(|f| topic::matches(f, topic_name)),
        }
    }

    /// May the session subscribe to `filter` (possibly `$share/{group}/…`)?
    pub fn can_subscribe(&self, filter: &str) -> bool {
        let Some(list) = &self.subscribe else { return true };
        let plain = match SharedSubscription::split(filter) {
            Some(Ok(s)) => s.filter,
            Some(Err(_)) => return false,
            None => filter,
        };
        list.iter().any(|f| filter_within(plain, f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity() -> Identity {
        let claims =
            json!({"sub": "dev-1", "tenant": "acme", "bad": "a/b"}).as_object().cloned().unwrap_or_default();
        Identity { subject: "dev-1".into(), roles: vec![], expires_at: 0, claims }
    }

    #[test]
    fn entries_with_scopes_count_only_for_tokens_that_carry_them() {
        let mut id = identity();
        let entry = |f: &str, scopes: &[&str]| Entry {
            filter: Template::parse(f, true).expect("valid"),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            limits: Limits::default(),
        };
        let cfg = AclConfig {
            publish: Some(vec![entry("telemetry/{sub}", &[]), entry("commands/#", &["operator"])]),
            subscribe: Some(vec![entry("alerts/#", &["operator", "audit"])]),
            ..AclConfig::default()
        };
        let acl = cfg.for_session(&Context { identity: Some(&id), client_id: "c" }).expect("acl");
        assert!(acl.can_publish("telemetry/dev-1") && !acl.can_publish("commands/stop"));
        assert!(!acl.can_subscribe("alerts/#"));
        id.roles = vec!["operator".into()];
        let acl = cfg.for_session(&Context { identity: Some(&id), client_id: "c" }).expect("acl");
        assert!(acl.can_publish("commands/stop") && !acl.can_subscribe("alerts/#"), "needs both scopes");
        id.roles.push("audit".into());
        let acl = cfg.for_session(&Context { identity: Some(&id), client_id: "c" }).expect("acl");
        assert!(acl.can_subscribe("alerts/fire"));
        // Without a token, scoped entries never count.
        let acl = cfg.for_session(&Context { identity: None, client_id: "c" }).expect("acl");
        assert!(!acl.can_publish("commands/stop"));
    }

    #[test]
    fn templates_parse_and_expand() {
        let id = identity();
        let ctx = Context { identity: Some(&id), client_id: "c-9" };
        let t = Template::parse("devices/{sub}/#", true).expect("valid");
        assert_eq!(t.expand(&ctx).as_deref(), Some("devices/dev-1/#"));
        let t = Template::parse("{claims.tenant}/{client_id}/+", true).expect("valid");
        assert_eq!(t.expand(&ctx).as_deref(), Some("acme/c-9/+"));
        // A value with a separator or wildcard removes the entry.
        assert_eq!(Template::parse("x/{claims.bad}", true).expect("valid").expand(&ctx), None);
        assert_eq!(Template::parse("x/{claims.nope}", true).expect("valid").expand(&ctx), None);
        assert!(matches!(Template::parse("x/{subject}", true), Err(TemplateError::Placeholder(_))));
        assert!(matches!(Template::parse("x/{sub", true), Err(TemplateError::Placeholder(_))));
        assert!(matches!(Template::parse("x/#/{sub}", true), Err(TemplateError::Filter(_))));
        assert!(matches!(Template::parse("x/{sub}", false), Err(TemplateError::NeedsGuard(_))));
        assert!(Template::parse("x/{client_id}", false).is_ok());
    }

    #[test]
    fn containment() {
        assert!(filter_within("devices/d1/temp", "devices/d1/#"));
        assert!(filter_within("devices/d1/#", "devices/d1/#"));
        assert!(filter_within("devices/d1", "devices/d1/#"));
        assert!(filter_within("devices/d1/+/x", "devices/d1/#"));
        assert!(!filter_within("devices/+/temp", "devices/d1/#"));
        assert!(!filter_within("devices/#", "devices/d1/#"));
        assert!(!filter_within("#", "devices/d1/#"));
        assert!(filter_within("a/+/c", "a/+/c"));
        assert!(filter_within("a/b/c", "a/+/c"));
        assert!(!filter_within("a/+/c/d", "a/+/c"));
        assert!(!filter_within("a/b", "a/+/c"));
    }

    #[test]
    fn dollar_topics_are_never_granted_by_a_leading_wildcard() {
        // (request, allowed, within?)
        let table = [
            ("$SYS/#", "#", false),
            ("$SYS/broker/load", "#", false),
            ("$SYS/broker/load", "+/broker/load", false),
            ("$SYS/+", "+/#", false),
            ("$SYS/#", "$SYS/#", true),
            ("$SYS/broker/load", "$SYS/+/load", true),
            ("$SYS/broker/load", "$SYS/#", true),
            ("$internal/x", "$SYS/#", false),
            ("#", "#", true),
            ("+/x", "#", true),
            ("a/$SYS/x", "+/$SYS/#", true),
            ("a/$SYS/x", "#", true),
        ];
        for (req, allowed, within) in table {
            assert_eq!(filter_within(req, allowed), within, "{req} within {allowed}");
        }
        // The same through the session ACL, shared subscriptions judged by their filter,
        // and for publishing.
        let ctx = Context { identity: None, client_id: "c" };
        let all = [Template::parse("#", false).expect("t")];
        let acl = Acl::expand(Some(&all), Some(&all), &ctx);
        for (filter, ok) in [
            ("$SYS/#", false),
            ("$share/g/$SYS/#", false),
            ("$share/g/#", true),
            ("$share/$SYS/x", true),
            ("telemetry/#", true),
        ] {
            assert_eq!(acl.can_subscribe(filter), ok, "subscribe {filter}");
        }
        assert!(!acl.can_publish("$SYS/broker/load"));
        assert!(acl.can_publish("plant/line1"));
        let sys = [Template::parse("$SYS/#", false).expect("t")];
        let acl = Acl::expand(Some(&sys), Some(&sys), &ctx);
        assert!(acl.can_subscribe("$SYS/broker/+") && acl.can_subscribe("$share/g/$SYS/#"));
        assert!(!acl.can_subscribe("#"));
    }

    #[test]
    fn session_acl() {
        let id = identity();
        let ctx = Context { identity: Some(&id), client_id: "c" };
        let pubs = [Template::parse("devices/{sub}/#", true).expect("t")];
        let subs = [
            Template::parse("devices/{sub}/#", true).expect("t"),
            Template::parse("broadcast/#", true).expect("t"),
        ];
        let acl = Acl::expand(Some(&pubs), Some(&subs), &ctx);
        assert!(acl.can_publish("devices/dev-1/temp"));
        assert!(!acl.can_publish("devices/dev-2/temp"));
        assert!(acl.can_subscribe("broadcast/all"));
        assert!(acl.can_subscribe("$share/g/devices/dev-1/+"));
        assert!(!acl.can_subscribe("$share/g/devices/+/temp"));
        assert!(!acl.can_subscribe("#"));
        assert!(Acl::default().can_publish("anything") && Acl::default().can_subscribe("#"));
    }
}
