#!/usr/bin/env bash
# Fuzzes the given targets (default: all four) for SECONDS each (default 600), side
# by side, on the stable toolchain; fails if any target finds a crash.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     targets: decode schema session preamble
#
# No cargo-fuzz needed: the targets are built with cargo and libfuzzer-sys, and
# scripts/fuzz-rustc.sh adds the coverage instrumentation to the project's own
# crates only. FUZZ_PROFILE=fuzz (default; quick to build, what CI runs) or
# FUZZ_PROFILE=release (slower to build, faster to run: for long local runs).
# Seeds each corpus with the captured real-client frames. Crashes land in
# fuzz/artifacts/TARGET/; turn each into a named regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode schema session preamble)
profile="${FUZZ_PROFILE:-fuzz}"

(cd fuzz && RUSTC_WRAPPER="$PWD/../scripts/fuzz-rustc.sh" cargo build --locked --profile "$profile" --bins)
bin="fuzz/target/$profile"

for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  # Seed: each captured connection's client and server byte streams.
  python3 - "fuzz/corpus/$t" tests/data/captures/*.txt <<'PY'
import sys, pathlib
out = pathlib.Path(sys.argv[1])
for f in sys.argv[2:]:
    streams, cur = [], None
    for line in open(f):
        if line.startswith('#'):
            cur = {'c': bytearray(), 's': bytearray()}; streams.append(cur); continue
        d, h = line.split()
        cur[d] += bytes.fromhex(h)
    for i, s in enumerate(streams):
        for d, b in s.items():
            (out / f"{pathlib.Path(f).stem}-{i}-{d}").write_bytes(bytes(b))
PY
done

logs=$(mktemp -d)
pids=()
for t in "${targets[@]}"; do
  "$bin/$t" "fuzz/corpus/$t" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" >"$logs/$t.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  if wait "${pids[$i]}"; then
    runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$logs/$t.log")
    echo "fuzz $t: ${runs:-?} executions in ${secs}s, no crash"
  else
    status=1
    echo "fuzz $t: FAILED; its log:" >&2
    tail -n 60 "$logs/$t.log" >&2
  fi
done
rm -rf "$logs"
exit "$status"
