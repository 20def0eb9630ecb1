#!/usr/bin/env bash
# Builds the gait benchmarks (Release) and runs them: the accuracy grid over synthetic walkers
# (table written to bench/gait/RESULTS.md) and decode-only vs analysis throughput.
# Usage: bench/gait/run.sh [--quick]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${GAIT_BENCH_BUILD_DIR:-$root/build-bench}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target gait_accuracy gait_speed
status=0
"$build/bench/gait/gait_speed" 2> >(grep -v swscaler >&2) | tee "$build/gait_speed.txt"
"$build/bench/gait/gait_accuracy" "$@" --markdown "$root/bench/gait/RESULTS.md" || status=$?
{ echo; echo '## Speed (same run)'; echo; echo '```'; cat "$build/gait_speed.txt"; echo '```'; } \
  >>"$root/bench/gait/RESULTS.md"
exit $status
