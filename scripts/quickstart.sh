#!/usr/bin/env bash
# The main job on bundled example data: a short masked-LM training run of a
# small ESM-2-shaped encoder on 400 real Swiss-Prot sequences
# (recipes/quickstart.yaml), then embeddings from the trained checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product plm
plm=.build/release/plm
run="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
$plm train recipes/quickstart.yaml --out "$run"
$plm embed --model "$run/checkpoint-80" --fasta examples/quickstart/sequences.fasta \
     --out "$run/embeddings.h5" --per-residue --max-tokens 8192
echo "summary: $(tr -d '\n ' < "$run/summary.json")"
