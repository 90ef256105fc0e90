//! [`Obj`]: a cursor over one mapping that records which keys were read, so the
//! caller can name every key it did not understand (its JSON pointer and line).

use super::node::{pointer_escape, Node, Value};

/// Something wrong (or not understood) at a place in a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {pointer}: {message}")]
pub struct DocError {
    /// 1-based line (0: unknown).
    pub line: u64,
    /// JSON pointer of the value (`""` is the document).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl DocError {
    /// An error about `node` at `pointer`.
    pub fn at(node: &Node, pointer: &str, message: impl Into<String>) -> DocError {
        DocError { line: node.line, pointer: display(pointer), message: message.into() }
    }
}

fn display(pointer: &str) -> String {
    if pointer.is_empty() {
        "/".into()
    } else {
        pointer.to_string()
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::Str(_) => "a string",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
    }
}

/// A mapping being read: every `get` marks its key as read.
#[derive(Debug)]
pub struct Obj<'a> {
    node: &'a Node,
    entries: &'a [(String, u64, Node)],
    pointer: String,
    read: Vec<bool>,
}

impl<'a> Obj<'a> {
    /// A cursor over `node`, which must be a mapping.
    pub fn new(node: &'a Node, pointer: &str) -> Result<Obj<'a>, DocError> {
        match &node.value {
            Value::Map(m) => {
                Ok(Obj { node, entries: m, pointer: pointer.to_string(), read: vec![false; m.len()] })
            }
            other => Err(DocError::at(node, pointer, format!("expected a mapping, found {}", kind(other)))),
        }
    }

    /// This mapping's JSON pointer.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// The node of this mapping.
    pub fn node(&self) -> &'a Node {
        self.node
    }

    /// The pointer of `key` inside this mapping.
    pub fn child(&self, key: &str) -> String {
        format!("{}/{}", self.pointer, pointer_escape(key))
    }

    /// An error about this mapping.
    pub fn error(&self, message: impl Into<String>) -> DocError {
        DocError::at(self.node, &self.pointer, message)
    }

    /// An error about the value under `key` (or about this mapping if it is absent).
    pub fn error_at(&self, key: &str, message: impl Into<String>) -> DocError {
        match self.entries.iter().find(|(k, _, _)| k == key) {
            Some((_, _, v)) => DocError::at(v, &self.child(key), message),
            None => self.error(message),
        }
    }

    /// The value under `key`, marked as read.
    pub fn opt(&mut self, key: &str) -> Option<&'a Node> {
        let i = self.entries.iter().position(|(k, _, _)| k == key)?;
        self.read[i] = true;
        Some(&self.entries[i].2)
    }

    /// The value under `key`, which must be there.
    pub fn req(&mut self, key: &str) -> Result<&'a Node, DocError> {
        self.opt(key).ok_or_else(|| self.error(format!("`{key}` is required")))
    }

    /// A string under `key`, if present.
    pub fn opt_str(&mut self, key: &str) -> Result<Option<&'a str>, DocError> {
        match self.opt(key) {
            None => Ok(None),
            Some(n) => match &n.value {
                Value::Str(s) => Ok(Some(s)),
                other => Err(DocError::at(
                    n,
                    &self.child(key),
                    format!("expected a string, found {}", kind(other)),
                )),
            },
        }
    }

    /// A string under `key`, which must be there.
    pub fn req_str(&mut self, key: &str) -> Result<&'a str, DocError> {
        self.opt_str(key)?.ok_or_else(|| self.error(format!("`{key}` is required")))
    }

    /// A scalar under `key` written as text (numbers and booleans too).
    pub fn opt_scalar(&mut self, key: &str) -> Result<Option<String>, DocError> {
        match self.opt(key) {
            None => Ok(None),
            Some(n) => n.scalar_text().map(Some).ok_or_else(|| {
                DocError::at(n, &self.child(key), format!("expected a scalar, found {}", kind(&n.value)))
            }),
        }
    }

    /// A boolean under `key`, if present.
    pub fn opt_bool(&mut self, key: &str) -> Result<Option<bool>, DocError> {
        match self.opt(key) {
            None => Ok(None),
            Some(Node { value: Value::Bool(b), .. }) => Ok(Some(*b)),
            Some(n) => Err(DocError::at(
                n,
                &self.child(key),
                format!("expected a boolean, found {}", kind(&n.value)),
            )),
        }
    }

    /// A non-negative integer under `key`, if present.
    pub fn opt_u64(&mut self, key: &str) -> Result<Option<u64>, DocError> {
        match self.opt(key) {
            None => Ok(None),
            Some(Node { value: Value::Int(i), .. }) if *i >= 0 => Ok(Some(*i as u64)),
            Some(n) => Err(DocError::at(n, &self.child(key), "expected a non-negative integer")),
        }
    }

    /// A mapping under `key`, if present.
    pub fn opt_obj(&mut self, key: &str) -> Result<Option<Obj<'a>>, DocError> {
        let pointer = self.child(key);
        self.opt(key).map(|n| Obj::new(n, &pointer)).transpose()
    }

    /// A list under `key`, if present.
    pub fn opt_seq(&mut self, key: &str) -> Result<Option<&'a [Node]>, DocError> {
        match self.opt(key) {
            None => Ok(None),
            Some(Node { value: Value::Seq(s), .. }) => Ok(Some(s)),
            Some(n) => {
                Err(DocError::at(n, &self.child(key), format!("expected a list, found {}", kind(&n.value))))
            }
        }
    }

    /// Every entry (for mappings whose keys are names chosen by the author), all
    /// marked as read.
    pub fn all(&mut self) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        self.read.iter_mut().for_each(|r| *r = true);
        self.entries.iter().map(|(k, _, v)| (k.as_str(), v))
    }

    /// Marks every key for which `pred` holds as read (documentation keys a reader
    /// knows and has no use for).
    pub fn skip(&mut self, pred: impl Fn(&str) -> bool) {
        for (i, (k, _, _)) in self.entries.iter().enumerate() {
            if pred(k) {
                self.read[i] = true;
            }
        }
    }

    /// The keys nobody read, each as a [`DocError`] saying `message`.
    pub fn unread(&self, message: &str) -> Vec<DocError> {
        let entries = self.entries.iter().zip(&self.read).filter(|(_, r)| !**r);
        entries
            .map(|((k, line, _), _)| DocError {
                line: *line,
                pointer: self.child(k),
                message: message.to_string(),
            })
            .collect()
    }

    /// Fails on the first key nobody read.
    pub fn finish(self, message: &str) -> Result<(), DocError> {
        match self.unread(message).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::parse;

    #[test]
    fn unread_keys_are_named_with_pointer_and_line() {
        let doc = parse("a: 1\nb:\n  c: x\n  d/e: y\n").expect("yaml");
        let mut top = Obj::new(&doc, "").expect("map");
        assert_eq!(top.opt_u64("a"), Ok(Some(1)));
        let mut b = top.opt_obj("b").expect("obj").expect("b");
        assert_eq!(b.req_str("c"), Ok("x"));
        let e = b.finish("not supported").expect_err("d/e unread");
        assert_eq!(e.to_string(), "line 4: /b/d~1e: not supported");
        assert!(top.finish("not supported").is_ok());
    }

    #[test]
    fn wrong_types_and_missing_keys_name_the_place() {
        let doc = parse("a: [1]\nb: text\n").expect("yaml");
        let mut top = Obj::new(&doc, "").expect("map");
        assert_eq!(
            top.opt_str("a").expect_err("list").to_string(),
            "line 1: /a: expected a string, found a list"
        );
        assert_eq!(top.req("z").expect_err("missing").to_string(), "line 1: /: `z` is required");
        assert!(Obj::new(doc.get("b").expect("b"), "/b").is_err());
    }
}
