#!/usr/bin/env bash
# Builds bench_pose and the converted models, installs the pinned onnxruntime-node (bench only)
# when missing, then runs bench/pose/run.py (RESULTS.md here).
# Usage: bench/pose/run.sh [--repeat N] [--video-runs N] [--lock FILE]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${POSE_BENCH_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDANCER_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j2 --target bench_pose pose_models
ort="$root/bench/pose/onnxruntime"
if [ ! -d "$ort/node_modules/onnxruntime-node" ]; then
  # The CPU runtime (libonnxruntime.so) ships inside the npm package; its install script would
  # only fetch the CUDA provider from outside the registry, so it is skipped. A failure here is
  # reported by run.py in RESULTS.md instead of stopping the other engines.
  (cd "$ort" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund) ||
    echo "bench/pose: npm ci of onnxruntime-node failed; its rows are left out" >&2
fi
exec /usr/bin/python3 "$root/bench/pose/run.py" --build "$build" "$@"
