//! Payload validation: schema catalogs, compiled validators per subject, and the
//! rules that say which topics are checked, in which direction, with what.
//!
//! Pure: nothing here opens a socket or reads the clock. Schemas come from the
//! config (`inline`), from files (`filesystem`), or through a [`Fetch`]
//! implementation for registry catalogs (the HTTP client and its refresh thread
//! live in [`crate::registry`]). Compilation happens once, at load; a registry
//! subject's validator sits behind an `ArcSwap` so a refresh can replace it without
//! the data path noticing.
//!
//! Validation reads the payload in place (`&[u8]`): Avro and Protobuf are walked on
//! the wire format without building values; JSON is parsed by serde_json (the one
//! model that has to build a document) and checked by `jsonschema`. A failed check
//! is an [`Invalid`]: a [`Reason`] for metrics and a detail for the log.

mod avro;
mod catalog;
mod json;
mod primitive;
mod protobuf;
mod rules;
mod validator;
mod wire;

pub use catalog::{CatalogSpec, Fetch, Fetched, NoRegistry, SchemaKind};
pub use primitive::{NumberFormat, NumberKind, NumberRule, StringRule};
pub use rules::{compile, Direction, OnInvalid, OnInvalidV3, OnInvalidV5, Rule, RuleSpec, Schemas};
pub use validator::{ContentSpec, Model, Source, Validator};
pub use wire::Wire;

use std::fmt;

/// Why a payload is invalid (the label of the rejection metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not parseable as the model at all (bad JSON, truncated Avro or Protobuf).
    Syntax,
    /// Parseable, but the schema rejects it.
    Schema,
    /// The framing is wrong (Confluent magic byte or schema id).
    WireFormat,
    /// Not valid UTF-8 where text is required (also Payload Format Indicator = 1).
    Encoding,
    /// Outside a configured range, length or pattern.
    Constraint,
    /// The MQTT 5.0 Content Type does not match the rule's.
    ContentType,
}

impl Reason {
    /// Every reason, in metric order.
    pub const ALL: [Reason; 6] = [
        Reason::Syntax,
        Reason::Schema,
        Reason::WireFormat,
        Reason::Encoding,
        Reason::Constraint,
        Reason::ContentType,
    ];

    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Syntax => "syntax",
            Reason::Schema => "schema",
            Reason::WireFormat => "wire_format",
            Reason::Encoding => "encoding",
            Reason::Constraint => "constraint",
            Reason::ContentType => "content_type",
        }
    }

    /// Position in [`Reason::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A payload that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// For metrics.
    pub reason: Reason,
    /// The first error, for the log.
    pub detail: String,
}

impl Invalid {
    pub(crate) fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Invalid { reason, detail: detail.into() }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.label(), self.detail)
    }
}

/// A schema setup that cannot be used (found at load; the old config stays).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SchemaError {
    /// Where in the config, e.g. `schemas[2].content`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl SchemaError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        SchemaError { key: key.into(), message: message.into() }
    }
}
