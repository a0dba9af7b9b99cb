#!/usr/bin/env bash
# Data-parallel scaling on one machine (bench/SCALING.md):
#   1 process × 1 thread, batch B          (one rank's share)
#   1 process × 2 threads, batch 2B        (the same global batch, threads)
#   mpirun -np 2 × 1 thread, batch B/rank  (shared-memory transport)
#   mpirun -np 2 × 1 thread, batch B/rank, --mca btl tcp,self (TCP loopback)
# on bench/mpi-scaling.yaml (t6_8M) and recipes/quickstart.yaml (a 0.1 M-parameter
# model: a small all-reduce message). Steady-state numbers skip the first 2 steps.
#
#   bench/mpi_scaling.sh            # PLM=path/to/plm ROUNDS=2 STEPS=8 BATCH=8
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/.." && pwd)
if [[ -z ${PLM:-} ]]; then
    (cd "$root" && swift build -c release --product plm >&2)
    PLM=$(cd "$root" && swift build -c release --show-bin-path)/plm
fi
ROUNDS=${ROUNDS:-2}; STEPS=${STEPS:-8}; BATCH=${BATCH:-8}
OUT=${OUT:-$here/results/mpi-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np 2 -x PLM_NUM_THREADS=1)
run() {  # name recipe launcher... -- plm args
    local name=$1 recipe=$2; shift 2
    local dir; dir=$(mktemp -d)/run
    "$@" "$PLM" train "$recipe" --set training.steps="$STEPS" --set training.log_every=1 \
        --set training.eval_every=100000 --set training.checkpoint_every=100000 \
        ${EXTRA_SETS:-} --out "$dir" --quiet >/dev/null 2>"$OUT/${name//\//_}.err" || { cat "$OUT/${name//\//_}.err" >&2; exit 1; }
    python3 - "$name" "$dir" >> "$OUT/runs.jsonl" <<'PY'
import json, sys
name, d = sys.argv[1], sys.argv[2]
lines = [json.loads(l) for l in open(d + "/metrics.jsonl") if '"train"' in l]
s = json.load(open(d + "/summary.json"))
a, b = lines[1], lines[-1]   # steady state: after step 2
tok = b["tokens_per_second"] * b["elapsed_seconds"] - a["tokens_per_second"] * a["elapsed_seconds"]
sec = b["elapsed_seconds"] - a["elapsed_seconds"]
print(json.dumps({"name": name, "steps": s["steps"], "tokens_per_second": tok / sec, "seconds_per_step": sec / (len(lines) - 2),
                  "allreduce_seconds_per_step": s.get("allreduce_seconds_per_step"),
                  "rank_wait_seconds_per_step": s.get("rank_wait_seconds_per_step"), "trainable_parameters": s["trainable_parameters"]}))
PY
    rm -rf "$(dirname "$dir")"
}
for r in $(seq "$ROUNDS"); do
  for recipe in "$here/mpi-scaling.yaml" "$root/recipes/quickstart.yaml"; do
    tag=$(basename "$recipe" .yaml)
    PLM_NUM_THREADS=1 EXTRA_SETS="--set training.batch_size=$BATCH" run "$tag/1proc-1thr-b$BATCH" "$recipe" env
    PLM_NUM_THREADS=2 EXTRA_SETS="--set training.batch_size=$((2 * BATCH))" run "$tag/1proc-2thr-b$((2 * BATCH))" "$recipe" env
    EXTRA_SETS="--set training.batch_size=$BATCH" run "$tag/2ranks-1thr-b$BATCH-shm" "$recipe" "${MPIRUN[@]}"
    EXTRA_SETS="--set training.batch_size=$BATCH" run "$tag/2ranks-1thr-b$BATCH-tcp" "$recipe" "${MPIRUN[@]}" --mca btl tcp,self
  done
done
python3 - "$OUT/runs.jsonl" <<'PY'
import json, sys, statistics as st
rows = {}
for l in open(sys.argv[1]):
    o = json.loads(l); rows.setdefault(o["name"], []).append(o)
print("| run | params | tokens/s | s/step | all-reduce / step | wait for slowest rank / step |\n|---|---|---|---|---|---|")
for k, v in rows.items():
    ar = [x["allreduce_seconds_per_step"] for x in v if x["allreduce_seconds_per_step"] is not None]
    wt = [x["rank_wait_seconds_per_step"] for x in v if x.get("rank_wait_seconds_per_step") is not None]
    print(f"| {k} | {v[0]['trainable_parameters']:,} | {st.median(x['tokens_per_second'] for x in v):.0f} | "
          f"{st.median(x['seconds_per_step'] for x in v):.3f} | {(f'{st.median(ar)*1000:.1f} ms' if ar else '-')} | "
          f"{(f'{st.median(wt)*1000:.1f} ms' if wt else '-')} |")
PY
echo "raw: $OUT/runs.jsonl" >&2
