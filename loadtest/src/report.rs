//! The `--report out.html` page: throughput over time and the latency percentile
//! curve, drawn as inline SVG (no scripts, no external files), so a user can look
//! rather than read.

use std::fmt::Write as _;

/// A line chart of `series` (name, colour, points) over `x` labels.
pub(crate) fn chart(title: &str, y_unit: &str, x: &[String], series: &[(&str, &str, Vec<f64>)]) -> String {
    let (w, h, left, bottom) = (720.0, 260.0, 70.0, 40.0);
    let max = series.iter().flat_map(|s| s.2.iter().copied()).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let n = x.len().max(2) as f64;
    let px = |i: usize| left + (w - left - 20.0) * i as f64 / (n - 1.0);
    let py = |v: f64| (h - bottom) - (h - bottom - 20.0) * v / max;
    let mut svg = format!(
        "<h2>{title}</h2><svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='11'>"
    );
    let _ = write!(
        svg,
        "<line x1='{left}' y1='{}' x2='{}' y2='{}' stroke='#888'/>",
        h - bottom,
        w - 20.0,
        h - bottom
    );
    let _ = write!(svg, "<line x1='{left}' y1='20' x2='{left}' y2='{}' stroke='#888'/>", h - bottom);
    for k in 0..=4 {
        let v = max * k as f64 / 4.0;
        let _ = write!(
            svg,
            "<text x='{}' y='{}' text-anchor='end'>{v:.0} {y_unit}</text>",
            left - 6.0,
            py(v) + 4.0
        );
    }
    let step = (x.len() / 10).max(1);
    for (i, label) in x.iter().enumerate().step_by(step) {
        let _ =
            write!(svg, "<text x='{}' y='{}' text-anchor='middle'>{label}</text>", px(i), h - bottom + 16.0);
    }
    for (k, (name, colour, points)) in series.iter().enumerate() {
        let path: Vec<String> =
            points.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", px(i), py(*v))).collect();
        let _ = write!(
            svg,
            "<polyline fill='none' stroke='{colour}' stroke-width='2' points='{}'/>",
            path.join(" ")
        );
        let _ = write!(
            svg,
            "<text x='{}' y='{}' fill='{colour}'>{name}</text>",
            left + 10.0 + 120.0 * k as f64,
            14.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The whole page. `timeline` holds (in, out) msg/s per second; `percentiles` holds
/// (label, latency µs).
pub fn html(title: &str, summary: &str, timeline: &[(u64, u64)], percentiles: &[(String, f64)]) -> String {
    let secs: Vec<String> = (1..=timeline.len()).map(|s| format!("{s}s")).collect();
    let throughput = chart(
        "Throughput over time",
        "msg/s",
        &secs,
        &[
            ("in (sent)", "#1f77b4", timeline.iter().map(|t| t.0 as f64).collect()),
            ("out (delivered)", "#d62728", timeline.iter().map(|t| t.1 as f64).collect()),
        ],
    );
    let labels: Vec<String> = percentiles.iter().map(|p| p.0.clone()).collect();
    let latency = chart(
        "End-to-end latency by percentile",
        "µs",
        &labels,
        &[("latency", "#2ca02c", percentiles.iter().map(|p| p.1).collect())],
    );
    format!(
        "<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>\
         <body style='font-family:sans-serif;max-width:760px;margin:auto'><h1>{title}</h1>\
         <pre style='white-space:pre-wrap'>{summary}</pre>{throughput}{latency}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_has_both_charts_and_the_data() {
        let page =
            html("t", "{\"a\":1}", &[(10, 9), (20, 19)], &[("p50".into(), 100.0), ("p99".into(), 900.0)]);
        assert!(page.starts_with("<!doctype html>"));
        assert_eq!(page.matches("<svg").count(), 2);
        assert!(page.contains("p99") && page.contains("polyline"));
    }
}
