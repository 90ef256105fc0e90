//! One compiled validator: a model (`json`, `avro`, `protobuf`, `string`, a number
//! type, `boolean`) with its schema resolved from a catalog, and the framing the
//! payload uses. Built once at load (and again when a registry schema changes);
//! [`Validator::check`] is the only part on the data path.

use super::avro::AvroModel;
use super::catalog::{CatalogSpec, Fetch, Fetched, SchemaKind};
use super::json::JsonModel;
use super::primitive::{boolean, NumberFormat, NumberRule, StringRule};
use super::protobuf::ProtobufModel;
use super::wire::{self, Wire};
use super::Invalid;
use std::collections::HashMap;

/// A model, as configured.
#[derive(Debug, Clone)]
pub enum Model {
    /// JSON Schema.
    Json,
    /// Avro datum.
    Avro {
        /// Framing.
        wire: Wire,
    },
    /// Protobuf message.
    Protobuf {
        /// Full message name (default: the file's first message).
        message: Option<String>,
        /// Framing.
        wire: Wire,
    },
    /// Text.
    String(StringRule),
    /// A number.
    Number(NumberRule),
    /// A boolean.
    Boolean(NumberFormat),
}

/// Where a model's schema comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Catalog name.
    pub catalog: String,
    /// Subject (none: look up `id` in a registry).
    pub subject: Option<String>,
    /// Registry version (none: latest).
    pub version: Option<u32>,
    /// Registry schema id, or the id the Confluent framing must carry for a
    /// non-registry catalog.
    pub id: Option<u32>,
}

/// A model and its source.
#[derive(Debug, Clone)]
pub struct ContentSpec {
    /// Model.
    pub model: Model,
    /// Schema source (needed by `json`, `avro`, `protobuf`).
    pub source: Option<Source>,
}

/// A compiled validator.
#[derive(Debug)]
pub enum Validator {
    /// JSON Schema.
    Json(JsonModel),
    /// Avro.
    Avro(AvroModel, Wire, Option<u32>),
    /// Protobuf.
    Protobuf(ProtobufModel, Wire, Option<u32>),
    /// Text.
    String(StringRule),
    /// Number.
    Number(NumberRule),
    /// Boolean.
    Boolean(NumberFormat),
}

impl ContentSpec {
    /// True when its schema lives in a registry (and may change).
    pub fn is_live(&self, catalogs: &HashMap<String, CatalogSpec>) -> bool {
        self.source.as_ref().is_some_and(|s| matches!(catalogs.get(&s.catalog), Some(CatalogSpec::Registry)))
    }
}

fn expect_kind(f: &Fetched, want: SchemaKind) -> Result<(), String> {
    if f.kind == want {
        Ok(())
    } else {
        Err(format!("the registry says this schema is {:?}, the model is {want:?}", f.kind))
    }
}

impl Validator {
    /// Compiles `spec`, reading its schema from `catalogs` (registries via `fetch`).
    pub fn build(
        spec: &ContentSpec,
        catalogs: &HashMap<String, CatalogSpec>,
        fetch: &dyn Fetch,
    ) -> Result<Validator, String> {
        let kind = match &spec.model {
            Model::String(r) => return Ok(Validator::String(r.clone())),
            Model::Number(r) => return Ok(Validator::Number(r.clone())),
            Model::Boolean(f) => return Ok(Validator::Boolean(*f)),
            Model::Json => SchemaKind::Json,
            Model::Avro { .. } => SchemaKind::Avro,
            Model::Protobuf { .. } => SchemaKind::Protobuf,
        };
        let src = spec.source.as_ref().ok_or("this model needs `catalog` and `subject`")?;
        let catalog =
            catalogs.get(&src.catalog).ok_or_else(|| format!("no catalog named `{}`", src.catalog))?;
        let subject = || src.subject.as_deref().ok_or_else(|| "`subject` is missing".to_string());
        let (text, id, file) = match catalog {
            CatalogSpec::Inline(map) => {
                let s = subject()?;
                let t =
                    map.get(s).ok_or_else(|| format!("catalog `{}` has no subject `{s}`", src.catalog))?;
                (t.clone(), src.id, None)
            }
            CatalogSpec::Filesystem(map) => {
                let s = subject()?;
                let p =
                    map.get(s).ok_or_else(|| format!("catalog `{}` has no subject `{s}`", src.catalog))?;
                crate::config::sources::note(p);
                let t =
                    std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                (t, src.id, Some(p))
            }
            CatalogSpec::Registry => {
                let f = match (&src.subject, src.id) {
                    (Some(s), _) => fetch.subject(&src.catalog, s, src.version)?,
                    (None, Some(id)) => fetch.by_id(&src.catalog, id)?,
                    (None, None) => return Err("a registry source needs `subject` or `id`".into()),
                };
                expect_kind(&f, kind)?;
                (f.text, f.id, None)
            }
        };
        Ok(match &spec.model {
            Model::Json => Validator::Json(JsonModel::compile(&text)?),
            Model::Avro { wire } => Validator::Avro(AvroModel::compile(&text)?, *wire, id),
            Model::Protobuf { message, wire } => {
                let m = match file {
                    Some(p) => ProtobufModel::compile_file(p, message.as_deref())?,
                    None => ProtobufModel::compile_source(
                        &format!("{}.proto", src.subject.as_deref().unwrap_or("schema")),
                        &text,
                        message.as_deref(),
                    )?,
                };
                Validator::Protobuf(m, *wire, id)
            }
            _ => unreachable!("primitive models returned above"),
        })
    }

    /// Checks a payload.
    pub fn check(&self, payload: &[u8]) -> Result<(), Invalid> {
        match self {
            Validator::Json(m) => m.check(payload),
            Validator::Avro(m, Wire::Raw, _) => m.check(payload),
            Validator::Avro(m, Wire::Confluent, id) => m.check(wire::confluent(payload, *id)?),
            Validator::Protobuf(m, Wire::Raw, _) => m.check(payload),
            Validator::Protobuf(m, Wire::Confluent, id) => {
                m.check(wire::message_indexes(wire::confluent(payload, *id)?, m.index)?)
            }
            Validator::String(r) => r.check(payload),
            Validator::Number(r) => r.check(payload),
            Validator::Boolean(f) => boolean(payload, *f),
        }
    }
}
