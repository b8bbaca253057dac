#!/usr/bin/env bash
# Creates .trainyard/bench-venv with PyTorch 2.11.0 for the training-engine benchmark
# (shared/engine/benches/train_throughput.rs). The PyPI wheel is CUDA-flavoured and imports
# only with its nvidia-* dependency wheels, several GB in all, hence a venv of its own.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${TRAINYARD_HOME:-$ROOT/.trainyard}"
VENV="$HOME_DIR/bench-venv"
TORCH_VERSION=2.11.0

if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
if "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "[bench] torch $TORCH_VERSION already in $VENV" >&2
  exit 0
fi
# Reuse the wheel scripts/setup.sh already downloaded for libtorch, when it is there.
wheel=$(ls "$HOME_DIR"/wheels/torch-$TORCH_VERSION-*.whl 2>/dev/null | head -1 || true)
"$VENV/bin/python" -m pip install -q --no-cache-dir --disable-pip-version-check "${wheel:-torch==$TORCH_VERSION}" numpy==2.3.5
"$VENV/bin/python" -c "import torch; print('[bench] torch', torch.__version__, 'threads', torch.get_num_threads())" >&2
