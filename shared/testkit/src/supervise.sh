#!/usr/bin/env bash
# Runs one server for a test binary and removes it, and its data, when either the owner asks
# (SIGTERM) or the test process is gone (even after a crash or SIGKILL, where no Drop runs).
# Usage: supervise.sh OWNER_PID DATA_DIR STOP_CMD -- SERVER_CMD...
set -u
owner=$1 dir=$2 stop_cmd=$3
shift 4
"$@" &
child=$!
cleanup() {
  trap - TERM INT
  if [[ -n $stop_cmd ]]; then eval "$stop_cmd" >/dev/null 2>&1; fi
  kill -TERM "$child" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$child" 2>/dev/null
  wait "$child" 2>/dev/null
  rm -rf "$dir" "$0"
  exit 0
}
trap cleanup TERM INT
while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do
  sleep 0.2 &
  wait $!
done
cleanup
