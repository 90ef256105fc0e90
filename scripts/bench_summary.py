#!/usr/bin/env python3
"""Tables for scripts/bench.sh: reads its JSON lines on stdin, prints medians and
ratios (each against direct and against HAProxy, measured in the same run).

Usage: bench_summary.py throughput HZ PLACEMENT THIRD HALF_RATE
       bench_summary.py connect HZ PLACEMENT
       bench_summary.py scale HZ PLACEMENT
       bench_summary.py tail HZ PLACEMENT DIRECT_MAX
       bench_summary.py goals HZ PLACEMENT DIR   (DIR: throughput, connect and idle .jsonl)
"""
import json
import os
import statistics
import sys


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def cpu_ns_per_msg(row, hz):
    if row["name"] == "direct":
        return None
    return row["ticks"] / hz * 1e9 / max(row["result"].get("received", 0), 1)


def select(rows, kind, name):
    """The measurements of one kind (throughput, latency, ...) through one hop."""
    return [r for r in rows if r["kind"] == kind and r["name"] == name]


def fmt_rounds(xs, f="{:.0f}"):
    return " / ".join(f.format(x) for x in xs)


def throughput(rows, hz, placement, third, half):
    names = ["direct", "proxy", third]
    print(f"\nPlacement: {placement}. Rounds: {max(r['round'] for r in rows)}, medians shown, every round listed.")
    by = lambda kind, name: select(rows, kind, name)
    tput = {n: [r["result"]["out_msgs_per_s"] for r in by("throughput", n)] for n in names}
    cpu = {n: [cpu_ns_per_msg(r, hz) for r in by("throughput", n)] for n in names}
    lost = {n: sum(r["result"].get("lost", 0) for r in by("throughput", n)) for n in names}
    d = median(tput["direct"])
    print("\nThroughput (unlimited rate), delivered msg/s:")
    print(f"{'hop':<11}{'median':>10}{'vs direct':>11}{'CPU ns/msg':>12}{'vs HAProxy':>12}{'lost':>7}   rounds (msg/s; CPU ns/msg)")
    for n in names:
        c = median(cpu[n])
        vs_h = c / median(cpu[third]) if n == "proxy" else float("nan")
        cr = "" if n == "direct" else "; " + fmt_rounds(cpu[n])
        print(f"{n:<11}{median(tput[n]):>10.0f}{median(tput[n]) / d:>11.3f}{c:>12.0f}{vs_h:>12.2f}{lost[n]:>7}   {fmt_rounds(tput[n])}{cr}")
    print(f"\nLatency at {half} msg/s per publisher (half of direct's median maximum), microseconds:")
    print(f"{'hop':<11}{'p50':>8}{'p90':>8}{'p99':>8}{'p99.9':>8}{'+p50':>8}{'+p99':>8}{'CPU ns/msg':>12}   +p99 per round")
    base = {}
    for r in by("latency", "direct"):
        base[r["round"]] = r["result"]["latency_us"]
    for n in names:
        rs = by("latency", n)
        lat = lambda k: median(r["result"]["latency_us"][k] for r in rs)
        add = lambda k: [r["result"]["latency_us"][k] - base[r["round"]][k] for r in rs if r["round"] in base]
        c = median(cpu_ns_per_msg(r, hz) for r in rs)
        print(f"{n:<11}{lat('p50'):>8.0f}{lat('p90'):>8.0f}{lat('p99'):>8.0f}{lat('p999'):>8.0f}"
              f"{median(add('p50')):>8.0f}{median(add('p99')):>8.0f}{c:>12.0f}   {fmt_rounds(add('p99'))}")
    ps = [r for r in rows if r["kind"] == "perfstat"]
    if ps:
        print("\nperf stat, one more unlimited round per hop (software counters), per delivered message:")
        print(f"{'hop':<11}{'CPU ns':>9}{'ctx sw':>9}{'syscalls':>10}{'uring SQEs':>12}{'msg/s':>10}")
        for r in ps:
            m = max(r["result"].get("received", 0), 1)
            p = r["perf"]
            get = lambda k: p.get(k, float("nan")) / m
            print(f"{r['name']:<11}{get('task-clock') * 1e6:>9.0f}{get('context-switches'):>9.3f}"
                  f"{get('raw_syscalls:sys_enter'):>10.2f}{get('io_uring:io_uring_submit_req'):>12.2f}"
                  f"{r['result']['out_msgs_per_s']:>10.0f}")


def connect(rows, hz, placement):
    print(f"\nPlacement: {placement}. CONNECT + CONNACK + DISCONNECT per connection; medians of {max(r['round'] for r in rows)} rounds.")
    print(f"{'path':<12}{'connects/s':>12}{'vs direct':>11}{'hop CPU µs/conn':>17}{'per core/s':>14}{'p99 µs':>9}{'errors':>8}   rounds")
    d = median(r["result"]["connects_per_s"] for r in rows if r["name"] == "direct")
    for n in ["direct", "haproxy", "proxy", "jwt-cached", "jwt-new"]:
        rs = [r for r in rows if r["name"] == n]
        cps = [r["result"]["connects_per_s"] for r in rs]
        cpu = median(r["ticks"] / hz * 1e6 / max(r["result"]["ok"], 1) for r in rs) if n != "direct" else float("nan")
        p99 = median(r["result"]["latency_us"]["p99"] for r in rs)
        err = sum(r["result"]["errors"] for r in rs)
        cap = 1e6 / cpu if cpu == cpu and cpu > 0 else float("nan")
        print(f"{n:<12}{median(cps):>12.0f}{median(cps) / d:>11.3f}{cpu:>17.1f}{cap:>14.0f}{p99:>9.0f}{err:>8}   {fmt_rounds(cps)}")


def scale(rows, hz, placement):
    print("\nScale: N idle connections held open while 10 publishers flood (proxy not pinned apart from its cores).")
    print(f"{'cores':>5}{'connections':>13}{'msg/s':>10}{'CPU ns/msg':>12}{'bytes/conn':>12}")
    points = []
    for r in rows:
        c, n, before, after = (int(x) for x in r["name"].split(":"))
        per = (after - before) * 1024 / n
        cpu = cpu_ns_per_msg(r, hz)
        points.append({"cores": c, "connections": n, "msgs_per_s": r["result"]["out_msgs_per_s"],
                       "cpu_ns_per_msg": cpu, "bytes_per_conn": per})
        print(f"{c:>5}{n:>13}{r['result']['out_msgs_per_s']:>10.0f}{cpu:>12.0f}{per:>12.0f}")
    return points


def tail(rows, placement, direct_max):
    """p99 against the load CPUs' headroom: the seconds in which they had almost no
    idle time are where a hop's tail stalls come from."""
    print(f"\nPlacement: {placement}. Direct maximum {direct_max} msg/s; medians of {max(r['round'] for r in rows)} rounds.")
    print(f"{'load':>5} {'hop':<9}{'p50 µs':>9}{'p99 µs':>10}{'max µs':>10}{'load CPU idle % (mean, min)':>30}   p99 per round")
    keys = []
    for r in rows:
        if r["name"] not in keys:
            keys.append(r["name"])
    for k in keys:
        hop, pct = k.split(":")
        rs = [r for r in rows if r["name"] == k]
        lat = lambda q: median(r["result"]["latency_us"][q] for r in rs)
        idle = [x for r in rs for x in r["result"].get("load_idle_pct", [])]
        mins = [min(r["result"]["load_idle_pct"]) for r in rs if r["result"].get("load_idle_pct")]
        mean = sum(idle) / len(idle) if idle else float("nan")
        print(f"{pct + '%':>5} {hop:<9}{lat('p50'):>9.0f}{lat('p99'):>10.0f}{lat('max'):>10.0f}"
              f"{mean:>20.0f}, {fmt_rounds(mins):<8}   {fmt_rounds(r['result']['latency_us']['p99'] for r in rs)}")


def goals(hz, placement, d):
    """The hop's goals (issue #14), each against the baselines of the same run."""
    def load(name):
        path = os.path.join(d, name)
        return [json.loads(x) for x in open(path) if x.strip()] if os.path.exists(path) else []
    t, c, idle = load("throughput.jsonl"), load("connect.jsonl"), load("idle.jsonl")
    hops = ("proxy", "haproxy")
    cpu = {n: median(cpu_ns_per_msg(r, hz) for r in select(t, "throughput", n)) for n in hops}
    tput = {n: median(r["result"]["out_msgs_per_s"] for r in select(t, "throughput", n)) for n in ("direct",) + hops}
    base = {r["round"]: r["result"]["latency_us"]["p99"] for r in select(t, "latency", "direct")}
    added = {n: median(r["result"]["latency_us"]["p99"] - base[r["round"]]
                       for r in select(t, "latency", n) if r["round"] in base) for n in hops}
    per_core = {}
    for n in ("haproxy", "proxy", "jwt-new"):
        us = median(r["ticks"] / hz * 1e6 / max(r["result"]["ok"], 1) for r in c if r["name"] == n)
        per_core[n] = 1e6 / us if us == us and us > 0 else float("nan")
    rows = []
    verdict = lambda ok: "met" if ok else "NOT MET"
    r = cpu["proxy"] / cpu["haproxy"]
    rows.append(("CPU per delivered message", "<= 1.30x HAProxy",
                 f"{cpu['proxy']:,.0f} ns = {r:.2f}x", f"{cpu['haproxy']:,.0f} ns", verdict(r <= 1.3)))
    p, h = tput["proxy"] / tput["direct"], tput["haproxy"] / tput["direct"]
    rows.append(("throughput vs direct", ">= 0.95x", f"{p:.2f}x", f"{h:.2f}x", verdict(p >= 0.95)))
    rows.append(("added p99 at half load", "<= 50 us", f"{added['proxy']:+,.0f} us", f"{added['haproxy']:+,.0f} us",
                 verdict(added["proxy"] <= 50)))
    def per_conn(hop, n):
        found = [x["name"].split(":") for x in idle if x["kind"] == "idle" and x["name"].split(":")[:2] == [hop, n]]
        return (int(found[0][3]) - int(found[0][2])) * 1024 / int(n) if found else float("nan")
    for n in dict.fromkeys(x["name"].split(":")[1] for x in idle if x["kind"] == "idle"):
        per = per_conn("proxy", n)
        rows.append((f"bytes per idle connection, {int(n):,}", "<= 6,144 B", f"{per:,.0f} B",
                     f"{per_conn('haproxy', n):,.0f} B", verdict(per <= 6144)))
    jn = per_core["jwt-new"]
    rows.append(("new-token CONNECT per core", ">= 30,000/s",
                 f"{jn:,.0f}/s = {jn / per_core['haproxy']:.2f}x", f"{per_core['haproxy']:,.0f}/s (no JWT)",
                 verdict(jn >= 30000)))
    rows.append(("  (the proxy without a guard)", "", f"{per_core['proxy']:,.0f}/s", "", ""))
    rounds = max((x["round"] for x in t), default=0)
    print(f"\nGoals (placement: {placement}; medians of {rounds} rounds; ratios to the same run's baselines):")
    print(f"{'goal':<34}{'target':<18}{'mqtt-proxy':<22}{'HAProxy':<20}verdict")
    for g in rows:
        print(f"{g[0]:<34}{g[1]:<18}{g[2]:<22}{g[3]:<20}{g[4]}")


def main():
    mode, hz, placement = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    if mode == "throughput":
        throughput(rows, hz, placement, sys.argv[4], sys.argv[5])
    elif mode == "connect":
        connect(rows, hz, placement)
    elif mode == "goals":
        goals(hz, placement, sys.argv[4])
    elif mode == "tail":
        tail(rows, placement, sys.argv[4])
    elif mode == "scale":
        points = scale(rows, hz, placement)
        if len(sys.argv) > 4:
            with open(sys.argv[4], "w") as f:
                json.dump(points, f)


if __name__ == "__main__":
    main()
