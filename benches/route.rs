//! Route lookup cost (divan): a publish's topic against 10,000 topic rules (and 100
//! for comparison), plus rendezvous placement on a group of 3 and 10 servers.
//! Run: `cargo bench --bench route`.

use divan::{black_box, Bencher};
use mqtt_proxy::route::table::{Action, RuleSpec};
use mqtt_proxy::route::{hash, Facts, Table};

fn main() {
    divan::main();
}

/// `n` rules: per site and line a literal prefix, every tenth with a `+` level,
/// every hundredth limited to a listener; the upstreams cycle over 8 groups.
fn table(n: usize) -> Table {
    let rules = (0..n)
        .map(|i| {
            let filter = match i % 10 {
                0 => format!("site{}/+/alarms/#", i / 10),
                _ => format!("site{}/line{}/#", i / 10, i % 10),
            };
            RuleSpec {
                listeners: if i % 100 == 99 { vec![1] } else { Vec::new() },
                topics: vec![filter],
                action: Action { upstream: i % 8, ..Default::default() },
                ..Default::default()
            }
        })
        .collect();
    Table::new(rules).expect("compiles")
}

const FACTS: Facts<'static> =
    Facts { listener: 0, client_id: "press-17", sni: None, source: None, identity: None };

#[divan::bench(args = [100, 10_000])]
fn publish_lookup(b: Bencher, n: usize) {
    let t = table(n);
    let topic = format!("site{}/line7/press/temperature", n / 20);
    assert!(t.publish(&FACTS, &topic).is_some());
    b.bench(|| t.publish(&FACTS, black_box(&topic)));
}

#[divan::bench(args = [100, 10_000])]
fn publish_lookup_no_match(b: Bencher, n: usize) {
    let t = table(n);
    b.bench(|| t.publish(&FACTS, black_box("warehouse/dock4/door")));
}

#[divan::bench(args = [3, 10])]
fn rendezvous_pick(b: Bencher, servers: usize) {
    let names: Vec<String> = (0..servers).map(|i| format!("10.0.0.{i}:1883")).collect();
    b.bench(|| hash::pick(names.iter().map(String::as_str), black_box("press-line-1-sensor-04"), |_| true));
}
