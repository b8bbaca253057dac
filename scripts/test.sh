#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing (scripts/setup.sh), then
# checks formatting and lints and runs every test. Tests start their own NATS and PostgreSQL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh all

# One OpenMP thread: with more, any other load on a small machine makes libtorch spin (see docs).
export OMP_NUM_THREADS=1
export RUST_BACKTRACE=1
# A full run from scratch gains nothing from incremental state, which would take gigabytes of disk.
export CARGO_INCREMENTAL=0

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast
# A checkout that the `postgres` user cannot enter (root's home): one PostgreSQL test and the
# services, from a copy in a mode-0700 folder, reusing the binaries just built.
scripts/test_private_checkout.sh
