#!/usr/bin/env bash
# Builds bench_pose and the converted models, then runs bench/pose/run.py (RESULTS.md here).
# Usage: bench/pose/run.sh [--repeat N]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${POSE_BENCH_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDANCER_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j2 --target bench_pose pose_models
exec /usr/bin/python3 "$root/bench/pose/run.py" --build "$build" "$@"
