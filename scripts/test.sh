#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit and integration suites
# (against a local S3+SQS emulator and a throw-away PostgreSQL server, both started
# here on loopback), then the unit suites again under AddressSanitizer and UBSan.
#   DANCER_SKIP_SANITIZERS=1  skip the sanitizer pass (faster local runs)
#   CTEST_ARGS="-R Events"     extra ctest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# Each stage's wall time, so the suite's budget (30 minutes on 2 cores) can be kept.
stage_start=$SECONDS
stage_done() {
  echo "== $1: $((SECONDS - stage_start)) s"
  stage_start=$SECONDS
}
./scripts/install-deps.sh --with-test-extras
stage_done "dependencies"

echo "== build (Release)"
./scripts/build.sh
stage_done "build (Release)"

LOG_DIR="$ROOT/build/test-servers"
mkdir -p "$LOG_DIR"
source scripts/lib/emulator.sh
source scripts/lib/postgres.sh
cleanup() {
  emulator_stop
  postgres_stop
}
trap cleanup EXIT
emulator_start "$LOG_DIR/emulator.log"
postgres_start
export DANCER_REQUIRE_INTEGRATION=1
export DANCER_TEST_AWS_ENDPOINT="$EMULATOR_ENDPOINT"
echo "== local servers: S3+SQS emulator $EMULATOR_ENDPOINT, PostgreSQL $DANCER_TEST_POSTGRES_URL"

echo "== unit and integration tests"
status=0
ctest --test-dir build --output-on-failure -j2 --timeout 600 ${CTEST_ARGS:-} || status=1
stage_done "unit and integration tests"

if [[ "${DANCER_SKIP_SANITIZERS:-0}" != 1 ]]; then
  echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDANCER_SANITIZE=ON -DDANCER_BUILD_BENCH=OFF >/dev/null
  # Every target but the integration test executables, which this pass does not run.
  mapfile -t asan_targets < <(cmake --build build-asan --target help | sed -n 's/^\.\.\. \([^ ]*\).*/\1/p' |
    grep -vE '^(all|clean|depend|edit_cache|rebuild_cache|test|install.*|list_install_components)$|_integration_tests$|\.(o|i|s)$')
  # A generator without a help target lists nothing: then everything is built.
  ((${#asan_targets[@]})) || asan_targets=(all)
  cmake --build build-asan -j"$(nproc)" --target "${asan_targets[@]}"
  stage_done "build (sanitizers)"
  # A small quarantine keeps freed memory reusable, so the constant-memory tests still
  # measure what the code keeps (ASan's default 256 MiB quarantine alone would fail them).
  # The tests that run BlazePose over a whole real clip a second or third time (the labelled
  # development set, the recording checks on degraded copies, the gym clip's two passes, the
  # front view's labels) run in the Release pass only: under ASan they cost ten minutes and
  # reach no code that the shorter real-clip tests (kevin1, the front view through the
  # analyzer) do not already run here.
  ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=8 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan -L unit -E "^(GaitDevSet|RecordingQuality|FrontClip)\.|GymClip" \
    --output-on-failure -j2 --timeout 600 ${CTEST_ARGS:-} || status=1
  stage_done "unit tests under sanitizers"
fi

if [[ $status -ne 0 ]]; then
  echo "== FAILED"
fi
exit $status
