//! Schema registry catalogs: a client for the Confluent Schema Registry HTTP API
//! (also served by Apicurio's `ccompat` API and Redpanda) that implements
//! [`crate::schema::Fetch`], and the refresh thread that re-reads registry subjects
//! every `max_age`, off the data path.
//!
//! At load, an unreachable registry is a config error. At refresh, a failed fetch
//! or a schema that no longer compiles is logged and the last good validator stays.

pub mod http;

use crate::schema::{Fetch, Fetched, SchemaKind, Schemas};
use http::Client;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// One registry catalog.
#[derive(Debug, Clone)]
pub struct Registry {
    /// HTTP client settings.
    pub client: Client,
    /// How long a fetched schema is used before it is read again.
    pub max_age: Duration,
}

/// All registry catalogs by name.
#[derive(Debug, Clone, Default)]
pub struct Registries(pub HashMap<String, Registry>);

#[derive(serde::Deserialize)]
struct Answer {
    schema: String,
    #[serde(default)]
    id: Option<u32>,
    #[serde(default, rename = "schemaType")]
    schema_type: Option<String>,
}

/// Percent-encodes a path segment (subjects may hold `/`, `:`, spaces…).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Registries {
    fn get(&self, catalog: &str, path: &str) -> Result<Answer, String> {
        let r = self.0.get(catalog).ok_or_else(|| format!("no registry catalog `{catalog}`"))?;
        let body = r.client.get(path).map_err(|e| format!("registry `{catalog}` GET {path}: {e}"))?;
        serde_json::from_str(&body)
            .map_err(|e| format!("registry `{catalog}` GET {path}: unexpected answer: {e}"))
    }

    fn fetched(a: Answer, id: Option<u32>) -> Result<Fetched, String> {
        let kind = SchemaKind::from_registry(a.schema_type.as_deref())
            .ok_or_else(|| format!("unknown schemaType {:?}", a.schema_type))?;
        Ok(Fetched { text: a.schema, id: a.id.or(id), kind })
    }
}

impl Fetch for Registries {
    fn subject(&self, catalog: &str, subject: &str, version: Option<u32>) -> Result<Fetched, String> {
        let v = version.map_or_else(|| "latest".to_string(), |v| v.to_string());
        let a = self.get(catalog, &format!("/subjects/{}/versions/{v}", segment(subject)))?;
        Self::fetched(a, None)
    }

    fn by_id(&self, catalog: &str, id: u32) -> Result<Fetched, String> {
        let a = self.get(catalog, &format!("/schemas/ids/{id}"))?;
        Self::fetched(a, Some(id))
    }
}

/// Starts one refresh thread per registry catalog; they stop when `stop` is set.
pub fn spawn_refresh(
    schemas: Arc<Schemas>,
    registries: Arc<Registries>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    for name in schemas.registries() {
        let Some(every) = registries.0.get(&name).map(|r| r.max_age) else { continue };
        let (schemas, registries, stop) = (schemas.clone(), registries.clone(), stop.clone());
        std::thread::Builder::new().name(format!("registry-{name}")).spawn(move || {
            let mut next = Instant::now() + every;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50).min(every));
                if Instant::now() < next {
                    continue;
                }
                next = Instant::now() + every;
                let (swapped, errors) = schemas.refresh(&name, &*registries);
                debug!(catalog = %name, swapped, "registry schemas refreshed");
                for e in errors {
                    warn!(catalog = %name, error = %e, "registry refresh failed; the last good schema stays");
                }
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_encoded_as_one_segment() {
        assert_eq!(segment("factory/telemetry-value"), "factory%2Ftelemetry-value");
        assert_eq!(segment("a b"), "a%20b");
    }
}
