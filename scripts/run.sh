#!/usr/bin/env bash
# The whole system on one machine: installs what is missing, starts NATS and PostgreSQL on
# loopback (data under .trainyard/run), builds the services, trains the demo model on generated
# document pages, serves every service in one process on http://127.0.0.1:8080, and seeds a demo
# project (the pages as a validated dataset, a training template on it) through the API; runs
# until ctrl-c.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
HOME_DIR="${TRAINYARD_HOME:-$ROOT/.trainyard}"

scripts/setup.sh all
scripts/services.sh start

cargo build --release --locked -p trainyard -p trainyard-engine
BIN="$ROOT/target/release"

# Demo training: synthetic document pages, the base model, verified ONNX export.
DEMO="$HOME_DIR/demo"
if [[ ! -f $DEMO/model.onnx ]]; then
  "$BIN/trainyard-demo-data" --out "$DEMO/pages.zip" --per-class 200 --size 64
  "$BIN/trainyard-train" --data "$DEMO/pages.zip" --model base \
    --augment rotations_exposure_noise --iterations 300 --batch 32 --lr 0.005 \
    --threads "$(nproc)" --out "$DEMO"
fi
echo "demo model: $DEMO/model.onnx (curves: $DEMO/curves.png, metrics: $DEMO/metrics.jsonl)"

export TRAINYARD_NATS__URL="nats://127.0.0.1:${TRAINYARD_NATS_PORT:-4222}"
export TRAINYARD_POSTGRES__URL="postgres://postgres@127.0.0.1:${TRAINYARD_PG_PORT:-5433}/trainyard"
export TRAINYARD_HTTP__ADDR="${TRAINYARD_HTTP__ADDR:-127.0.0.1:8080}"
export TRAINYARD_DATASETS__WORK_DIR="${TRAINYARD_DATASETS__WORK_DIR:-$HOME_DIR/run/work}"
mkdir -p "$TRAINYARD_DATASETS__WORK_DIR"

# The first administrator's password: chosen by the caller, or generated once and kept (0600)
# beside the data, so the demo can be seeded and the operator can log in.
SECRET="$HOME_DIR/run/admin-password"
if [[ -z ${TRAINYARD_BOOTSTRAP__ADMIN_PASSWORD:-} ]]; then
  if [[ ! -s $SECRET ]]; then
    (umask 077; printf 'Ty-%s-9a#\n' "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')" > "$SECRET")
  fi
  TRAINYARD_BOOTSTRAP__ADMIN_PASSWORD=$(cat "$SECRET")
  export TRAINYARD_BOOTSTRAP__ADMIN_PASSWORD
fi

"$BIN/trainyard" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER' INT TERM
BASE="http://$TRAINYARD_HTTP__ADDR"
for _ in $(seq 1 300); do
  curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { echo "trainyard exited during start-up" >&2; exit 1; }
  sleep 0.2
done
"$HOME_DIR/venv/bin/python" scripts/demo_seed.py "$BASE" admin "$TRAINYARD_BOOTSTRAP__ADMIN_PASSWORD" "$DEMO/pages.zip" \
  || echo "demo project not seeded (an installation created with another administrator password?)" >&2
echo "API: $BASE/api/v1 (OpenAPI: /api/v1/openapi.json); log in as admin, password in ${SECRET#$ROOT/} unless you set one"
wait $SERVER
