#!/usr/bin/env bash
# RUSTC_WRAPPER for fuzz builds: adds libFuzzer's coverage instrumentation to the
# project's own crates only (the proxy library and the fuzz targets), not to every
# dependency: the fuzzer steers by our branches, and the build stays short.
rustc="$1"; shift
case " $* " in
  *" --crate-name mqtt_proxy "*|*" --crate-name decode "*|*" --crate-name schema "*|*" --crate-name session "*)
    exec "$rustc" "$@" -Cpasses=sancov-module \
      -Cllvm-args=-sanitizer-coverage-level=4 \
      -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
      -Cllvm-args=-sanitizer-coverage-pc-table \
      -Cllvm-args=-sanitizer-coverage-trace-compares \
      --cfg fuzzing ;;
esac
exec "$rustc" "$@"
