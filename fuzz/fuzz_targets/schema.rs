//! Payload validators against arbitrary bytes: the Avro and Protobuf wire walkers
//! (recursive schemas, Confluent framing) and JSON Schema. Never a panic, never
//! unbounded work. Run: `scripts/fuzz.sh 600 schema`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_proxy::schema::{CatalogSpec, ContentSpec, Model, NoRegistry, Source, Validator, Wire};
use std::collections::HashMap;
use std::sync::OnceLock;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/schemas");

fn validators() -> &'static Vec<Validator> {
    static V: OnceLock<Vec<Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let files = [
            ("reading".to_string(), format!("{DIR}/reading.avsc").into()),
            ("machine".to_string(), format!("{DIR}/machine.proto").into()),
        ];
        let inline = [
            (
                "tree".to_string(),
                r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"kids","type":{"type":"array","items":"Node"}},{"name":"m","type":{"type":"map","values":["null","bytes","Node"]}}]}"#.to_string(),
            ),
            ("json".to_string(), r#"{"type":"object","properties":{"a":{"type":"array","items":{"type":"string","pattern":"^x+$"}}}}"#.to_string()),
        ];
        let catalogs: HashMap<String, CatalogSpec> = [
            ("files".to_string(), CatalogSpec::Filesystem(files.into())),
            ("inline".to_string(), CatalogSpec::Inline(inline.into())),
        ]
        .into();
        let build = |model, catalog: &str, subject: &str| {
            let source = Source { catalog: catalog.into(), subject: Some(subject.into()), version: None, id: None };
            Validator::build(&ContentSpec { model, source: Some(source) }, &catalogs, &NoRegistry).expect("compiles")
        };
        vec![
            build(Model::Avro { wire: Wire::Raw }, "files", "reading"),
            build(Model::Avro { wire: Wire::Raw }, "inline", "tree"),
            build(Model::Avro { wire: Wire::Confluent }, "inline", "tree"),
            build(Model::Protobuf { message: None, wire: Wire::Raw }, "files", "machine"),
            build(Model::Protobuf { message: None, wire: Wire::Confluent }, "files", "machine"),
            build(Model::Json, "inline", "json"),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    for v in validators() {
        let _ = v.check(data);
    }
});
