//! The `protobuf` model: `.proto` source compiled at load by `protox` (no `protoc`),
//! the configured message's descriptor (via `prost-reflect`) flattened into a field
//! table, and a walker that checks the wire format against it without decoding into
//! values.
//!
//! Checked: tags and wire types against each known field's type (packed and
//! unpacked repeated scalars both accepted), varint widths, lengths, nested
//! messages (at most [`MAX_DEPTH`] deep), UTF-8 of `string` fields. Unknown field
//! numbers are skipped, as every Protobuf reader does (that is how schemas evolve).
//! Not checked: proto2 `required` presence, and groups (refused as wire format).

use super::wire::{take, varint};
use super::{Invalid, Reason};
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use std::collections::HashMap;
use std::path::Path;

/// Deepest message nesting.
const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Varint,
    Fixed64,
    Fixed32,
    String,
    Bytes,
    Message(usize),
}

#[derive(Debug, Default)]
struct Msg {
    /// (field number, type, repeated), sorted by number.
    fields: Vec<(u32, Field, bool)>,
}

impl Msg {
    fn get(&self, number: u32) -> Option<(Field, bool)> {
        self.fields.binary_search_by_key(&number, |f| f.0).ok().map(|i| (self.fields[i].1, self.fields[i].2))
    }
}

/// A compiled Protobuf message type.
#[derive(Debug)]
pub struct ProtobufModel {
    msgs: Vec<Msg>,
    /// Full name of the root message.
    pub name: String,
    /// Its position among its file's top-level messages (Confluent message index).
    pub index: u64,
}

/// One `.proto` held in memory (inline or registry text), plus Google's well-known types.
struct Memory {
    name: String,
    source: String,
}

impl FileResolver for Memory {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if name == self.name {
            File::from_source(name, &self.source)
        } else {
            Err(protox::Error::file_not_found(name))
        }
    }
}

fn flatten(root: &MessageDescriptor) -> Vec<Msg> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut order = vec![root.clone()];
    index.insert(root.full_name().to_string(), 0);
    let mut msgs = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let m = order[i].clone();
        let mut fields = Vec::new();
        for f in m.fields() {
            let t = match f.kind() {
                Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => Field::Fixed64,
                Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => Field::Fixed32,
                Kind::String => Field::String,
                Kind::Bytes => Field::Bytes,
                Kind::Message(sub) => {
                    let at = *index.entry(sub.full_name().to_string()).or_insert_with(|| {
                        order.push(sub.clone());
                        order.len() - 1
                    });
                    Field::Message(at)
                }
                _ => Field::Varint,
            };
            fields.push((f.number(), t, f.is_list() || f.is_map()));
        }
        fields.sort_by_key(|f| f.0);
        msgs.push(Msg { fields });
        i += 1;
    }
    msgs
}

fn truncated() -> Invalid {
    Invalid::new(Reason::Syntax, "truncated Protobuf message")
}

impl ProtobufModel {
    /// Compiles `.proto` source held in memory (named `name`).
    pub fn compile_source(name: &str, source: &str, message: Option<&str>) -> Result<Self, String> {
        let mut chain = ChainFileResolver::new();
        chain.add(Memory { name: name.to_string(), source: source.to_string() });
        chain.add(GoogleFileResolver::new());
        let mut c = protox::Compiler::with_file_resolver(chain);
        c.open_file(name).map_err(|e| format!("invalid .proto: {e}"))?;
        Self::from_pool(&c.descriptor_pool(), name, message)
    }

    /// Compiles a `.proto` file (imports are resolved next to it).
    pub fn compile_file(path: &Path, message: Option<&str>) -> Result<Self, String> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let file = path.file_name().and_then(|f| f.to_str()).ok_or("bad .proto file name")?;
        let mut c = protox::Compiler::new([dir]).map_err(|e| e.to_string())?;
        c.open_file(file).map_err(|e| format!("invalid .proto {}: {e}", path.display()))?;
        Self::from_pool(&c.descriptor_pool(), file, message)
    }

    fn from_pool(pool: &DescriptorPool, file: &str, message: Option<&str>) -> Result<Self, String> {
        let fd = pool.get_file_by_name(file).ok_or_else(|| format!("{file} was not compiled"))?;
        let top: Vec<MessageDescriptor> = fd.messages().collect();
        let root = match message {
            Some(n) => pool.get_message_by_name(n).ok_or_else(|| format!("no message `{n}` in {file}"))?,
            None => top.first().cloned().ok_or_else(|| format!("{file} defines no message"))?,
        };
        let index = top.iter().position(|m| m.full_name() == root.full_name()).unwrap_or(0) as u64;
        Ok(ProtobufModel { msgs: flatten(&root), name: root.full_name().to_string(), index })
    }

    /// Checks an encoded message (the whole payload).
    pub fn check(&self, payload: &[u8]) -> Result<(), Invalid> {
        self.message(0, payload, 0)
    }

    fn message(&self, at: usize, mut buf: &[u8], depth: usize) -> Result<(), Invalid> {
        if depth > MAX_DEPTH {
            return Err(Invalid::new(Reason::Syntax, "Protobuf message nested too deeply"));
        }
        let msg = &self.msgs[at];
        while !buf.is_empty() {
            let key = varint(&mut buf).ok_or_else(truncated)?;
            let (number, wire) = (key >> 3, (key & 7) as u8);
            let number = u32::try_from(number)
                .ok()
                .filter(|n| (1..=536_870_911).contains(n))
                .ok_or_else(|| Invalid::new(Reason::Syntax, format!("field number {number}")))?;
            match msg.get(number) {
                None => skip(wire, &mut buf)?,
                Some((field, repeated)) => self.field(number, field, repeated, wire, &mut buf, depth)?,
            }
        }
        Ok(())
    }

    fn field(
        &self,
        number: u32,
        field: Field,
        repeated: bool,
        wire: u8,
        buf: &mut &[u8],
        depth: usize,
    ) -> Result<(), Invalid> {
        let expected = match field {
            Field::Varint => 0,
            Field::Fixed64 => 1,
            Field::Fixed32 => 5,
            Field::String | Field::Bytes | Field::Message(_) => 2,
        };
        if wire == 2 && repeated && expected != 2 {
            // Packed repeated scalars: a run of bare values.
            let n = varint(buf).ok_or_else(truncated)?;
            let mut run = take(buf, usize::try_from(n).map_err(|_| truncated())?).ok_or_else(truncated)?;
            while !run.is_empty() {
                scalar(expected, &mut run)?;
            }
            return Ok(());
        }
        if wire != expected {
            return Err(Invalid::new(
                Reason::Schema,
                format!("field {number} has wire type {wire}, its type needs {expected}"),
            ));
        }
        match field {
            Field::Varint | Field::Fixed32 | Field::Fixed64 => scalar(expected, buf),
            Field::Bytes => len_delimited(buf).map(|_| ()),
            Field::String => {
                let s = len_delimited(buf)?;
                std::str::from_utf8(s)
                    .map(|_| ())
                    .map_err(|_| Invalid::new(Reason::Encoding, format!("field {number} is not UTF-8")))
            }
            Field::Message(sub) => {
                let body = len_delimited(buf)?;
                self.message(sub, body, depth + 1)
            }
        }
    }
}

fn len_delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], Invalid> {
    let n = varint(buf).ok_or_else(truncated)?;
    take(buf, usize::try_from(n).map_err(|_| truncated())?).ok_or_else(truncated)
}

fn scalar(wire: u8, buf: &mut &[u8]) -> Result<(), Invalid> {
    let ok = match wire {
        0 => varint(buf).is_some(),
        1 => take(buf, 8).is_some(),
        _ => take(buf, 4).is_some(),
    };
    if ok {
        Ok(())
    } else {
        Err(truncated())
    }
}

/// Skips an unknown field.
fn skip(wire: u8, buf: &mut &[u8]) -> Result<(), Invalid> {
    match wire {
        0 | 1 | 5 => scalar(wire, buf),
        2 => len_delimited(buf).map(|_| ()),
        _ => Err(Invalid::new(Reason::Syntax, format!("wire type {wire} (groups are not supported)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;
    use prost_reflect::{DynamicMessage, Value};

    const SENSOR: &str = r#"
        syntax = "proto3";
        package factory;
        import "google/protobuf/timestamp.proto";
        message Other { int32 x = 1; }
        message Sensor {
            string id = 1;
            double value = 2;
            repeated int32 samples = 3;
            Status status = 4;
            map<string, string> labels = 5;
            google.protobuf.Timestamp at = 6;
            Sensor parent = 7;
        }
        enum Status { OK = 0; FAULT = 1; }
    "#;

    fn model() -> ProtobufModel {
        ProtobufModel::compile_source("sensor.proto", SENSOR, Some("factory.Sensor")).expect("compiles")
    }

    fn encoded(m: &ProtobufModel) -> Vec<u8> {
        let pool = {
            let mut c = protox::Compiler::with_file_resolver({
                let mut chain = ChainFileResolver::new();
                chain.add(Memory { name: "sensor.proto".into(), source: SENSOR.into() });
                chain.add(GoogleFileResolver::new());
                chain
            });
            c.open_file("sensor.proto").expect("compiles");
            c.descriptor_pool()
        };
        let d = pool.get_message_by_name(&m.name).expect("descriptor");
        let mut msg = DynamicMessage::new(d.clone());
        msg.set_field_by_name("id", Value::String("s-é".into()));
        msg.set_field_by_name("value", Value::F64(1.5));
        msg.set_field_by_name("samples", Value::List(vec![Value::I32(1), Value::I32(-2)]));
        msg.set_field_by_name("status", Value::EnumNumber(1));
        let mut parent = DynamicMessage::new(d);
        parent.set_field_by_name("id", Value::String("p".into()));
        msg.set_field_by_name("parent", Value::Message(parent));
        msg.encode_to_vec()
    }

    fn reason(m: &ProtobufModel, p: &[u8]) -> Option<Reason> {
        m.check(p).err().map(|e| e.reason)
    }

    #[test]
    fn messages_written_by_prost_are_valid_and_prefixes_are_not() {
        let m = model();
        assert_eq!(m.index, 1, "Sensor is the file's second message");
        let bytes = encoded(&m);
        assert_eq!(reason(&m, &bytes), None);
        assert_eq!(reason(&m, b""), None, "the empty message is valid Protobuf");
        // Cuts inside a field are truncations (cuts between fields are valid messages).
        assert_eq!(reason(&m, &bytes[..bytes.len() - 1]), Some(Reason::Syntax));
        assert_eq!(reason(&m, &bytes[..3]), Some(Reason::Syntax));
    }

    #[test]
    fn wrong_types_and_bad_utf8() {
        let m = model();
        // Field 2 (double) sent as a varint.
        assert_eq!(reason(&m, &[0x10, 0x01]), Some(Reason::Schema));
        // Field 1 (string) with invalid UTF-8.
        assert_eq!(reason(&m, &[0x0a, 0x02, 0xff, 0xfe]), Some(Reason::Encoding));
        // Unpacked repeated int32 is accepted as well as packed.
        assert_eq!(reason(&m, &[0x18, 0x05, 0x18, 0x06]), None);
        // Unknown field 99 (varint) is skipped.
        assert_eq!(reason(&m, &[0x98, 0x06, 0x01]), None);
        // Field number 0 and group wire types are refused.
        assert_eq!(reason(&m, &[0x00, 0x01]), Some(Reason::Syntax));
        assert_eq!(reason(&m, &[0x9b, 0x06]), Some(Reason::Syntax));
        // A nested message that is itself truncated.
        assert_eq!(reason(&m, &[0x3a, 0x02, 0x0a, 0x05]), Some(Reason::Syntax));
    }

    #[test]
    fn bad_sources_and_names() {
        assert!(ProtobufModel::compile_source("x.proto", "syntax = \"proto3\"; message {", None).is_err());
        assert!(ProtobufModel::compile_source("x.proto", SENSOR, Some("factory.Nope")).is_err());
        let first = ProtobufModel::compile_source("x.proto", SENSOR, None).expect("first message");
        assert_eq!(first.name, "factory.Other");
    }
}
