//! Payload validation cost per model (divan): a 90-byte JSON telemetry object, an
//! Avro record and a Protobuf message, using the schemas shipped in `config/`.
//! Run: `cargo bench --bench schema`.

use divan::{black_box, Bencher};
use mqtt_proxy::schema::{CatalogSpec, ContentSpec, Model, NoRegistry, Source, Validator, Wire};
use std::collections::HashMap;

fn main() {
    divan::main();
}

const TELEMETRY_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["device", "temperature", "ts"],
  "properties": {
    "device": {"type": "string", "minLength": 1},
    "temperature": {"type": "number", "minimum": -50, "maximum": 200},
    "humidity": {"type": "number", "minimum": 0, "maximum": 100},
    "ts": {"type": "integer", "minimum": 0}
  },
  "additionalProperties": false
}"#;

/// 90 bytes.
const TELEMETRY: &[u8] =
    br#"{"device":"press-line-1-sensor-04","temperature":21.75,"humidity":40.5,"ts":1732233600123}"#;

fn validator(model: Model, subject: &str) -> Validator {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config/schemas");
    let catalogs: HashMap<String, CatalogSpec> = [
        (
            "inline".to_string(),
            CatalogSpec::Inline([("telemetry".to_string(), TELEMETRY_SCHEMA.to_string())].into()),
        ),
        (
            "files".to_string(),
            CatalogSpec::Filesystem(
                [
                    ("reading".to_string(), format!("{dir}/reading.avsc").into()),
                    ("machine".to_string(), format!("{dir}/machine.proto").into()),
                ]
                .into(),
            ),
        ),
    ]
    .into();
    let catalog = if subject == "telemetry" { "inline" } else { "files" };
    let source = Source { catalog: catalog.into(), subject: Some(subject.into()), version: None, id: None };
    Validator::build(&ContentSpec { model, source: Some(source) }, &catalogs, &NoRegistry).expect("compiles")
}

fn avro_reading() -> Vec<u8> {
    use apache_avro::types::Value;
    let text = include_str!("../config/schemas/reading.avsc");
    let schema = apache_avro::Schema::parse_str(text).expect("schema");
    let v = Value::Record(vec![
        ("sensor".into(), Value::String("press-line-1-sensor-04".into())),
        ("value".into(), Value::Double(21.75)),
        ("unit".into(), Value::Enum(0, "C".into())),
        ("at".into(), Value::TimestampMillis(1_732_233_600_123)),
        ("note".into(), Value::Union(1, Box::new(Value::String("calibrated".into())))),
    ]);
    apache_avro::to_avro_datum(&schema, v).expect("encodes")
}

fn proto_state() -> Vec<u8> {
    use prost::Message as _;
    use prost_reflect::{DynamicMessage, Value};
    let mut c =
        protox::Compiler::new([concat!(env!("CARGO_MANIFEST_DIR"), "/config/schemas")]).expect("compiler");
    c.open_file("machine.proto").expect("compiles");
    let d = c.descriptor_pool().get_message_by_name("factory.MachineState").expect("message");
    let mut m = DynamicMessage::new(d);
    m.set_field_by_name("machine", Value::String("press-line-1".into()));
    m.set_field_by_name("state", Value::EnumNumber(1));
    m.set_field_by_name("alarms", Value::List(vec![Value::String("oil-low".into())]));
    let readings = [("pressure".to_string(), 3.5), ("temp".to_string(), 61.0)]
        .into_iter()
        .map(|(k, v)| (prost_reflect::MapKey::String(k), Value::F64(v)))
        .collect();
    m.set_field_by_name("readings", Value::Map(readings));
    m.encode_to_vec()
}

#[divan::bench]
fn json_telemetry_90_bytes(b: Bencher) {
    let v = validator(Model::Json, "telemetry");
    assert!(v.check(TELEMETRY).is_ok());
    b.bench(|| v.check(black_box(TELEMETRY)).is_ok());
}

#[divan::bench]
fn avro_reading_record(b: Bencher) {
    let v = validator(Model::Avro { wire: Wire::Raw }, "reading");
    let datum = avro_reading();
    assert!(v.check(&datum).is_ok(), "{} bytes", datum.len());
    eprintln!("Avro datum: {} bytes", datum.len());
    b.bench(|| v.check(black_box(&datum)).is_ok());
}

#[divan::bench]
fn protobuf_machine_state(b: Bencher) {
    let v = validator(
        Model::Protobuf { message: Some("factory.MachineState".into()), wire: Wire::Raw },
        "machine",
    );
    let msg = proto_state();
    assert!(v.check(&msg).is_ok(), "{} bytes", msg.len());
    eprintln!("Protobuf message: {} bytes", msg.len());
    b.bench(|| v.check(black_box(&msg)).is_ok());
}

/// The reference point: apache-avro decoding the same datum into values.
#[divan::bench]
fn avro_reading_decoded_by_apache_avro(b: Bencher) {
    let schema =
        apache_avro::Schema::parse_str(include_str!("../config/schemas/reading.avsc")).expect("schema");
    let datum = avro_reading();
    b.bench(|| apache_avro::from_avro_datum(&schema, &mut black_box(&datum[..]), None).is_ok());
}
