//! The tree: every value with the line it starts on. Parsed with `serde-saphyr`
//! (YAML 1.2, so JSON documents parse too), through its `Spanned` locations.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;

/// A value and the 1-based line it starts on (0: unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Line of the value in its file.
    pub line: u64,
    /// The value.
    pub value: Value,
}

/// A YAML / JSON value. Mappings keep their order and their keys' lines.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping: (key, key line, value), in document order.
    Map(Vec<(String, u64, Node)>),
}

impl Node {
    /// The value as a string, if it is a scalar string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar written as text (strings as they are, numbers and booleans in their
    /// usual form); `None` for null, sequences and mappings.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn entries(&self) -> Option<&[(String, u64, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v)
    }

    /// The node at a JSON pointer relative to this one (`""` is this node).
    pub fn at_pointer(&self, pointer: &str) -> Option<&Node> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        let mut node = self;
        for raw in rest.split('/') {
            let token = raw.replace("~1", "/").replace("~0", "~");
            node = match &node.value {
                Value::Map(m) => m.iter().find(|(k, _, _)| *k == token).map(|(_, _, v)| v)?,
                Value::Seq(s) => s.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The value as JSON (for handing a schema to a JSON Schema or Avro compiler).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, _, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

/// Escapes one JSON pointer reference token (`~` → `~0`, `/` → `~1`).
pub fn pointer_escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Parses YAML or JSON text with YAML 1.2 core booleans only (`n`, `no`, `off`
/// stay strings: a JWK's `n` is a modulus). The error text has serde-saphyr's line
/// and column.
pub fn parse(text: &str) -> Result<Node, String> {
    let options = serde_saphyr::options! { strict_booleans: true };
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| e.to_string())
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        let s = Spanned::<Value>::deserialize(d)?;
        Ok(Node { line: s.referenced.line(), value: s.value })
    }
}

/// A mapping key: strings, and scalars written as text (`200:`, `true:`).
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        match Value::deserialize(d)? {
            Value::Str(s) => Ok(Key(s)),
            Value::Int(i) => Ok(Key(i.to_string())),
            Value::Bool(b) => Ok(Key(b.to_string())),
            Value::Float(f) => Ok(Key(f.to_string())),
            Value::Null => Ok(Key(String::new())),
            _ => Err(de::Error::custom("a mapping key must be a scalar")),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        i64::try_from(u).map(Value::Int).or(Ok(Value::Float(u as f64)))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            out.push(n);
        }
        Ok(Value::Seq(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out: Vec<(String, u64, Node)> = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Key>>()? {
            let v = map.next_value::<Node>()?;
            if out.iter().any(|(x, _, _)| *x == k.value.0) {
                return Err(de::Error::custom(format!("duplicate key `{}`", k.value.0)));
            }
            out.push((k.value.0, k.referenced.line(), v));
        }
        Ok(Value::Map(out))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_lines_and_types() {
        let doc = parse("a: 1\nb:\n  - x\n  - 2.5\nc: {d: true, e: null}\n'200': ok\nn: no\n").expect("yaml");
        assert_eq!(doc.get("n").and_then(Node::as_str), Some("no"), "YAML 1.2: `n` and `no` are strings");
        assert_eq!(doc.get("a"), Some(&Node { line: 1, value: Value::Int(1) }));
        let b = doc.get("b").expect("b");
        let Value::Seq(items) = &b.value else { panic!("seq") };
        assert_eq!(items[0], Node { line: 3, value: Value::Str("x".into()) });
        assert_eq!(items[1].line, 4);
        assert_eq!(doc.at_pointer("/c/d").map(|n| &n.value), Some(&Value::Bool(true)));
        assert_eq!(doc.at_pointer("/c/e").map(|n| &n.value), Some(&Value::Null));
        assert_eq!(doc.at_pointer("/b/1").map(|n| n.line), Some(4));
        assert_eq!(doc.at_pointer("/200").and_then(Node::as_str), Some("ok"));
        let keys: Vec<(&str, u64)> =
            doc.entries().expect("map").iter().map(|(k, l, _)| (k.as_str(), *l)).collect();
        assert_eq!(keys, [("a", 1), ("b", 2), ("c", 5), ("200", 6), ("n", 7)]);
    }

    #[test]
    fn json_parses_with_lines() {
        let doc = parse("{\n  \"x\": {\n    \"y/z\": [1, \"two\"]\n  }\n}\n").expect("json");
        let n = doc.at_pointer(&format!("/x/{}/1", pointer_escape("y/z"))).expect("node");
        assert_eq!(n.as_str(), Some("two"));
        assert_eq!(n.line, 3);
        assert_eq!(doc.to_json(), serde_json::json!({"x": {"y/z": [1, "two"]}}));
    }

    #[test]
    fn duplicate_keys_and_bad_yaml_are_errors() {
        assert!(parse("a: 1\na: 2\n").expect_err("dup").contains("duplicate"));
        assert!(parse("a: [1,\n").is_err());
    }
}
