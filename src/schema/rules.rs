//! Validation rules: which topics are checked, in which direction, against which
//! validators, and what happens to an invalid message. The compiled [`Schemas`] is
//! part of the shared read-only snapshot; validators from registries sit behind an
//! `ArcSwap` that [`Schemas::refresh`] (called off the data path) may replace.
//!
//! Rules are tried in order; the first whose filter matches the topic (and covers
//! the direction) decides. A topic no rule matches is not checked.

use super::catalog::{CatalogSpec, Fetch};
use super::validator::{ContentSpec, Validator};
use super::{Invalid, Reason, SchemaError};
use crate::mqtt::{topic, PublishProperties};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → broker (PUBLISH from a client).
    Publish,
    /// Broker → client (delivery to a subscriber).
    Deliver,
}

impl Direction {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Direction::Publish => "publish",
            Direction::Deliver => "deliver",
        }
    }
}

/// What a 3.1.1 publisher's invalid message costs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnInvalidV3 {
    /// Acknowledge and drop (no reconnect loop).
    #[default]
    Drop,
    /// Close the connection.
    Disconnect,
}

/// What a 5.0 publisher's invalid message costs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnInvalidV5 {
    /// PUBACK/PUBREC 0x99 (QoS 0: dropped).
    #[default]
    Reason,
    /// DISCONNECT 0x99.
    Disconnect,
}

/// Both protocol answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OnInvalid {
    /// 3.1.1 clients.
    pub v3: OnInvalidV3,
    /// 5.0 clients.
    pub v5: OnInvalidV5,
}

/// A rule, as configured.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// Config key (for errors), e.g. `schemas[0]`.
    pub key: String,
    /// Topic filter.
    pub filter: String,
    /// Check client publishes.
    pub publish: bool,
    /// Check deliveries to clients.
    pub deliver: bool,
    /// The payload's model.
    pub content: Option<ContentSpec>,
    /// User property name → model of its value.
    pub user_properties: Vec<(String, ContentSpec)>,
    /// Content Type a 5.0 publish must have, if it has one.
    pub content_type: Option<String>,
    /// The answer to an invalid publish.
    pub on_invalid: OnInvalid,
}

type Slot = Arc<ArcSwap<Validator>>;

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Topic filter (also the metric label).
    pub filter: String,
    /// Checks client publishes.
    pub publish: bool,
    /// Checks deliveries.
    pub deliver: bool,
    content: Option<Slot>,
    user_properties: Vec<(String, Slot)>,
    content_type: Option<String>,
    /// The answer to an invalid publish.
    pub on_invalid: OnInvalid,
}

/// A validator whose schema lives in a registry.
#[derive(Debug)]
struct Live {
    spec: ContentSpec,
    slot: Slot,
}

/// All rules, compiled.
#[derive(Debug, Default)]
pub struct Schemas {
    /// In order.
    pub rules: Vec<Rule>,
    catalogs: HashMap<String, CatalogSpec>,
    live: Vec<Live>,
    publish: bool,
    deliver: bool,
}

/// Validators compiled so far, one per distinct model and source (rules naming the
/// same subject share it, and a registry subject is fetched and refreshed once).
struct Built<'c> {
    catalogs: &'c HashMap<String, CatalogSpec>,
    fetch: &'c dyn Fetch,
    by_spec: HashMap<String, Slot>,
    live: Vec<Live>,
}

impl Built<'_> {
    fn get(&mut self, spec: &ContentSpec, key: &str) -> Result<Slot, SchemaError> {
        // The spec's debug form names the model, its options and its source.
        let id = format!("{spec:?}");
        if let Some(slot) = self.by_spec.get(&id) {
            return Ok(slot.clone());
        }
        let v = Validator::build(spec, self.catalogs, self.fetch).map_err(|m| SchemaError::new(key, m))?;
        let slot = Arc::new(ArcSwap::from_pointee(v));
        if spec.is_live(self.catalogs) {
            self.live.push(Live { spec: spec.clone(), slot: slot.clone() });
        }
        self.by_spec.insert(id, slot.clone());
        Ok(slot)
    }
}

/// Compiles rules against catalogs (registry schemas fetched through `fetch`).
pub fn compile(
    catalogs: HashMap<String, CatalogSpec>,
    specs: &[RuleSpec],
    fetch: &dyn Fetch,
) -> Result<Schemas, SchemaError> {
    let mut rules = Vec::new();
    let mut built = Built { catalogs: &catalogs, fetch, by_spec: HashMap::new(), live: Vec::new() };
    for s in specs {
        topic::validate_filter(&s.filter)
            .map_err(|e| SchemaError::new(format!("{}.filter", s.key), e.to_string()))?;
        if s.content.is_none() && s.user_properties.is_empty() && s.content_type.is_none() {
            return Err(SchemaError::new(
                &s.key,
                "a rule needs `content`, `user_properties` or `content_type`",
            ));
        }
        let content = match &s.content {
            Some(c) => Some(built.get(c, &format!("{}.content", s.key))?),
            None => None,
        };
        let mut user_properties = Vec::new();
        for (name, c) in &s.user_properties {
            let key = format!("{}.user_properties.{name}", s.key);
            user_properties.push((name.clone(), built.get(c, &key)?));
        }
        rules.push(Rule {
            filter: s.filter.clone(),
            publish: s.publish,
            deliver: s.deliver,
            content,
            user_properties,
            content_type: s.content_type.clone(),
            on_invalid: s.on_invalid,
        });
    }
    let live = built.live;
    let publish = rules.iter().any(|r| r.publish);
    let deliver = rules.iter().any(|r| r.deliver);
    Ok(Schemas { rules, catalogs, live, publish, deliver })
}

impl Schemas {
    /// True when some rule checks this direction.
    #[inline]
    pub fn checks(&self, dir: Direction) -> bool {
        match dir {
            Direction::Publish => self.publish,
            Direction::Deliver => self.deliver,
        }
    }

    /// The first rule for `topic` in `dir`, with its index.
    pub fn rule(&self, topic_name: &str, dir: Direction) -> Option<(usize, &Rule)> {
        self.rules.iter().enumerate().find(|(_, r)| {
            let covers = match dir {
                Direction::Publish => r.publish,
                Direction::Deliver => r.deliver,
            };
            covers && topic::matches(&r.filter, topic_name)
        })
    }

    /// Names of the registry catalogs (each gets a refresh thread).
    pub fn registries(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .catalogs
            .iter()
            .filter(|(_, c)| matches!(c, CatalogSpec::Registry))
            .map(|(n, _)| n.clone())
            .collect();
        v.sort();
        v
    }

    /// Re-reads every validator from registry `catalog` and swaps in those that
    /// compile; a schema that cannot be fetched or compiled keeps its last good
    /// version. Returns (validators replaced, errors).
    pub fn refresh(&self, catalog: &str, fetch: &dyn Fetch) -> (usize, Vec<String>) {
        let (mut swapped, mut errors) = (0, Vec::new());
        for l in &self.live {
            if l.spec.source.as_ref().is_none_or(|s| s.catalog != catalog) {
                continue;
            }
            match Validator::build(&l.spec, &self.catalogs, fetch) {
                Ok(v) => {
                    l.slot.store(Arc::new(v));
                    swapped += 1;
                }
                Err(e) => errors.push(e),
            }
        }
        (swapped, errors)
    }
}

impl Rule {
    /// Checks a message: its properties (`None`: 3.1.1, or a 5.0 publish without
    /// properties) and its payload.
    pub fn check(&self, payload: &[u8], props: Option<&PublishProperties>) -> Result<(), Invalid> {
        if let Some(p) = props {
            if p.payload_format_indicator == Some(1) && std::str::from_utf8(payload).is_err() {
                return Err(Invalid::new(Reason::Encoding, "Payload Format Indicator is 1 but not UTF-8"));
            }
            if let (Some(want), Some(got)) = (&self.content_type, &p.content_type) {
                if want.as_str() != &**got {
                    return Err(Invalid::new(
                        Reason::ContentType,
                        format!("content type `{got}`, expected `{want}`"),
                    ));
                }
            }
            for (name, slot) in &self.user_properties {
                for (_, value) in p.user.iter().filter(|(k, _)| &**k == name.as_str()) {
                    slot.load().check(value.as_bytes()).map_err(|mut e| {
                        e.detail = format!("user property `{name}`: {}", e.detail);
                        e
                    })?;
                }
            }
        }
        match &self.content {
            Some(slot) => slot.load().check(payload),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalog::NoRegistry;
    use super::super::primitive::{NumberFormat, NumberKind, NumberRule};
    use super::super::validator::{Model, Source};
    use super::*;
    use crate::mqtt::MqttStr;

    fn spec(filter: &str, content: Option<ContentSpec>) -> RuleSpec {
        RuleSpec {
            key: "schemas[0]".into(),
            filter: filter.into(),
            publish: true,
            deliver: false,
            content,
            user_properties: Vec::new(),
            content_type: None,
            on_invalid: OnInvalid::default(),
        }
    }

    fn json(subject: &str) -> ContentSpec {
        ContentSpec {
            model: Model::Json,
            source: Some(Source {
                catalog: "local".into(),
                subject: Some(subject.into()),
                version: None,
                id: None,
            }),
        }
    }

    fn catalogs() -> HashMap<String, CatalogSpec> {
        let inline = [("obj".to_string(), r#"{"type":"object"}"#.to_string())].into();
        [("local".to_string(), CatalogSpec::Inline(inline))].into()
    }

    #[test]
    fn first_matching_rule_decides() {
        let specs = [spec("a/+/t", Some(json("obj"))), spec("a/#", None)];
        assert!(compile(catalogs(), &specs, &NoRegistry).is_err(), "a rule with nothing to check");
        let mut second = spec("a/#", None);
        second.content_type = Some("text/plain".into());
        let s =
            compile(catalogs(), &[spec("a/+/t", Some(json("obj"))), second], &NoRegistry).expect("compiles");
        assert!(s.checks(Direction::Publish) && !s.checks(Direction::Deliver));
        let (i, r) = s.rule("a/1/t", Direction::Publish).expect("rule");
        assert_eq!(i, 0);
        assert!(r.check(b"{}", None).is_ok());
        assert_eq!(r.check(b"[]", None).map_err(|e| e.reason), Err(Reason::Schema));
        assert_eq!(s.rule("a/1/x", Direction::Publish).map(|r| r.0), Some(1));
        assert!(s.rule("b", Direction::Publish).is_none());
        assert!(s.rule("a/1/t", Direction::Deliver).is_none());
    }

    #[test]
    fn properties_are_checked() {
        let mut r = spec("#", Some(json("obj")));
        r.content_type = Some("application/json".into());
        let number = ContentSpec {
            model: Model::Number(NumberRule {
                kind: NumberKind::Int32,
                format: NumberFormat::Text,
                min: Some(0.0),
                max: None,
            }),
            source: None,
        };
        r.user_properties.push(("seq".into(), number));
        let s = compile(catalogs(), &[r], &NoRegistry).expect("compiles");
        let (_, rule) = s.rule("x", Direction::Publish).expect("rule");
        let mut p = PublishProperties { payload_format_indicator: Some(1), ..Default::default() };
        assert!(rule.check(b"{}", Some(&p)).is_ok());
        assert_eq!(rule.check(b"\xff", Some(&p)).map_err(|e| e.reason), Err(Reason::Encoding));
        p.content_type = Some(MqttStr::from_static("text/plain"));
        assert_eq!(rule.check(b"{}", Some(&p)).map_err(|e| e.reason), Err(Reason::ContentType));
        p.content_type = None;
        p.user.push((MqttStr::from_static("seq"), MqttStr::from_static("-1")));
        assert_eq!(rule.check(b"{}", Some(&p)).map_err(|e| e.reason), Err(Reason::Constraint));
    }

    #[test]
    fn rules_naming_one_subject_share_its_validator() {
        let s = compile(
            catalogs(),
            &[spec("a/#", Some(json("obj"))), spec("b/#", Some(json("obj")))],
            &NoRegistry,
        )
        .expect("compiles");
        let (a, b) = (s.rules[0].content.as_ref().expect("a"), s.rules[1].content.as_ref().expect("b"));
        assert!(Arc::ptr_eq(a, b));
    }

    #[test]
    fn load_errors_name_the_rule() {
        let e =
            compile(catalogs(), &[spec("a/#", Some(json("missing")))], &NoRegistry).expect_err("no subject");
        assert_eq!(e.key, "schemas[0].content");
        let e =
            compile(catalogs(), &[spec("a/#/b", Some(json("obj")))], &NoRegistry).expect_err("bad filter");
        assert_eq!(e.key, "schemas[0].filter");
    }
}
