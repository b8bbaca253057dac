#!/usr/bin/env bash
# A checkout in a folder the `postgres` user cannot enter (root's home is mode 0700 on Debian, and
# root clones there by default) must work for both README commands. This copies the sources into
# such a folder with a `.trainyard` of its own (the set-up's links), then from there runs the test
# kit's PostgreSQL test (the binary this checkout's `cargo test` built: nothing is compiled) and
# starts and stops the services. Only as root: otherwise PostgreSQL runs as the caller.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${TRAINYARD_HOME:-$ROOT/.trainyard}"
log() { printf '[private-checkout] %s\n' "$*" >&2; }
if [[ $(id -u) != 0 ]]; then log "not root: PostgreSQL runs as the caller, nothing to check"; exit 0; fi

PRIVATE=$(mktemp -d) # mode 0700, like root's home
COPY="$PRIVATE/trainyard"
cleanup() {
  TRAINYARD_HOME="$COPY/.trainyard" "$COPY/scripts/services.sh" stop 2>/dev/null || true
  local data
  data=$(cat "$COPY/.trainyard/run/pg.location" 2>/dev/null || true)
  [[ $data == /var/lib/trainyard/*/pg ]] && rm -rf "$(dirname "$data")"
  rmdir /var/lib/trainyard 2>/dev/null || true
  rm -rf "$PRIVATE"
}
trap cleanup EXIT
chmod 700 "$PRIVATE"
runuser -u postgres -- test -x "$PRIVATE" && { log "postgres can enter $PRIVATE"; exit 1; }

mkdir "$COPY"
(cd "$ROOT" && git ls-files -z | tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$COPY"
TRAINYARD_HOME="$COPY/.trainyard" "$COPY/scripts/setup.sh" postgres
ln -s "$(readlink -f "$HOME_DIR/bin/nats-server")" "$COPY/.trainyard/bin/nats-server"

# The test kit's PostgreSQL test, run as `cargo test` would from the copy's crate folder.
# The newest build of it is the one `cargo test` just made.
binary=$(ls -t "${CARGO_TARGET_DIR:-$ROOT/target}"/debug/deps/servers-* 2>/dev/null \
  | grep -v '\.d$' | head -1 || true)
[[ -x $binary ]] || { log "test kit binary not found (run cargo test first)"; exit 1; }
(cd "$COPY/shared/testkit" && TRAINYARD_HOME="$COPY/.trainyard" "$binary" --exact \
  each_test_gets_its_own_empty_database)

# The run command's infrastructure, on ports of its own.
ports=$("$HOME_DIR/venv/bin/python" -c 'import socket
s = [socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*(x.getsockname()[1] for x in s))')
read -r nats_port pg_port <<<"$ports"
TRAINYARD_HOME="$COPY/.trainyard" TRAINYARD_NATS_PORT=$nats_port TRAINYARD_PG_PORT=$pg_port \
  "$COPY/scripts/services.sh" start
"$(readlink -f "$COPY/.trainyard/bin/psql")" -h 127.0.0.1 -p "$pg_port" -U postgres -d trainyard \
  -tAc 'SELECT 1' | grep -qx 1
TRAINYARD_HOME="$COPY/.trainyard" "$COPY/scripts/services.sh" stop
log "a checkout in a mode-0700 folder works"
