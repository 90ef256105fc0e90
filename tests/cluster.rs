//! Scale-out (#16), short form: `scripts/cluster-test.sh --short` builds three proxy
//! hosts behind HAProxy (PROXY protocol v2) in their own network namespaces, in
//! front of three Mosquittos and then an Aedes cluster on Redis (Aedes loaded with
//! `scripts/cluster/ack-after-persist.mjs`: stock Aedes acknowledges a QoS 1 publish
//! before storing it, and loses it with the node); runs 200 devices with persistent QoS 1
//! sessions (`mqtt-loadtest fleet`) and kills a proxy, kills a broker and
//! (Mosquitto) reloads every proxy under that load. This test runs it with this
//! build's binaries and checks its JSON report: every scenario passed, and each
//! fault really happened (devices had to reconnect) with the outcome its layout
//! promises. Needs root for `ip netns`, like the rest of the suite's set-up.
//!
//! The long form (2,000 devices, every scenario) is the script without `--short`;
//! its numbers are in the README.

use std::path::Path;
use std::process::Command;

#[test]
fn three_proxies_behind_a_balancer_lose_nothing_when_a_proxy_or_a_broker_dies() {
    let proxy = Path::new(env!("CARGO_BIN_EXE_mqtt-proxy"));
    let loadtest = proxy.with_file_name("mqtt-loadtest");
    assert!(loadtest.exists(), "{} not built (cargo test --workspace builds it)", loadtest.display());
    let out = tempfile::tempdir().expect("tempdir");
    let run = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster-test.sh"))
        .arg("--short")
        .arg("--out")
        .arg(out.path())
        .env("MQTT_PROXY", proxy)
        .env("MQTT_LOADTEST", &loadtest)
        .output()
        .expect("run scripts/cluster-test.sh");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "cluster-test.sh failed:\n{stdout}\n--- stderr ---\n{stderr}");
    let report = std::fs::read_to_string(out.path().join("report.jsonl")).expect("report.jsonl");
    let entries: Vec<serde_json::Value> =
        report.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let find = |layout: &str, scenario: &str| {
        entries
            .iter()
            .find(|e| e["layout"] == layout && e["scenario"] == scenario)
            .unwrap_or_else(|| panic!("no {layout} {scenario} in the report:\n{report}"))
    };
    for layout in ["mosquitto", "aedes"] {
        assert_eq!(
            find(layout, "smoke")["pass"],
            true,
            "{layout}: mosquitto_pub / mosquitto_sub through the balancer"
        );
    }
    let scenarios = [
        ("mosquitto", "kill-proxy"),
        ("mosquitto", "kill-broker"),
        ("mosquitto", "reload"),
        ("aedes", "kill-proxy"),
        ("aedes", "kill-broker"),
    ];
    for (layout, scenario) in scenarios {
        let e = find(layout, scenario);
        assert_eq!(e["pass"], true, "{layout} {scenario}: {e}");
        let r = &e["loadtest"];
        assert_eq!(r["devices"], 200, "{r}");
        assert!(r["acked"].as_u64().unwrap_or(0) > 1000, "{layout} {scenario}: load flowed: {r}");
        assert_eq!(r["acked_lost"], 0, "{layout} {scenario}: acknowledged, never delivered: {r}");
    }
    let killed_proxy = &find("mosquitto", "kill-proxy")["loadtest"];
    let moved = killed_proxy["reconnects"].as_u64().unwrap_or(0);
    assert!(moved > 0, "a proxy was killed, so some devices reconnected: {killed_proxy}");
    assert_eq!(killed_proxy["resumed"], moved, "each found its session on the same broker: {killed_proxy}");
    let killed_broker = &find("mosquitto", "kill-broker")["loadtest"];
    assert!(
        killed_broker["sessions_lost"].as_u64().unwrap_or(0) > 0,
        "devices moved broker: {killed_broker}"
    );
    assert!(
        killed_broker["disconnect_reasons"]["0x80"].as_u64().unwrap_or(0) > 0,
        "told with 0x80: {killed_broker}"
    );
    let aedes_proxy = &find("aedes", "kill-proxy")["loadtest"];
    assert!(aedes_proxy["reconnects"].as_u64().unwrap_or(0) > 0, "{aedes_proxy}");
    assert_eq!(aedes_proxy["sessions_lost"], 0, "{aedes_proxy}");
    let aedes_kill = find("aedes", "kill-broker");
    assert_eq!(
        aedes_kill["facts"]["aedes_ack"], "after-persist",
        "the Aedes nodes ran with the store before the PUBACK: {aedes_kill}"
    );
    let aedes = &aedes_kill["loadtest"];
    assert!(aedes["reconnects"].as_u64().unwrap_or(0) > 0, "a node was killed: {aedes}");
    assert_eq!(aedes["sessions_lost"], 0, "sessions live in Redis, not in the node: {aedes}");
    assert_eq!(aedes["lost_with_session"], 0, "{aedes}");
    assert_eq!(find("mosquitto", "reload")["loadtest"]["reconnects"], 0, "a rolling reload drops nothing");
    assert!(stdout.contains("cluster-test: all scenarios passed"), "{stdout}");
}
