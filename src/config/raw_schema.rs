//! The `catalogs:` and `schemas:` sections as written (see `config/README.md`).
//! Shapes only; `super::schema` checks meaning and compiles.

use super::duration::Dur;
use super::raw::RawClientTls;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// One catalog: exactly one of `inline`, `filesystem`, `registry`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalog {
    /// Unique name, used by `content.catalog`.
    pub name: Spanned<String>,
    /// Subject → schema text.
    #[serde(default)]
    pub inline: Option<BTreeMap<String, String>>,
    /// Subject → file path (relative to the config file).
    #[serde(default)]
    pub filesystem: Option<BTreeMap<String, String>>,
    /// A Confluent-compatible schema registry.
    #[serde(default)]
    pub registry: Option<RawRegistry>,
}

/// A schema registry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegistry {
    /// Base URL, `http(s)://host:port[/prefix]`.
    pub url: Spanned<String>,
    /// How long a fetched schema is used before it is read again (default 5m).
    #[serde(default)]
    pub max_age: Option<Dur>,
    /// `Authorization` header value (e.g. `Bearer ${REGISTRY_TOKEN}`).
    #[serde(default)]
    pub authorization: Option<String>,
    /// Request timeout (default 5s).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// TLS for https URLs.
    #[serde(default)]
    pub tls: Option<RawClientTls>,
}

/// One validation rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Topic filter.
    pub filter: Spanned<String>,
    /// `publish` (default), `deliver` or `both`.
    #[serde(default)]
    pub direction: Option<Spanned<String>>,
    /// Payload model.
    #[serde(default)]
    pub content: Option<RawContent>,
    /// User property name → model of its value.
    #[serde(default)]
    pub user_properties: BTreeMap<String, RawContent>,
    /// Content Type a 5.0 publish must carry, if it carries one.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Answers to an invalid publish.
    #[serde(default)]
    pub on_invalid: Option<RawOnInvalid>,
}

/// Answers to an invalid publish.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOnInvalid {
    /// `drop` (default) or `disconnect`.
    #[serde(default)]
    pub v3: Option<Spanned<String>>,
    /// `reason` (default: PUBACK/PUBREC 0x99) or `disconnect`.
    #[serde(default)]
    pub v5: Option<Spanned<String>>,
}

/// A model and its options (which keys apply depends on `model`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContent {
    /// `json`, `avro`, `protobuf`, `string`, `int32`, `int64`, `float`, `double`, `boolean`.
    pub model: Spanned<String>,
    /// Catalog name.
    #[serde(default)]
    pub catalog: Option<String>,
    /// Subject in the catalog.
    #[serde(default)]
    pub subject: Option<String>,
    /// Registry version (default: latest).
    #[serde(default)]
    pub version: Option<u32>,
    /// Registry schema id, or the id the Confluent framing must carry.
    #[serde(default)]
    pub id: Option<u32>,
    /// `raw` (default) or `confluent`.
    #[serde(default)]
    pub wire: Option<String>,
    /// Protobuf message (full name).
    #[serde(default)]
    pub message: Option<String>,
    /// String: `utf-8` (the only one).
    #[serde(default)]
    pub encoding: Option<String>,
    /// String: minimum length in characters.
    #[serde(default)]
    pub min_length: Option<usize>,
    /// String: maximum length in characters.
    #[serde(default)]
    pub max_length: Option<usize>,
    /// String: regular expression.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Numbers and booleans: `text` (default) or `binary`.
    #[serde(default)]
    pub format: Option<String>,
    /// Numbers: minimum.
    #[serde(default)]
    pub min: Option<f64>,
    /// Numbers: maximum.
    #[serde(default)]
    pub max: Option<f64>,
}
