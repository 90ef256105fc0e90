//! A latency histogram with fixed buckets, one per core and single-writer like the
//! counters (an observation is two relaxed stores), rendered as a Prometheus
//! histogram in seconds summed over the cores.

use super::Counter;
use std::fmt::Write as _;
use std::time::Duration;

/// Bucket upper bounds, microseconds (0.5 ms … 10 s).
const BOUNDS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// One core's histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket (not cumulative); the last is +Inf.
    buckets: [Counter; BOUNDS_US.len() + 1],
    sum_us: Counter,
}

impl Histogram {
    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(Counter::get).sum()
    }

    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.iter().position(|&b| us <= b).unwrap_or(BOUNDS_US.len());
        self.buckets[i].add(1);
        self.sum_us.add(us);
    }
}

/// Appends histogram `name` summed over `cores`.
pub fn render(out: &mut String, name: &str, help: &str, cores: &[&Histogram]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    let mut cumulative = 0;
    for (i, bound) in BOUNDS_US.iter().enumerate() {
        cumulative += cores.iter().map(|h| h.buckets[i].get()).sum::<u64>();
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", *bound as f64 / 1e6);
    }
    cumulative += cores.iter().map(|h| h.buckets[BOUNDS_US.len()].get()).sum::<u64>();
    let sum = cores.iter().map(|h| h.sum_us.get()).sum::<u64>() as f64 / 1e6;
    let _ = writeln!(
        out,
        "{name}_bucket{{le=\"+Inf\"}} {cumulative}\n{name}_sum {sum}\n{name}_count {cumulative}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_buckets_in_seconds() {
        let (a, b) = (Histogram::default(), Histogram::default());
        a.observe(Duration::from_micros(400));
        a.observe(Duration::from_millis(3));
        b.observe(Duration::from_millis(3));
        b.observe(Duration::from_secs(60));
        let mut out = String::new();
        render(&mut out, "x_seconds", "X.", &[&a, &b]);
        for line in [
            "x_seconds_bucket{le=\"0.0005\"} 1\n",
            "x_seconds_bucket{le=\"0.001\"} 1\n",
            "x_seconds_bucket{le=\"0.005\"} 3\n",
            "x_seconds_bucket{le=\"10\"} 3\n",
            "x_seconds_bucket{le=\"+Inf\"} 4\n",
            "x_seconds_sum 60.0064\n",
            "x_seconds_count 4\n",
        ] {
            assert!(out.contains(line), "{line}{out}");
        }
    }
}
