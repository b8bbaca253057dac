#!/usr/bin/env bash
# Starts or stops the local infrastructure (NATS with JetStream, PostgreSQL) on loopback with all
# data under $TRAINYARD_HOME/run. Idempotent: `start` leaves running servers alone.
# As root, PostgreSQL runs as `postgres` through the system binaries themselves; when that user
# cannot enter the checkout (root's home is mode 0700), its data lives in
# /var/lib/trainyard/<checkout digest>/pg instead, recorded in $TRAINYARD_HOME/run/pg.location.
# Usage: scripts/services.sh start|stop|status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${TRAINYARD_HOME:-$ROOT/.trainyard}"
RUN="$HOME_DIR/run"
BIN="$HOME_DIR/bin"
NATS_PORT="${TRAINYARD_NATS_PORT:-4222}"
PG_PORT="${TRAINYARD_PG_PORT:-5433}"
mkdir -p "$RUN"

log() { printf '[services] %s\n' "$*" >&2; }
as_pg() { if [[ $(id -u) == 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
# The system binary behind a link of $BIN (`postgres` may not be able to follow the link).
pg_tool() { readlink -f "$BIN/$1"; }
# Where PostgreSQL's data is: as recorded when it was created, else where it would be created.
pg_data() {
  if [[ -s $RUN/pg.location ]]; then cat "$RUN/pg.location"; return; fi
  if [[ $(id -u) == 0 ]] && ! runuser -u postgres -- test -x "$RUN" 2>/dev/null; then
    printf '/var/lib/trainyard/%s/pg\n' "$(printf '%s' "$RUN" | sha256sum | cut -c1-16)"
  else
    printf '%s\n' "$RUN/pg"
  fi
}

nats_running() { [[ -f $RUN/nats.pid ]] && kill -0 "$(cat "$RUN/nats.pid")" 2>/dev/null; }
pg_running() { as_pg "$(pg_tool pg_ctl)" -D "$(pg_data)" status >/dev/null 2>&1; }

start_nats() {
  if nats_running; then log "NATS already running on $NATS_PORT"; return; fi
  mkdir -p "$RUN/nats"
  "$BIN/nats-server" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$RUN/nats" \
    -l "$RUN/nats.log" -P "$RUN/nats.pid" &
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$NATS_PORT") 2>/dev/null && { log "NATS on nats://127.0.0.1:$NATS_PORT"; return; }
    sleep 0.1
  done
  log "NATS did not start; see $RUN/nats.log"; exit 1
}

start_pg() {
  if pg_running; then log "PostgreSQL already running on $PG_PORT"; return; fi
  [[ $(id -u) == 0 ]] && chmod o+x "$HOME_DIR" "$RUN"
  local data; data=$(pg_data)
  if [[ ! -f $data/PG_VERSION ]]; then
    mkdir -p "$data"
    [[ $(id -u) == 0 ]] && chown postgres:postgres "$data" && chmod 700 "$data"
    as_pg "$(pg_tool initdb)" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
    printf '%s\n' "$data" > "$RUN/pg.location"
  fi
  as_pg "$(pg_tool pg_ctl)" -D "$data" -l "$data/server.log" -w \
    -o "-p $PG_PORT -k $data -c listen_addresses=127.0.0.1" start >/dev/null
  local psql; psql=$(pg_tool psql)
  "$psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='trainyard'" | grep -q 1 \
    || "$psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE trainyard"
  log "PostgreSQL on postgres://postgres@127.0.0.1:$PG_PORT/trainyard"
}

stop_all() {
  if nats_running; then
    local pid; pid=$(cat "$RUN/nats.pid"); kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$RUN/nats.pid"; log "NATS stopped"
  fi
  if pg_running; then as_pg "$(pg_tool pg_ctl)" -D "$(pg_data)" -m fast stop >/dev/null; log "PostgreSQL stopped"; fi
}

case "${1:-}" in
  start) start_nats; start_pg ;;
  stop) stop_all ;;
  status) nats_running && log "NATS running" || log "NATS stopped"; pg_running && log "PostgreSQL running" || log "PostgreSQL stopped" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
