//! The goals table of `scripts/bench.sh goals` (`scripts/bench_summary.py goals`):
//! from recorded measurements (`tests/data/bench-goals`, made-up numbers chosen to
//! land on both sides of the targets) it must compute each ratio against the same
//! run's baseline and call each goal met or not. The README's performance claims are
//! read off this table, so a wrong ratio or a flipped threshold would be a false claim.

use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The goals table for the fixture measurements, one line per goal.
fn goals_table() -> Vec<String> {
    let out = Command::new("python3")
        .arg(format!("{ROOT}/scripts/bench_summary.py"))
        .args(["goals", "100", "fixture placement"])
        .arg(format!("{ROOT}/tests/data/bench-goals"))
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").lines().map(str::to_string).collect()
}

/// The table's line for `goal`.
fn line<'a>(table: &'a [String], goal: &str) -> &'a str {
    table.iter().find(|l| l.starts_with(goal)).unwrap_or_else(|| panic!("no line for {goal}: {table:#?}"))
}

#[test]
fn each_goal_is_a_ratio_to_the_same_runs_baseline_with_its_verdict() {
    let t = goals_table();
    // 60 ticks at 100 Hz over 1,000,000 messages: 600 ns, against HAProxy's 500 ns.
    let cpu = line(&t, "CPU per delivered message");
    assert!(cpu.contains("600 ns = 1.20x") && cpu.contains("500 ns") && cpu.ends_with(" met"), "{cpu}");
    let tput = line(&t, "throughput vs direct");
    assert!(tput.contains("0.96x") && tput.contains("0.90x") && tput.ends_with(" met"), "{tput}");
    // p99 1,040 µs against direct's 1,000 µs in the same round.
    let p99 = line(&t, "added p99 at half load");
    assert!(p99.contains("+40 us") && p99.contains("+100 us") && p99.ends_with(" met"), "{p99}");
    // (49,000 - 20,000) KiB over 5,000 connections; (80,000 - 20,000) KiB over 9,500.
    let small = line(&t, "bytes per idle connection, 5,000");
    assert!(small.contains("5,939 B") && small.ends_with(" met"), "{small}");
    let large = line(&t, "bytes per idle connection, 9,500");
    assert!(large.contains("6,467 B") && large.ends_with("NOT MET"), "{large}");
    // 300 ticks over 10,000 connections: 300 µs each, 3,333 per core-second.
    let connect = line(&t, "new-token CONNECT per core");
    assert!(
        connect.contains("3,333/s = 0.20x") && connect.contains("16,667/s") && connect.ends_with("NOT MET")
    );
}
