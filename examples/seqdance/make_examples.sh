#!/usr/bin/env bash
# Rebuilds examples/seqdance/seqdance_examples.h5 from the real data in
# /work/shared/data (see README.md here). Usage, from the repository root:
#
#   PLM=.build/release/plm PY=/root/.cache/plm-reference/bin/python examples/seqdance/make_examples.sh [DATA_DIR]
set -euo pipefail
DATA=${1:-/work/shared/data}
PLM=${PLM:-.build/release/plm}
PY=${PY:-python3}
OUT=examples/seqdance/seqdance_examples.h5

# 1. SeqDance's own reference outputs: 3tvj_I (MD, ATLAS excerpt) and 2G3R (NMA).
"$PY" scripts/reference/dynamics/import_reference_features.py "$OUT" "$DATA"

# 2. NMA features computed by PLMKit (SeqDance's GNM/ANM recipe) for four more structures.
for s in 1UBI:A 6MRR:A 1L2Y:A 1A8O:A; do
  name=${s%%:*} chain=${s##*:}
  "$PLM" prepare nma --structure "$DATA/structures/$name.pdb" --chain "$chain" --name "$name" \
    --out "$OUT" --compress --quiet
done

# 3. MD features computed by PLMKit from the two GROMACS trajectories (101 frames each).
for t in trpcage_1l2y ubiquitin_1ubi; do
  "$PLM" prepare md --topology "$DATA/trajectories/$t/$t.pdb" --trajectory "$DATA/trajectories/$t/$t.xtc" \
    --name "$t" --source ATLAS --out "$OUT" --compress --quiet
done
ls -l "$OUT"
