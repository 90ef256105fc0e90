//! `mqtt-loadtest plot`: the page for a scale series measured by
//! `scripts/bench.sh scale` (CPU per message and memory per connection against the
//! number of connections held, one line per core count), drawn with the same inline
//! SVG charts as `pubsub --report`. Reads a JSON file; measures nothing itself.

use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// Flags of `plot`.
#[derive(clap::Parser, Clone)]
pub struct PlotArgs {
    /// The points: a JSON array of {cores, connections, msgs_per_s, cpu_ns_per_msg, bytes_per_conn}.
    #[arg(long)]
    input: std::path::PathBuf,
    /// Write the HTML page here.
    #[arg(long)]
    report: std::path::PathBuf,
}

/// One measured point.
struct Point {
    cores: u32,
    connections: u64,
    msgs_per_s: f64,
    cpu_ns_per_msg: f64,
    bytes_per_conn: f64,
}

/// The points of a JSON array; a missing or non-numeric field is an error.
fn points(text: &str) -> Result<Vec<Point>> {
    let v: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
    let arr = v.as_array().context("not a JSON array")?;
    arr.iter()
        .enumerate()
        .map(|(i, p)| {
            let num = |k: &str| {
                p.get(k).and_then(serde_json::Value::as_f64).with_context(|| format!("point {i}: `{k}`"))
            };
            Ok(Point {
                cores: num("cores")? as u32,
                connections: num("connections")? as u64,
                msgs_per_s: num("msgs_per_s")?,
                cpu_ns_per_msg: num("cpu_ns_per_msg")?,
                bytes_per_conn: num("bytes_per_conn")?,
            })
        })
        .collect()
}

const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// The page for `points`.
fn page(points: &[Point]) -> String {
    let mut xs: Vec<u64> = points.iter().map(|p| p.connections).collect();
    xs.sort_unstable();
    xs.dedup();
    let labels: Vec<String> = xs.iter().map(|n| format!("{n} conns")).collect();
    let mut by_cores: BTreeMap<u32, Vec<&Point>> = BTreeMap::new();
    for p in points {
        by_cores.entry(p.cores).or_default().push(p);
    }
    let series = |f: fn(&Point) -> f64| -> Vec<(String, &str, Vec<f64>)> {
        by_cores
            .iter()
            .enumerate()
            .map(|(i, (cores, ps))| {
                let ys = xs
                    .iter()
                    .map(|n| ps.iter().find(|p| p.connections == *n).map_or(0.0, |p| f(p)))
                    .collect();
                (format!("{cores} core(s)"), COLOURS[i % COLOURS.len()], ys)
            })
            .collect()
    };
    let chart = |title: &str, unit: &str, f: fn(&Point) -> f64| {
        let s = series(f);
        let refs: Vec<(&str, &str, Vec<f64>)> =
            s.iter().map(|(n, c, v)| (n.as_str(), *c, v.clone())).collect();
        crate::report::chart(title, unit, &labels, &refs)
    };
    let mut table = String::from("cores  connections  msg/s  CPU ns/msg  bytes/conn\n");
    for p in points {
        table.push_str(&format!(
            "{:>5}  {:>11}  {:>5.0}  {:>10.0}  {:>10.0}\n",
            p.cores, p.connections, p.msgs_per_s, p.cpu_ns_per_msg, p.bytes_per_conn
        ));
    }
    format!(
        "<!doctype html><html><head><meta charset='utf-8'><title>mqtt-proxy scale</title></head>\
         <body style='font-family:sans-serif;max-width:760px;margin:auto'><h1>mqtt-proxy scale</h1>\
         <pre>{table}</pre>{}{}{}</body></html>\n",
        chart("CPU per delivered message", "ns", |p| p.cpu_ns_per_msg),
        chart("Memory per connection", "B", |p| p.bytes_per_conn),
        chart("Delivered messages per second", "msg/s", |p| p.msgs_per_s),
    )
}

/// Runs `plot`.
pub fn run(args: PlotArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.input).with_context(|| format!("{}", args.input.display()))?;
    let points = points(&text).with_context(|| format!("{}", args.input.display()))?;
    std::fs::write(&args.report, page(&points)).with_context(|| format!("{}", args.report.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_core_count_and_every_point_in_the_table() {
        let points = points(
            r#"[{"cores":1,"connections":1000,"msgs_per_s":9e4,"cpu_ns_per_msg":8000,"bytes_per_conn":6000},
                {"cores":1,"connections":5000,"msgs_per_s":8e4,"cpu_ns_per_msg":8500,"bytes_per_conn":5900},
                {"cores":2,"connections":1000,"msgs_per_s":7e4,"cpu_ns_per_msg":9000,"bytes_per_conn":6100}]"#,
        )
        .expect("points");
        let html = page(&points);
        assert!(super::points(r#"[{"cores":1}]"#).is_err(), "a point without its figures is refused");
        assert_eq!(html.matches("<svg").count(), 3);
        assert_eq!(html.matches("<polyline").count(), 6, "two core counts on each of three charts");
        assert!(html.contains("2 core(s)") && html.contains("5000 conns") && html.contains("8500"));
    }
}
