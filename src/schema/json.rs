//! The `json` model: JSON Schema (drafts 4, 6, 7, 2019-09, 2020-12, chosen by the
//! schema's `$schema`, 2020-12 when absent) via the `jsonschema` crate. Remote
//! `$ref`s are not fetched (the crate is built without its HTTP and file
//! resolvers): a schema that needs one is refused at load.

use super::{Invalid, Reason};

/// A compiled JSON Schema.
#[derive(Debug)]
pub struct JsonModel(jsonschema::Validator);

impl JsonModel {
    /// Compiles schema text.
    pub fn compile(text: &str) -> Result<Self, String> {
        let schema: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("schema is not JSON: {e}"))?;
        jsonschema::validator_for(&schema).map(JsonModel).map_err(|e| format!("invalid JSON Schema: {e}"))
    }

    /// Checks a payload.
    pub fn check(&self, payload: &[u8]) -> Result<(), Invalid> {
        let doc: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|e| Invalid::new(Reason::Syntax, format!("not JSON: {e}")))?;
        self.0.validate(&doc).map_err(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { "/".to_string() } else { at };
            Invalid::new(Reason::Schema, format!("at {at}: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TELEMETRY: &str = r#"{
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["device", "temperature"],
        "properties": {
            "device": {"type": "string", "minLength": 1},
            "temperature": {"type": "number", "minimum": -50, "maximum": 150}
        },
        "additionalProperties": false
    }"#;

    fn reason(m: &JsonModel, p: &[u8]) -> Option<Reason> {
        m.check(p).err().map(|e| e.reason)
    }

    #[test]
    fn telemetry_objects() {
        let m = JsonModel::compile(TELEMETRY).expect("compiles");
        assert_eq!(reason(&m, br#"{"device":"d1","temperature":21.5}"#), None);
        assert_eq!(reason(&m, br#"{"device":"d1","temperature":500}"#), Some(Reason::Schema));
        assert_eq!(reason(&m, br#"{"device":"d1"}"#), Some(Reason::Schema));
        assert_eq!(reason(&m, br#"{"device":"d1","temperature":1,"x":0}"#), Some(Reason::Schema));
        assert_eq!(reason(&m, b""), Some(Reason::Syntax), "empty payload");
        assert_eq!(reason(&m, b"{\"device\":\"\xff\"}"), Some(Reason::Syntax), "invalid UTF-8");
        assert_eq!(reason(&m, br#"{"device":"d1","#), Some(Reason::Syntax));
        let e = m.check(br#"{"device":"d1","temperature":"hot"}"#).expect_err("invalid");
        assert!(e.detail.contains("/temperature"), "{}", e.detail);
    }

    #[test]
    fn older_drafts_and_bad_schemas() {
        let m = JsonModel::compile(r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"integer","maximum":5,"exclusiveMaximum":true}"#)
            .expect("draft 4");
        assert_eq!(reason(&m, b"4"), None);
        assert_eq!(reason(&m, b"5"), Some(Reason::Schema), "draft-4 boolean exclusiveMaximum");
        assert!(JsonModel::compile("{").is_err());
        assert!(JsonModel::compile(r#"{"type": 12}"#).is_err());
        assert!(
            JsonModel::compile(r#"{"$ref": "https://example.com/remote.json"}"#).is_err(),
            "remote refs are not fetched"
        );
    }
}
