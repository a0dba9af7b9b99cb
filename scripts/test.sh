#!/usr/bin/env bash
# Installs missing system packages, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --build-tests
# OpenBLAS starts with one thread: tests run concurrently in one process, and
# the first engine use sets OpenBLAS's process-wide thread count to 1
# (Threads.configure); changing it while another test's threaded LAPACK call
# (NMA's dsyevd) runs gave that call wrong eigenvectors under load. Starting
# at 1 means the count never changes inside the test process (plm child
# processes set their own counts explicitly).
export OPENBLAS_NUM_THREADS=1
swift test --skip-build "$@"
