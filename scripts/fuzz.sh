#!/usr/bin/env bash
# Runs the codec fuzz target for a given time (default 600 s) on the stable toolchain.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET]
# Seeds the corpus with the captured real-client frames. Crashes land in
# fuzz/artifacts/TARGET/; turn each into a named regression test in tests/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
target="${2:-decode}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
corpus="fuzz/corpus/$target"
mkdir -p "$corpus"
# Seed: each captured connection's client and server byte streams.
python3 - "$corpus" tests/data/captures/*.txt <<'PY'
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
cd fuzz
exec cargo fuzz run -s none "$target" -- -max_total_time="$secs" -print_final_stats=1
