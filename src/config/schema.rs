//! `catalogs:` and `schemas:` → validated specs → compiled [`Schemas`] (registry
//! subjects are fetched here, at load: an unreachable registry is a config error).

use super::raw_schema::{RawCatalog, RawContent, RawRule};
use super::{invalid, tls, ConfigError, Secret};
use crate::registry::http::{Client, Url};
use crate::registry::{Registries, Registry};
use crate::schema::{
    self, CatalogSpec, ContentSpec, Model, NumberFormat, NumberKind, NumberRule, OnInvalid, OnInvalidV3,
    OnInvalidV5, RuleSpec, Schemas, Source, StringRule, Wire,
};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

fn plain(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { line: 0, key: key.into(), message: message.into() }
}

fn catalogs(
    raw: &[RawCatalog],
    base: Option<&Path>,
) -> Result<(HashMap<String, CatalogSpec>, Registries), ConfigError> {
    let (mut out, mut regs) = (HashMap::new(), Registries::default());
    for (i, c) in raw.iter().enumerate() {
        let key = format!("catalogs[{i}]");
        let name = c.name.value.clone();
        if out.contains_key(&name) {
            return Err(invalid(&c.name, format!("{key}.name"), format!("duplicate catalog `{name}`")));
        }
        let spec = match (&c.inline, &c.filesystem, &c.registry) {
            (Some(m), None, None) => CatalogSpec::Inline(m.clone().into_iter().collect()),
            (None, Some(m), None) => CatalogSpec::Filesystem(
                m.iter().map(|(s, p)| (s.clone(), base.map_or_else(|| p.into(), |b| b.join(p)))).collect(),
            ),
            (None, None, Some(r)) => {
                let url = Url::parse(&r.url.value)
                    .map_err(|m| invalid(&r.url, format!("{key}.registry.url"), m))?;
                let line = r.url.referenced.line();
                let (tls, server_name) = match &r.tls {
                    Some(t) => {
                        let (cfg, name) = tls::client(t, base, line, &format!("{key}.registry.tls"))?;
                        (Some(cfg), name)
                    }
                    None if url.tls => {
                        return Err(invalid(
                            &r.url,
                            format!("{key}.registry.tls"),
                            "an https registry needs `tls.ca`",
                        ))
                    }
                    None => (None, None),
                };
                let client = Client {
                    url,
                    tls,
                    server_name,
                    authorization: r.authorization.clone().map(Secret),
                    timeout: r.timeout.map_or(Duration::from_secs(5), |d| d.0),
                };
                let max_age = r.max_age.map_or(Duration::from_secs(300), |d| d.0);
                if max_age < Duration::from_millis(100) {
                    return Err(invalid(&r.url, format!("{key}.registry.max_age"), "at least 100ms"));
                }
                regs.0.insert(name.clone(), Registry { client, max_age });
                CatalogSpec::Registry
            }
            _ => {
                return Err(invalid(
                    &c.name,
                    key,
                    "a catalog needs exactly one of `inline`, `filesystem`, `registry`",
                ))
            }
        };
        out.insert(name, spec);
    }
    Ok((out, regs))
}

fn format_of(key: &str, f: &Option<String>) -> Result<NumberFormat, ConfigError> {
    match f.as_deref() {
        None | Some("text") => Ok(NumberFormat::Text),
        Some("binary") => Ok(NumberFormat::Binary),
        Some(x) => Err(plain(&format!("{key}.format"), format!("`{x}`: use `text` or `binary`"))),
    }
}

fn content_spec(key: &str, c: &RawContent) -> Result<ContentSpec, ConfigError> {
    let model_name = c.model.value.as_str();
    let wire = match c.wire.as_deref() {
        None | Some("raw") => Wire::Raw,
        Some("confluent") => Wire::Confluent,
        Some(x) => {
            return Err(invalid(&c.model, format!("{key}.wire"), format!("`{x}`: use `raw` or `confluent`")))
        }
    };
    let schema_keys = c.catalog.is_some() || c.subject.is_some() || c.version.is_some() || c.id.is_some();
    let string_keys =
        c.encoding.is_some() || c.min_length.is_some() || c.max_length.is_some() || c.pattern.is_some();
    let number_keys = c.min.is_some() || c.max.is_some();
    let misplaced = |what: &str| {
        invalid(&c.model, key.into(), format!("`{what}` does not apply to model `{model_name}`"))
    };
    let number = |kind| -> Result<Model, ConfigError> {
        if schema_keys || string_keys {
            return Err(misplaced("catalog/subject/string options"));
        }
        Ok(Model::Number(NumberRule { kind, format: format_of(key, &c.format)?, min: c.min, max: c.max }))
    };
    let model = match model_name {
        "json" => Model::Json,
        "avro" => Model::Avro { wire },
        "protobuf" => Model::Protobuf { message: c.message.clone(), wire },
        "string" => {
            if schema_keys || number_keys || c.format.is_some() {
                return Err(misplaced("catalog/subject/number options"));
            }
            if let Some(e) = c.encoding.as_deref().filter(|e| !e.eq_ignore_ascii_case("utf-8")) {
                return Err(invalid(
                    &c.model,
                    format!("{key}.encoding"),
                    format!("`{e}`: only `utf-8` is supported"),
                ));
            }
            let pattern = match &c.pattern {
                Some(p) => Some(
                    regex::Regex::new(p)
                        .map_err(|e| invalid(&c.model, format!("{key}.pattern"), e.to_string()))?,
                ),
                None => None,
            };
            Model::String(StringRule { min_length: c.min_length, max_length: c.max_length, pattern })
        }
        "int32" => number(NumberKind::Int32)?,
        "int64" => number(NumberKind::Int64)?,
        "float" => number(NumberKind::Float)?,
        "double" => number(NumberKind::Double)?,
        "boolean" => {
            if schema_keys || string_keys || number_keys {
                return Err(misplaced("options"));
            }
            Model::Boolean(format_of(key, &c.format)?)
        }
        other => {
            return Err(invalid(
                &c.model,
                format!("{key}.model"),
                format!(
                    "`{other}`: use json, avro, protobuf, string, int32, int64, float, double or boolean"
                ),
            ))
        }
    };
    let source = match (&model, &c.catalog) {
        (Model::Json | Model::Avro { .. } | Model::Protobuf { .. }, Some(catalog)) => Some(Source {
            catalog: catalog.clone(),
            subject: c.subject.clone(),
            version: c.version,
            id: c.id,
        }),
        (Model::Json | Model::Avro { .. } | Model::Protobuf { .. }, None) => {
            return Err(invalid(
                &c.model,
                format!("{key}.catalog"),
                format!("model `{model_name}` needs a catalog"),
            ))
        }
        _ => None,
    };
    if c.message.is_some() && !matches!(model, Model::Protobuf { .. }) {
        return Err(misplaced("message"));
    }
    Ok(ContentSpec { model, source })
}

fn rule(i: usize, r: &RawRule) -> Result<RuleSpec, ConfigError> {
    let key = format!("schemas[{i}]");
    let (publish, deliver) = match r.direction.as_ref().map(|d| (d, d.value.as_str())) {
        None | Some((_, "publish")) => (true, false),
        Some((_, "deliver")) => (false, true),
        Some((_, "both")) => (true, true),
        Some((d, x)) => {
            return Err(invalid(
                d,
                format!("{key}.direction"),
                format!("`{x}`: use publish, deliver or both"),
            ))
        }
    };
    let mut on_invalid = OnInvalid::default();
    if let Some(o) = &r.on_invalid {
        if let Some(v) = &o.v3 {
            on_invalid.v3 = match v.value.as_str() {
                "drop" => OnInvalidV3::Drop,
                "disconnect" => OnInvalidV3::Disconnect,
                x => {
                    return Err(invalid(
                        v,
                        format!("{key}.on_invalid.v3"),
                        format!("`{x}`: use drop or disconnect"),
                    ))
                }
            };
        }
        if let Some(v) = &o.v5 {
            on_invalid.v5 = match v.value.as_str() {
                "reason" => OnInvalidV5::Reason,
                "disconnect" => OnInvalidV5::Disconnect,
                x => {
                    return Err(invalid(
                        v,
                        format!("{key}.on_invalid.v5"),
                        format!("`{x}`: use reason or disconnect"),
                    ))
                }
            };
        }
    }
    let content = match &r.content {
        Some(c) => Some(content_spec(&format!("{key}.content"), c)?),
        None => None,
    };
    let mut user_properties = Vec::new();
    for (name, c) in &r.user_properties {
        user_properties.push((name.clone(), content_spec(&format!("{key}.user_properties.{name}"), c)?));
    }
    Ok(RuleSpec {
        key,
        filter: r.filter.value.clone(),
        publish,
        deliver,
        content,
        user_properties,
        content_type: r.content_type.clone(),
        on_invalid,
    })
}

/// Validates and compiles the schema sections.
pub fn compile(
    raw_catalogs: &[RawCatalog],
    raw_rules: &[RawRule],
    base: Option<&Path>,
) -> Result<(Schemas, Registries), ConfigError> {
    let (cats, regs) = catalogs(raw_catalogs, base)?;
    let specs = raw_rules.iter().enumerate().map(|(i, r)| rule(i, r)).collect::<Result<Vec<_>, _>>()?;
    let schemas = schema::compile(cats, &specs, &regs).map_err(|e| {
        let line = specs
            .iter()
            .position(|s| e.key.starts_with(&s.key))
            .map_or(0, |i| raw_rules[i].filter.referenced.line());
        ConfigError::Invalid { line, key: e.key, message: e.message }
    })?;
    Ok((schemas, regs))
}
