#!/usr/bin/env bash
# The whole system on one machine: installs what is missing, starts NATS and PostgreSQL on
# loopback (data under .trainyard/run), builds the services, trains the demo model on generated
# document pages, then serves the API on http://127.0.0.1:8080 until ctrl-c.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
HOME_DIR="${TRAINYARD_HOME:-$ROOT/.trainyard}"

scripts/setup.sh all
scripts/services.sh start

cargo build --release --locked -p trainyard-identity -p trainyard-engine
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
echo "API: http://$TRAINYARD_HTTP__ADDR/api/v1 (OpenAPI: /api/v1/openapi.json); first login: admin"
exec "$BIN/trainyard-identity"
