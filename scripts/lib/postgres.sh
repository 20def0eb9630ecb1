# Sourced by scripts: a throw-away PostgreSQL cluster for the integration tests, built with
# Debian's server binaries in a temp dir, listening on 127.0.0.1 only (trust auth, fsync off).
#   postgres_start [LOG_FILE] -> exports DANCER_TEST_POSTGRES_URL, POSTGRES_DATA_DIR,
#                                POSTGRES_PORT and DANCER_TEST_POSTGRES_RESTART (a command
#                                string that restarts the server: used by fault tests)
#   postgres_stop             -> stops the server and removes the temp dir
# Both are idempotent.

_postgres_bin_dir() {
  # Debian installs each major version under /usr/lib/postgresql/<major>/bin; take the newest.
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [[ -z "$dir" || ! -x "$dir/initdb" ]]; then
    echo "postgres: no server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
    return 1
  fi
  printf '%s\n' "$dir"
}

_postgres_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# initdb and the postmaster refuse to run as root: run them as the postgres system user then.
_postgres_as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

postgres_start() {
  local log="${1:-}"
  if [[ -n "${POSTGRES_DATA_DIR:-}" && -f "${POSTGRES_DATA_DIR}/data/postmaster.pid" ]]; then
    return 0  # already running in this shell
  fi
  local bin
  bin="$(_postgres_bin_dir)" || return 1
  POSTGRES_DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/dancer-postgres.XXXXXX")" || return 1
  mkdir -p "$POSTGRES_DATA_DIR/data" "$POSTGRES_DATA_DIR/socket"
  [[ -n "$log" ]] || log="$POSTGRES_DATA_DIR/server.log"
  if [[ "$(id -u)" == 0 ]]; then
    chown -R postgres: "$POSTGRES_DATA_DIR"
    touch "$log" && chown postgres: "$log"
  fi
  if ! _postgres_as_owner "$bin/initdb" -D "$POSTGRES_DATA_DIR/data" -U postgres -A trust \
      -E UTF8 --locale=C --no-sync >"$POSTGRES_DATA_DIR/initdb.log" 2>&1; then
    echo "postgres: initdb failed (log: $POSTGRES_DATA_DIR/initdb.log)" >&2
    return 1
  fi
  POSTGRES_PORT="$(_postgres_free_port)"
  # A private socket dir keeps us off /var/run/postgresql (may not exist, may be another server).
  local opts="-c listen_addresses=127.0.0.1 -p $POSTGRES_PORT -k $POSTGRES_DATA_DIR/socket"
  opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  if ! _postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_DATA_DIR/data" -l "$log" -w -t 30 \
      -o "$opts" start >/dev/null; then
    echo "postgres: server did not start (log: $log)" >&2
    return 1
  fi
  local as_owner=""
  [[ "$(id -u)" == 0 ]] && as_owner="runuser -u postgres -- "
  # pg_ctl restart reuses the options recorded in postmaster.opts; -m fast disconnects clients.
  DANCER_TEST_POSTGRES_RESTART="${as_owner}$bin/pg_ctl -D $POSTGRES_DATA_DIR/data -l $log -w -t 30 -m fast restart >/dev/null"
  DANCER_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$POSTGRES_PORT/postgres"
  export POSTGRES_DATA_DIR POSTGRES_PORT DANCER_TEST_POSTGRES_URL DANCER_TEST_POSTGRES_RESTART
}

postgres_stop() {
  if [[ -z "${POSTGRES_DATA_DIR:-}" ]]; then
    return 0
  fi
  local bin
  if bin="$(_postgres_bin_dir)" && [[ -f "$POSTGRES_DATA_DIR/data/postmaster.pid" ]]; then
    _postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_DATA_DIR/data" -w -t 30 -m immediate stop \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$POSTGRES_DATA_DIR"
  unset POSTGRES_DATA_DIR POSTGRES_PORT DANCER_TEST_POSTGRES_URL DANCER_TEST_POSTGRES_RESTART
}
