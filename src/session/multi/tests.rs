//! The multi-broker state machine, driven by the simulated network (thousands of
//! seeded runs) and by hand for each defect of issue #11.

use super::sim::{self, PrefixRouter, Sim};
use super::*;

fn runs(v: Protocol, seeds: std::ops::Range<u64>, steps: usize, receive_maximum: u16) {
    let seeds_len = (seeds.end - seeds.start) as usize;
    let router = PrefixRouter(3);
    let (mut ended, mut steps_run) = (0, 0);
    let mut reasons = std::collections::BTreeMap::new();
    for seed in seeds {
        let session = sim::session(v);
        let now = Instant::now();
        let m = Multi::new(sim::setup(v, 3, receive_maximum), &session, &router, now);
        let mut s = Sim::new(seed, m, v, receive_maximum, now);
        s.run(steps);
        assert!(s.violations.is_empty(), "{v:?} seed {seed}: {:#?}", s.violations);
        ended += usize::from(s.ended.is_some());
        if let Some(c) = &s.ended {
            *reasons.entry(c.to_string()).or_insert(0usize) += 1;
        }
        steps_run += s.steps;
    }
    let n = seeds_len;
    eprintln!("{v:?}: {n} runs, {ended} ended early, {} steps on average; {reasons:?}", steps_run / n);
    // The schedule must not end runs so early that they test nothing.
    assert!(steps_run / n > steps / 4, "runs end too early");
}

#[test]
fn simulated_network_v5() {
    runs(Protocol::V5, 0..1500, 400, 5);
}

#[test]
fn simulated_network_v311() {
    runs(Protocol::V311, 10_000..11_000, 400, 65_535);
}

#[test]
fn simulated_network_v5_roomy_receive_maximum() {
    runs(Protocol::V5, 20_000..21_000, 400, 100);
}

