#!/usr/bin/env bash
# Builds the gait benchmarks (Release) and runs them.
#   silhouette-gait: the accuracy grid over synthetic walkers (table written to
#     bench/gait/RESULTS.md) and decode-only vs analysis throughput (gait_speed).
#   pose-gait: pose_gait_speed (pose-gait beside decoding alone and silhouette-gait on a 10 s
#     1080p30 real walk) and pose_gait_accuracy (every shared clip; kevin1 against its hand
#     labels), both written to bench/gait/POSE_RESULTS.md. They read the shared test videos
#     in ../shared/testdata beside the checkout.
# Usage: bench/gait/run.sh [--quick] [--silhouette | --pose]   (default: both)
# Environment: GAIT_BENCH_BUILD_DIR (default build-bench), DANCER_BUILD_LOCK (a file: the build
# runs under flock on it), GAIT_BENCH_MAX_LOAD (default 1.5: the speed runs wait, up to 10
# minutes, for the 1-minute load average to drop below it; timings on a busy machine say
# little).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${GAIT_BENCH_BUILD_DIR:-$root/build-bench}"
silhouette=1 pose=1 quick=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick) ;;
    --silhouette) pose=0 ;;
    --pose) silhouette=0 ;;
    *) echo "usage: $0 [--quick] [--silhouette | --pose]" >&2; exit 2 ;;
  esac
done
targets=()
((silhouette)) && targets+=(gait_accuracy gait_speed)
((pose)) && targets+=(pose_gait_speed pose_gait_accuracy)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
${DANCER_BUILD_LOCK:+flock "$DANCER_BUILD_LOCK"} cmake --build "$build" -j2 --target "${targets[@]}"

# Waits (polling every 30 s, at most 10 minutes) for the 1-minute load average to fall below
# GAIT_BENCH_MAX_LOAD, then goes on either way; the speed programs print the load they saw.
wait_for_quiet() {
  local limit="${GAIT_BENCH_MAX_LOAD:-1.5}" waited=0 load
  while :; do
    read -r load _ </proc/loadavg
    if awk -v l="$load" -v m="$limit" 'BEGIN { exit !(l < m) }'; then
      echo "load average $load < $limit after ${waited} s: measuring" >&2
      return
    fi
    if ((waited >= 600)); then
      echo "load average still $load >= $limit after ${waited} s: measuring anyway" >&2
      return
    fi
    echo "load average $load >= $limit: waiting (${waited} s so far)" >&2
    sleep 30
    waited=$((waited + 30))
  done
}

status=0
if ((silhouette)); then
  wait_for_quiet
  "$build/bench/gait/gait_speed" 2> >(grep -v swscaler >&2) | tee "$build/gait_speed.txt"
  "$build/bench/gait/gait_accuracy" "${quick[@]}" --markdown "$root/bench/gait/RESULTS.md" ||
    status=$?
  { echo; echo '## Speed (same run)'; echo; echo '```'; cat "$build/gait_speed.txt"; echo '```'; } \
    >>"$root/bench/gait/RESULTS.md"
fi
if ((pose)); then
  wait_for_quiet
  "$build/bench/gait/pose_gait_speed" 2> >(grep -v swscaler >&2) | tee "$build/pose_gait_speed.txt"
  "$build/bench/gait/pose_gait_accuracy" --markdown "$root/bench/gait/POSE_RESULTS.md" \
    2> >(grep -v swscaler >&2)
  { echo; echo '## Speed (same run, `pose_gait_speed`)'; echo; cat "$build/pose_gait_speed.txt"; } \
    >>"$root/bench/gait/POSE_RESULTS.md"
fi
exit $status
