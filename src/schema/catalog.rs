//! Where schema text comes from: a catalog is `inline` (subject → text in the
//! config), `filesystem` (subject → file, read at load) or `registry` (fetched
//! through a [`Fetch`], which the runtime implements with an HTTP client speaking
//! the Confluent Schema Registry API).

use std::collections::HashMap;
use std::path::PathBuf;

/// The schema language a registry says a subject is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// `AVRO` (the registry's default when `schemaType` is absent).
    Avro,
    /// `JSON`.
    Json,
    /// `PROTOBUF`.
    Protobuf,
}

impl SchemaKind {
    /// From a registry's `schemaType` (absent: Avro).
    pub fn from_registry(t: Option<&str>) -> Option<Self> {
        match t {
            None | Some("AVRO") => Some(SchemaKind::Avro),
            Some("JSON") => Some(SchemaKind::Json),
            Some("PROTOBUF") => Some(SchemaKind::Protobuf),
            Some(_) => None,
        }
    }
}

/// A schema as a registry returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The schema text.
    pub text: String,
    /// Its global id (what the Confluent wire format carries).
    pub id: Option<u32>,
    /// Its language.
    pub kind: SchemaKind,
}

/// Reads schemas from registry catalogs.
pub trait Fetch {
    /// `GET /subjects/{subject}/versions/{version|latest}` on `catalog`'s registry.
    fn subject(&self, catalog: &str, subject: &str, version: Option<u32>) -> Result<Fetched, String>;
    /// `GET /schemas/ids/{id}` on `catalog`'s registry.
    fn by_id(&self, catalog: &str, id: u32) -> Result<Fetched, String>;
}

/// A fetcher for configs without registries.
pub struct NoRegistry;

impl Fetch for NoRegistry {
    fn subject(&self, catalog: &str, _: &str, _: Option<u32>) -> Result<Fetched, String> {
        Err(format!("catalog `{catalog}` is not a registry"))
    }

    fn by_id(&self, catalog: &str, _: u32) -> Result<Fetched, String> {
        Err(format!("catalog `{catalog}` is not a registry"))
    }
}

/// A catalog, validated.
#[derive(Debug, Clone)]
pub enum CatalogSpec {
    /// Subject → schema text.
    Inline(HashMap<String, String>),
    /// Subject → file (already resolved against the config's directory).
    Filesystem(HashMap<String, PathBuf>),
    /// A schema registry (reached through [`Fetch`]).
    Registry,
}
