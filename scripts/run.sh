#!/usr/bin/env bash
# Quick start: installs what is missing, builds in Release and runs the service.
#
# With SQS/S3 configured (environment or .env: SQS_QUEUE_URL, AWS_ENDPOINT_URL*, AWS
# credentials or AWS_PROFILE) it consumes that queue until stopped (Ctrl-C).
# With nothing configured it runs the whole flow locally: it starts the S3+SQS emulator,
# creates the bucket dancer-uploads and the queue dancer-processing-queue, uploads a
# generated walking video under uploads/, sends the S3 notification, processes it and
# shows the job's row from the SQLite database.
# Arguments are passed to `dancer-analysis run` (e.g. --until-empty).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh --target dancer-analysis synthetic_walker
BIN="$PWD/build/dancer-analysis"

configured() {
  local names='^(export +)?(SQS_QUEUE_URL|AWS_ENDPOINT_URL|AWS_ENDPOINT_URL_SQS|AWS_ACCESS_KEY_ID|AWS_PROFILE|AWS_ROLE_ARN|AWS_CONTAINER_CREDENTIALS_FULL_URI|AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)=[^[:space:]]'
  env | grep -Eq "$names" && return 0
  [[ -f .env ]] && grep -Eq "$names" .env && return 0
  [[ -f "${HOME:-/nonexistent}/.aws/credentials" ]] && return 0
  return 1
}

if configured; then
  echo "run.sh: AWS configuration found; consuming the configured queue (Ctrl-C to stop)"
  exec "$BIN" run "$@"
fi

echo "run.sh: no AWS configuration found: running the whole flow against the local emulator"
source scripts/lib/emulator.sh
DEMO_DIR="$PWD/.run/demo"
rm -rf "$DEMO_DIR" && mkdir -p "$DEMO_DIR"
emulator_start "$DEMO_DIR/emulator.log"
trap emulator_stop EXIT

export AWS_ENDPOINT_URL="$EMULATOR_ENDPOINT" AWS_REGION=us-east-1 S3_FORCE_PATH_STYLE=true
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
export S3_BUCKET=dancer-uploads S3_PREFIX=uploads/ SQS_QUEUE_NAME=dancer-processing-queue
export DATABASE_URL="${DATABASE_URL:-sqlite:///./dancer_uploads.db}"
export SQS_WAIT_TIME="${SQS_WAIT_TIME:-2}" HEALTH_PORT="${HEALTH_PORT:-0}"

# Bucket and queue, as the deployment's infrastructure would create them.
curl -sf -X PUT "$EMULATOR_ENDPOINT/$S3_BUCKET" >/dev/null
curl -sf -X POST "$EMULATOR_ENDPOINT/" -H 'Content-Type: application/x-amz-json-1.0' \
  -H 'X-Amz-Target: AmazonSQS.CreateQueue' \
  -d "{\"QueueName\":\"$SQS_QUEUE_NAME\",\"Attributes\":{\"VisibilityTimeout\":\"300\"}}" >/dev/null

# A walking clip: DEMO_VIDEO when set; else the shared real side-view walk when this checkout
# sits beside the test data (the default pose-gait analyzer needs a real person); else the
# project's synthetic walker (a silhouette: pose-gait reports no_person, ANALYZER=gait
# measures it), else a test pattern.
SAMPLE="$DEMO_DIR/sample-walk.mp4"
SHARED_WALK="../shared/testdata/videos/side_sports2d_demo4_gym.mp4"
if [[ -n "${DEMO_VIDEO:-}" ]]; then
  cp "$DEMO_VIDEO" "$SAMPLE"
elif [[ -f "$SHARED_WALK" ]]; then
  cp "$SHARED_WALK" "$SAMPLE"
elif [[ -x build/synthetic_walker ]]; then
  build/synthetic_walker --output "$SAMPLE" --cadence 108 --width 960 --height 540 >/dev/null
else
  ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=30:duration=4 \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p "$SAMPLE"
fi
KEY="uploads/sample walk $(date +%s).mp4"
curl -sf -X PUT -H 'Content-Type: video/mp4' --data-binary @"$SAMPLE" \
  "$EMULATOR_ENDPOINT/$S3_BUCKET/$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$KEY")" >/dev/null
echo "run.sh: uploaded s3://$S3_BUCKET/$KEY; sending its S3 notification"
"$BIN" send-test-message "$S3_BUCKET" "$KEY"

"$BIN" run --until-empty "$@"

DB_FILE="${DATABASE_URL#sqlite:///}"
if [[ "$DATABASE_URL" == sqlite:* && -f "$DB_FILE" ]]; then
  echo
  echo "run.sh: the job as recorded in $DB_FILE:"
  sqlite3 -line "$DB_FILE" \
    "SELECT id, bucket, object_key, status, retry_count, error_message, size_bytes,
            substr(metadata_json, 1, 300) AS metadata_json, substr(results_json, 1, 600) AS results_json,
            report_location, created_at, completed_at
       FROM processing_jobs ORDER BY id DESC LIMIT 1;"
fi
