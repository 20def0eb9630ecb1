#!/usr/bin/env bash
# Configures and builds into build/ (Release). Extra arguments go to cmake --build
# (e.g. --target dancer-analysis).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-$(nproc)}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS" "$@"
