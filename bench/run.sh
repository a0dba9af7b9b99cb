#!/usr/bin/env bash
# Reproduces the table in bench/REPORT.md: `plm bench` against the PyTorch +
# HuggingFace reference (torch_esm_bench.py) on the same workload, side by
# side in one session, runs interleaved (ours, ours with OPENBLAS_CORETYPE=
# Haswell, PyTorch) so that load from other processes hits all three alike.
#
#   bench/run.sh                      # t6_8M and t12_35M, train and infer, B=8 L=256, 3 rounds
#   ROUNDS=5 PRESETS="t12_35M" MODES=train bench/run.sh
#
# Environment:
#   PLM         plm binary (default: build `swift build -c release --product plm` and use it)
#   REF_PY      python of the reference env (default: $HOME/.cache/plm-reference/bin/python,
#               made by /work/shared/bench/setup_reference.sh)
#   TORCH_BENCH reference script (default: /work/shared/bench/torch_esm_bench.py)
#   PRESETS MODES BATCH LENGTH STEPS WARMUP THREADS ROUNDS
#   OUT         results directory (default: bench/results/<date>)
#
# Each run is its own process (peak RSS is per process). The table reports
# medians over ROUNDS; every raw JSON line is kept in $OUT/runs.jsonl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PRESETS=${PRESETS:-"t6_8M t12_35M"}
MODES=${MODES:-"train infer"}
BATCH=${BATCH:-8}
LENGTH=${LENGTH:-256}
STEPS=${STEPS:-5}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
REF_PY=${REF_PY:-$HOME/.cache/plm-reference/bin/python}
TORCH_BENCH=${TORCH_BENCH:-/work/shared/bench/torch_esm_bench.py}
OUT=${OUT:-$here/results/$(date +%Y%m%d-%H%M%S)}

if [[ -z ${PLM:-} ]]; then
    (cd "$root" && swift build -c release --product plm >&2)
    PLM=$(cd "$root" && swift build -c release --show-bin-path)/plm
fi
[[ -x $PLM ]] || { echo "error: plm binary '$PLM' not found" >&2; exit 1; }
[[ -x $REF_PY ]] || { echo "error: reference python '$REF_PY' missing (run /work/shared/bench/setup_reference.sh)" >&2; exit 1; }
[[ -f $TORCH_BENCH ]] || { echo "error: reference script '$TORCH_BENCH' missing" >&2; exit 1; }
mkdir -p "$OUT"
runs=$OUT/runs.jsonl
: > "$runs"

{
    echo "date: $(date -Is)"
    echo "host: $(uname -srm)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "cores: $(nproc)"
    echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx2|avx512f|fma' | sort -u | tr '\n' ' ')"
    echo "OPENBLAS_CORETYPE (shell): ${OPENBLAS_CORETYPE:-unset}"
    echo "plm: $("$PLM" --version)"
    env -u OPENBLAS_CORETYPE "$PLM" info | sed 's/^/plm info (unset): /'
    OPENBLAS_CORETYPE=Haswell "$PLM" info | grep core | sed 's/^/plm info (Haswell): /'
    echo "torch: $("$REF_PY" -c 'import torch, transformers; print(torch.__version__, "transformers", transformers.__version__, "MKL" if torch.backends.mkl.is_available() else "no MKL")')"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt" >&2

tag() {  # tag JSON line with the implementation label
    python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); d["label"]=sys.argv[1]; print(json.dumps(d))' "$1"
}

for round in $(seq 1 "$ROUNDS"); do
    for preset in $PRESETS; do
        for mode in $MODES; do
            echo "round $round: $preset $mode (load $(cut -d' ' -f1 /proc/loadavg))" >&2
            env -u OPENBLAS_CORETYPE "$PLM" bench --preset "$preset" --batch "$BATCH" --length "$LENGTH" --mode "$mode" \
                --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" --json | tag plmkit >> "$runs"
            OPENBLAS_CORETYPE=Haswell "$PLM" bench --preset "$preset" --batch "$BATCH" --length "$LENGTH" --mode "$mode" \
                --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" --json | tag plmkit-haswell >> "$runs"
            "$REF_PY" "$TORCH_BENCH" --preset "$preset" --batch "$BATCH" --length "$LENGTH" --mode "$mode" \
                --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" | tag pytorch >> "$runs"
        done
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt" >&2

python3 "$here/table.py" "$runs" | tee "$OUT/table.md"
