//! The `avro` model: an Avro schema (parsed by `apache-avro`) compiled into a flat
//! node table, and a walker that checks a binary datum against it without building
//! any value.
//!
//! The walker enforces what the Avro binary encoding defines: varint widths, `int`
//! range, string UTF-8, enum and union indexes, fixed sizes, array/map blocks, and
//! that the datum is exactly the payload (no trailing bytes). It also bounds its own
//! work: at most [`STEPS_PER_BYTE`] steps per payload byte (an array may legally
//! hold a billion `null`s in a few bytes; this proxy will not loop over them) and
//! [`MAX_DEPTH`] levels of nesting.

use super::wire::{take, zigzag};
use super::{Invalid, Reason};
use apache_avro::schema::{Name, Schema};
use std::collections::HashMap;

/// Work budget: steps per payload byte (plus a constant).
const STEPS_PER_BYTE: usize = 8;
/// Deepest nesting of records, arrays, maps and unions.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone)]
enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(usize),
    Map(usize),
    Union(Vec<usize>),
    Record(Vec<usize>),
    Enum(usize),
    Fixed(usize),
}

/// A compiled Avro schema.
#[derive(Debug)]
pub struct AvroModel {
    nodes: Vec<Node>,
}

struct Builder<'s> {
    nodes: Vec<Node>,
    named: HashMap<&'s Name, usize>,
    all: HashMap<&'s Name, &'s Schema>,
}

fn collect<'s>(s: &'s Schema, all: &mut HashMap<&'s Name, &'s Schema>) {
    match s {
        Schema::Record(r) if all.insert(&r.name, s).is_none() => {
            r.fields.iter().for_each(|f| collect(&f.schema, all));
        }
        Schema::Enum(e) => {
            all.insert(&e.name, s);
        }
        Schema::Fixed(f) => {
            all.insert(&f.name, s);
        }
        Schema::Array(a) => collect(&a.items, all),
        Schema::Map(m) => collect(&m.types, all),
        Schema::Union(u) => u.variants().iter().for_each(|v| collect(v, all)),
        Schema::Decimal(d) => collect(&d.inner, all),
        _ => {}
    }
}

impl<'s> Builder<'s> {
    fn push(&mut self, n: Node) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn node(&mut self, s: &'s Schema) -> Result<usize, String> {
        Ok(match s {
            Schema::Null => self.push(Node::Null),
            Schema::Boolean => self.push(Node::Boolean),
            Schema::Int | Schema::Date | Schema::TimeMillis => self.push(Node::Int),
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => self.push(Node::Long),
            Schema::Float => self.push(Node::Float),
            Schema::Double => self.push(Node::Double),
            Schema::Bytes | Schema::BigDecimal => self.push(Node::Bytes),
            Schema::String | Schema::Uuid => self.push(Node::String),
            Schema::Duration => self.push(Node::Fixed(12)),
            Schema::Decimal(d) => self.node(&d.inner)?,
            Schema::Array(a) => {
                let at = self.push(Node::Null);
                let items = self.node(&a.items)?;
                self.nodes[at] = Node::Array(items);
                at
            }
            Schema::Map(m) => {
                let at = self.push(Node::Null);
                let values = self.node(&m.types)?;
                self.nodes[at] = Node::Map(values);
                at
            }
            Schema::Union(u) => {
                let at = self.push(Node::Null);
                let mut v = Vec::new();
                for s in u.variants() {
                    v.push(self.node(s)?);
                }
                self.nodes[at] = Node::Union(v);
                at
            }
            Schema::Record(r) => {
                if let Some(&at) = self.named.get(&r.name) {
                    return Ok(at);
                }
                let at = self.push(Node::Null);
                self.named.insert(&r.name, at);
                let mut v = Vec::new();
                for f in &r.fields {
                    v.push(self.node(&f.schema)?);
                }
                self.nodes[at] = Node::Record(v);
                at
            }
            Schema::Enum(e) => self.push(Node::Enum(e.symbols.len())),
            Schema::Fixed(f) => self.push(Node::Fixed(f.size)),
            Schema::Ref { name } => match self.named.get(name) {
                Some(&at) => at,
                None => {
                    let target = self.all.get(name).ok_or_else(|| format!("unknown type `{}`", name.name))?;
                    self.node(target)?
                }
            },
        })
    }
}

/// The walker's state for one payload.
struct Walk<'m> {
    nodes: &'m [Node],
    steps: usize,
}

fn truncated() -> Invalid {
    Invalid::new(Reason::Syntax, "truncated Avro datum")
}

impl Walk<'_> {
    fn step(&mut self) -> Result<(), Invalid> {
        self.steps = self.steps.checked_sub(1).ok_or_else(|| {
            Invalid::new(Reason::Syntax, "Avro datum needs more work than its size justifies")
        })?;
        Ok(())
    }

    fn len(buf: &mut &[u8]) -> Result<usize, Invalid> {
        let n = zigzag(buf).ok_or_else(truncated)?;
        usize::try_from(n).map_err(|_| Invalid::new(Reason::Syntax, format!("negative length {n}")))
    }

    fn index(buf: &mut &[u8], count: usize, what: &str) -> Result<usize, Invalid> {
        let i = zigzag(buf).ok_or_else(truncated)?;
        match usize::try_from(i) {
            Ok(i) if i < count => Ok(i),
            _ => Err(Invalid::new(Reason::Schema, format!("{what} index {i} of {count}"))),
        }
    }

    fn value(&mut self, at: usize, buf: &mut &[u8], depth: usize) -> Result<(), Invalid> {
        self.step()?;
        if depth > MAX_DEPTH {
            return Err(Invalid::new(Reason::Syntax, "Avro datum nested too deeply"));
        }
        match &self.nodes[at] {
            Node::Null => {}
            Node::Boolean => match take(buf, 1).ok_or_else(truncated)? {
                [0] | [1] => {}
                [b] => return Err(Invalid::new(Reason::Schema, format!("boolean byte {b}"))),
                _ => return Err(truncated()),
            },
            Node::Int => {
                let v = zigzag(buf).ok_or_else(truncated)?;
                if i32::try_from(v).is_err() {
                    return Err(Invalid::new(Reason::Schema, format!("{v} does not fit an Avro int")));
                }
            }
            Node::Long => {
                zigzag(buf).ok_or_else(truncated)?;
            }
            Node::Float => {
                take(buf, 4).ok_or_else(truncated)?;
            }
            Node::Double => {
                take(buf, 8).ok_or_else(truncated)?;
            }
            Node::Bytes => {
                let n = Self::len(buf)?;
                take(buf, n).ok_or_else(truncated)?;
            }
            Node::String => {
                let n = Self::len(buf)?;
                let s = take(buf, n).ok_or_else(truncated)?;
                std::str::from_utf8(s)
                    .map_err(|_| Invalid::new(Reason::Encoding, "Avro string is not UTF-8"))?;
            }
            Node::Fixed(n) => {
                take(buf, *n).ok_or_else(truncated)?;
            }
            Node::Enum(n) => {
                Self::index(buf, *n, "enum")?;
            }
            Node::Union(v) => {
                let i = Self::index(buf, v.len(), "union")?;
                self.value(v[i], buf, depth + 1)?;
            }
            Node::Record(fields) => {
                for &f in fields {
                    self.value(f, buf, depth + 1)?;
                }
            }
            &Node::Array(items) => self.blocks(buf, |w, b| w.value(items, b, depth + 1))?,
            &Node::Map(values) => self.blocks(buf, |w, b| {
                let n = Self::len(b)?;
                let key = take(b, n).ok_or_else(truncated)?;
                std::str::from_utf8(key)
                    .map_err(|_| Invalid::new(Reason::Encoding, "Avro map key is not UTF-8"))?;
                w.value(values, b, depth + 1)
            })?,
        }
        Ok(())
    }

    /// Array and map blocks: `count` items (a negative count is followed by the
    /// block's byte size), until a zero count.
    fn blocks(
        &mut self,
        buf: &mut &[u8],
        mut item: impl FnMut(&mut Self, &mut &[u8]) -> Result<(), Invalid>,
    ) -> Result<(), Invalid> {
        loop {
            let count = zigzag(buf).ok_or_else(truncated)?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                Self::len(buf)?;
            }
            for _ in 0..count.unsigned_abs() {
                self.step()?;
                item(self, buf)?;
            }
        }
    }
}

impl AvroModel {
    /// Compiles Avro schema text (JSON).
    pub fn compile(text: &str) -> Result<Self, String> {
        let schema = Schema::parse_str(text).map_err(|e| format!("invalid Avro schema: {e}"))?;
        let mut all = HashMap::new();
        collect(&schema, &mut all);
        let mut b = Builder { nodes: Vec::new(), named: HashMap::new(), all };
        let root = b.node(&schema)?;
        debug_assert_eq!(root, 0);
        Ok(AvroModel { nodes: b.nodes })
    }

    /// Checks a datum (the whole payload, nothing after it).
    pub fn check(&self, mut datum: &[u8]) -> Result<(), Invalid> {
        let mut w = Walk { nodes: &self.nodes, steps: datum.len().saturating_mul(STEPS_PER_BYTE) + 64 };
        w.value(0, &mut datum, 0)?;
        if !datum.is_empty() {
            return Err(Invalid::new(Reason::Syntax, format!("{} bytes after the Avro datum", datum.len())));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Value;

    const READING: &str = r#"{
        "type": "record", "name": "Reading", "namespace": "factory",
        "fields": [
            {"name": "sensor", "type": "string"},
            {"name": "value", "type": "double"},
            {"name": "unit", "type": {"type": "enum", "name": "Unit", "symbols": ["C", "F"]}},
            {"name": "seq", "type": "int"},
            {"name": "tags", "type": {"type": "map", "values": "string"}},
            {"name": "history", "type": {"type": "array", "items": "long"}},
            {"name": "note", "type": ["null", "string"], "default": null},
            {"name": "next", "type": ["null", "Reading"], "default": null}
        ]
    }"#;

    fn reading(seq: i32, next: Option<Value>) -> Value {
        Value::Record(vec![
            ("sensor".into(), Value::String("s-1".into())),
            ("value".into(), Value::Double(21.5)),
            ("unit".into(), Value::Enum(1, "F".into())),
            ("seq".into(), Value::Int(seq)),
            ("tags".into(), Value::Map([("line".to_string(), Value::String("1".into()))].into())),
            ("history".into(), Value::Array(vec![Value::Long(1), Value::Long(-300)])),
            ("note".into(), Value::Union(1, Box::new(Value::String("ok".into())))),
            (
                "next".into(),
                match next {
                    Some(v) => Value::Union(1, Box::new(v)),
                    None => Value::Union(0, Box::new(Value::Null)),
                },
            ),
        ])
    }

    fn encode(v: Value) -> Vec<u8> {
        let schema = Schema::parse_str(READING).expect("schema");
        apache_avro::to_avro_datum(&schema, v).expect("encodes")
    }

    fn reason(m: &AvroModel, p: &[u8]) -> Option<Reason> {
        m.check(p).err().map(|e| e.reason)
    }

    #[test]
    fn records_written_by_apache_avro_are_valid() {
        let m = AvroModel::compile(READING).expect("compiles");
        let datum = encode(reading(7, Some(reading(8, None))));
        assert_eq!(reason(&m, &datum), None);
        // Every strict prefix is truncated.
        for n in 0..datum.len() {
            assert!(m.check(&datum[..n]).is_err(), "prefix of {n} bytes passed");
        }
        let mut long = datum.clone();
        long.push(0);
        assert_eq!(reason(&m, &long), Some(Reason::Syntax), "trailing byte");
        assert_eq!(reason(&m, b""), Some(Reason::Syntax), "empty payload");
    }

    #[test]
    fn out_of_range_values() {
        let m = AvroModel::compile(READING).expect("compiles");
        let mut datum = encode(reading(1, None));
        // `unit` is the byte after sensor (1 + 3) and value (8): enum index 1 → 5.
        assert_eq!(datum[12], 2);
        datum[12] = 10;
        assert_eq!(reason(&m, &datum), Some(Reason::Schema), "enum index beyond symbols");
        let int = AvroModel::compile(r#""int""#).expect("int");
        assert_eq!(reason(&int, &[0xfe, 0xff, 0xff, 0xff, 0x0f]), None, "i32::MAX");
        assert_eq!(reason(&int, &[0x80, 0x80, 0x80, 0x80, 0x10]), Some(Reason::Schema), "2^31");
        let s = AvroModel::compile(r#""string""#).expect("string");
        assert_eq!(reason(&s, &[4, 0xff, 0xfe]), Some(Reason::Encoding));
        assert_eq!(reason(&s, &[3]), Some(Reason::Syntax), "negative length");
    }

    #[test]
    fn work_is_bounded() {
        let m = AvroModel::compile(r#"{"type":"array","items":"null"}"#).expect("compiles");
        assert_eq!(reason(&m, &[6, 0]), None, "three nulls");
        // 2^40 nulls in seven bytes: refused, quickly.
        let mut huge = vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x40];
        huge.push(0);
        assert_eq!(reason(&m, &huge), Some(Reason::Syntax));
        assert!(AvroModel::compile(r#"{"type":"record","name":"x","fields":[{"name":"a","type":"Nope"}]}"#)
            .is_err());
    }
}
