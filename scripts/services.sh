#!/usr/bin/env bash
# Starts or stops the local infrastructure (NATS with JetStream, PostgreSQL) on loopback with all
# data under $TRAINYARD_HOME/run. Idempotent: `start` leaves running servers alone.
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
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

nats_running() { [[ -f $RUN/nats.pid ]] && kill -0 "$(cat "$RUN/nats.pid")" 2>/dev/null; }
pg_running() { as_pg "$BIN/pg_ctl" -D "$RUN/pg" status >/dev/null 2>&1; }

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
  if [[ ! -f $RUN/pg/PG_VERSION ]]; then
    mkdir -p "$RUN/pg"
    [[ $(id -u) == 0 ]] && chown -R postgres:postgres "$RUN/pg" && chmod o+x "$HOME_DIR" "$RUN"
    as_pg "$BIN/initdb" -D "$RUN/pg" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  as_pg "$BIN/pg_ctl" -D "$RUN/pg" -l "$RUN/pg/server.log" -w \
    -o "-p $PG_PORT -k $RUN/pg -c listen_addresses=127.0.0.1" start >/dev/null
  as_pg "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='trainyard'" | grep -q 1 \
    || as_pg "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE trainyard"
  log "PostgreSQL on postgres://postgres@127.0.0.1:$PG_PORT/trainyard"
}

stop_all() {
  if nats_running; then
    local pid; pid=$(cat "$RUN/nats.pid"); kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$RUN/nats.pid"; log "NATS stopped"
  fi
  if pg_running; then as_pg "$BIN/pg_ctl" -D "$RUN/pg" -m fast stop >/dev/null; log "PostgreSQL stopped"; fi
}

case "${1:-}" in
  start) start_nats; start_pg ;;
  stop) stop_all ;;
  status) nats_running && log "NATS running" || log "NATS stopped"; pg_running && log "PostgreSQL running" || log "PostgreSQL stopped" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
