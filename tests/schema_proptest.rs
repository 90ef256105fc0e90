//! Hostile payloads against the validators: arbitrary bytes, and valid datums with
//! one byte changed or cut short, never panic and never pass a truncated datum.
//! The wire walkers (Avro, Protobuf) are the code that reads attacker bytes with
//! lengths and counts in them.

use mqtt_proxy::schema::{CatalogSpec, ContentSpec, Model, NoRegistry, Source, Validator, Wire};
use proptest::prelude::*;
use std::collections::HashMap;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/schemas");

fn validator(model: Model, subject: &str) -> Validator {
    let files = [
        ("reading".to_string(), format!("{DIR}/reading.avsc").into()),
        ("machine".to_string(), format!("{DIR}/machine.proto").into()),
    ];
    let inline = [(
        "tree".to_string(),
        r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"kids","type":{"type":"array","items":"Node"}},{"name":"m","type":{"type":"map","values":["null","bytes","Node"]}}]}"#.to_string(),
    )];
    let catalogs: HashMap<String, CatalogSpec> = [
        ("files".to_string(), CatalogSpec::Filesystem(files.into())),
        ("inline".to_string(), CatalogSpec::Inline(inline.into())),
    ]
    .into();
    let catalog = if subject == "tree" { "inline" } else { "files" };
    let source = Source { catalog: catalog.into(), subject: Some(subject.into()), version: None, id: None };
    Validator::build(&ContentSpec { model, source: Some(source) }, &catalogs, &NoRegistry).expect("compiles")
}

fn all() -> Vec<Validator> {
    vec![
        validator(Model::Avro { wire: Wire::Raw }, "reading"),
        validator(Model::Avro { wire: Wire::Confluent }, "tree"),
        validator(Model::Avro { wire: Wire::Raw }, "tree"),
        validator(Model::Protobuf { message: None, wire: Wire::Raw }, "machine"),
        validator(Model::Protobuf { message: None, wire: Wire::Confluent }, "machine"),
    ]
}

fn reading() -> Vec<u8> {
    use apache_avro::types::Value;
    let schema = apache_avro::Schema::parse_str(
        &std::fs::read_to_string(format!("{DIR}/reading.avsc")).expect("avsc"),
    )
    .expect("schema");
    let v = Value::Record(vec![
        ("sensor".into(), Value::String("s".into())),
        ("value".into(), Value::Double(1.0)),
        ("unit".into(), Value::Enum(2, "BAR".into())),
        ("at".into(), Value::TimestampMillis(5)),
        ("note".into(), Value::Union(1, Box::new(Value::String("n".into())))),
    ]);
    apache_avro::to_avro_datum(&schema, v).expect("encodes")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for v in all() {
            let _ = v.check(&bytes);
        }
    }

    #[test]
    fn a_changed_byte_is_caught_or_still_valid(at in 0usize..64, to in any::<u8>()) {
        let v = validator(Model::Avro { wire: Wire::Raw }, "reading");
        let mut d = reading();
        let at = at % d.len();
        d[at] = to;
        // Either still a valid datum of the schema, or refused: never a panic.
        let _ = v.check(&d);
        // Cut anywhere, it is always refused.
        let d = reading();
        prop_assert!(v.check(&d[..at % d.len()]).is_err());
    }
}
