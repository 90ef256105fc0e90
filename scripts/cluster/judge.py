#!/usr/bin/env python3
"""Judges one scenario of scripts/cluster-test.sh from its mqtt-loadtest `fleet`
JSON and the facts the script observed; prints one PASS/FAIL line and appends a
report entry (the loadtest JSON, the facts, each check and its outcome) to a
JSON-lines file.

    judge.py <layout> <scenario> <fleet.json> <report.jsonl> [fact=value ...]

Exit status 0 on pass, 1 on fail. Test use only.
"""
import json
import sys


def checks(layout, scenario, r, facts):
    """(name, passed) pairs: what must hold for this layout and scenario."""
    # Stock Aedes (1.2) acknowledges a QoS 1 PUBLISH before it stores it, so a
    # killed node loses what it had just acknowledged: the kill-broker-direct
    # control shows it with no proxy in the path. For that layout the count is
    # reported, not judged; every other layout and scenario must lose nothing
    # (the `aedes` layout runs Aedes with the store before the acknowledgement).
    broker_loses = layout == "aedes-stock" and scenario.startswith("kill-broker")
    out = [
        ("no device gave up", not r["errors_by_kind"]),
    ]
    if not broker_loses:
        out.append(("every acknowledged message delivered at least once", r["acked_lost"] == 0))
    out += [
        ("every publish acknowledged by the end", r["unacked"] == 0),
        ("no delivery from another run", r["unknown"] == 0),
        ("messages flowed", r["acked"] > 0),
    ]
    if scenario in ("steady", "reload"):
        out.append(("no connection dropped", r["reconnects"] == 0))
    if scenario == "steady":
        spread = [int(facts.get(f"p{i}_connections", 0)) for i in (1, 2, 3)]
        out.append((f"the balancer spread devices over all 3 proxies {spread}", all(n > 0 for n in spread)))
    if scenario == "reload":
        out.append(("3 proxies reloaded", int(facts.get("reloads", 0)) == 3))
    if scenario in ("kill-proxy", "restart"):
        out.append(("the killed proxy's devices reconnected", r["reconnects"] >= int(facts.get("killed_connections", 1))))
        out.append(("every reconnect resumed its session (same broker)", r["sessions_lost"] == 0 and r["resumed"] == r["reconnects"]))
    if scenario in ("kill-broker", "kill-broker-direct"):
        out.append(("the dead broker's devices reconnected", r["reconnects"] > 0))
        if scenario == "kill-broker":
            out.append(("every proxy's health probes marked it down", int(facts.get("probes_marked_down", 0)) == 3))
        if layout in ("aedes", "aedes-stock", "rabbitmq"):
            out.append(("every session survived its node (Session Present 1)", r["sessions_lost"] == 0))
            out.append(("nothing acknowledged was lost with a session", r["lost_with_session"] == 0))
        else:
            out.append(("the dead broker's devices moved to another broker (Session Present 0)", r["sessions_lost"] > 0))
            if r["version"] == 5:
                out.append(("5.0 devices were told: DISCONNECT 0x80", r["disconnect_reasons"].get("0x80", 0) > 0))
    return out


def main():
    layout, scenario, path, report = sys.argv[1:5]
    facts = dict(a.split("=", 1) for a in sys.argv[5:])
    with open(path) as f:
        r = json.load(f)
    results = checks(layout, scenario, r, facts)
    passed = all(ok for _, ok in results)
    failed = [name for name, ok in results if not ok]
    line = (
        f"{'PASS' if passed else 'FAIL'} {layout} {scenario}: {r['devices']} devices, "
        f"acked {r['acked']}, received {r['received']}, acked-lost {r['acked_lost']}, "
        f"duplicates {r['duplicates']}, lost with a session {r['lost_with_session']}, "
        f"reconnects {r['reconnects']} (resumed {r['resumed']}), "
        f"reconnect ms p50 {r['reconnect_ms']['p50']} max {r['reconnect_ms']['max']}, "
        f"disconnects {r['disconnect_reasons']}"
    )
    if failed:
        line += " -- failed: " + "; ".join(failed)
        if r.get("first_error"):
            line += f" (first error: {r['first_error']})"
    print(line, flush=True)
    entry = {
        "layout": layout,
        "scenario": scenario,
        "pass": passed,
        "checks": [{"check": n, "pass": ok} for n, ok in results],
        "facts": facts,
        "loadtest": r,
    }
    with open(report, "a") as f:
        f.write(json.dumps(entry) + "\n")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
