#!/usr/bin/env bash
# The main job on bundled example data. Until the trainer lands (issue 5) it
# builds the release CLI and shows the runtime it will train with.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product plm
.build/release/plm --version
.build/release/plm info
.build/release/plm plugins
