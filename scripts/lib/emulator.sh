# Sourced by scripts: starts the local S3+SQS emulator (fauxqs, from tools/emulator) on a
# free loopback port and exports its endpoint. Call emulator_stop when done.
#   emulator_start [LOG_FILE]  -> sets EMULATOR_PID, EMULATOR_PORT, EMULATOR_ENDPOINT
EMULATOR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

emulator_start() {
  local log="${1:-/dev/null}"
  EMULATOR_PORT="$(free_port)"
  FAUXQS_PORT="$EMULATOR_PORT" FAUXQS_HOST=localhost FAUXQS_LOGGER=false \
    node "$EMULATOR_ROOT/tools/emulator/node_modules/fauxqs/dist/cli.js" >"$log" 2>&1 &
  EMULATOR_PID=$!
  EMULATOR_ENDPOINT="http://127.0.0.1:$EMULATOR_PORT"
  for _ in $(seq 1 100); do
    if curl -sf "$EMULATOR_ENDPOINT/health" >/dev/null 2>&1; then
      export EMULATOR_PID EMULATOR_PORT EMULATOR_ENDPOINT
      return 0
    fi
    if ! kill -0 "$EMULATOR_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "emulator: fauxqs did not start (log: $log)" >&2
  return 1
}

emulator_stop() {
  if [[ -n "${EMULATOR_PID:-}" ]]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
    unset EMULATOR_PID
  fi
}
