#!/usr/bin/env bash
# `plm embed` vs HuggingFace transformers on 1,000 real sequences of mixed
# length (bench/embed-1000.fasta: the first 1,000 single chains <= 1,022
# residues of SeqDance's held-out set, 30-959 residues, median 129). Both load
# the same random-init ESM-2 directory, sort by length and batch under the
# same token budget; both store/compute the mean of the last layer. Runs are
# interleaved (plm unpinned, plm with OPENBLAS_CORETYPE=Haswell, PyTorch).
#
#   bench/embed.sh                     # t6_8M and t12_35M, 3 rounds
#   PRESETS=t12_35M ROUNDS=1 bench/embed.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PRESETS=${PRESETS:-"t6_8M t12_35M"}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
MAX_TOKENS=${MAX_TOKENS:-8192}
FASTA=${FASTA:-$here/embed-1000.fasta}
REF_PY=${REF_PY:-$HOME/.cache/plm-reference/bin/python}
OUT=${OUT:-$here/results/embed-$(date +%Y%m%d-%H%M%S)}
if [[ -z ${PLM:-} ]]; then
    (cd "$root" && swift build -c release --product plm >&2)
    PLM=$(cd "$root" && swift build -c release --show-bin-path)/plm
fi
mkdir -p "$OUT"
runs=$OUT/runs.jsonl
: > "$runs"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt" >&2

plm_run() {  # label env...
    local label=$1 preset=$2; shift 2
    local h5=$OUT/$preset-$label.h5
    rm -f "$h5"
    local t0 t1 rss
    t0=$(date +%s.%N)
    env "$@" /usr/bin/time -f "%M" -o "$OUT/time.txt" "$PLM" embed --model "$OUT/model-$preset" --fasta "$FASTA" --out "$h5" \
        --max-tokens "$MAX_TOKENS" --threads "$THREADS" --quiet
    t1=$(date +%s.%N)
    rss=$(tail -1 "$OUT/time.txt")
    python3 - "$label" "$preset" "$t0" "$t1" "$rss" "$FASTA" >> "$runs" <<'PY'
import json, sys
label, preset, t0, t1, rss, fasta = sys.argv[1:]
seqs = [l.strip() for l in open(fasta) if l.strip() and not l.startswith(">")]
res = sum(map(len, seqs)); secs = float(t1) - float(t0)
print(json.dumps({"label": label, "preset": preset, "sequences": len(seqs), "residues": res, "seconds": secs,
                  "sequences_per_second": len(seqs) / secs, "tokens_per_second": (res + 2 * len(seqs)) / secs,
                  "peak_rss_bytes": int(rss) * 1024}))
PY
}

for preset in $PRESETS; do
    [[ -d $OUT/model-$preset ]] || "$REF_PY" "$here/torch_embed_bench.py" --save-random "$preset" "$OUT/model-$preset"
done
for round in $(seq 1 "$ROUNDS"); do
    for preset in $PRESETS; do
        echo "round $round: $preset (load $(cut -d' ' -f1 /proc/loadavg))" >&2
        plm_run plmkit "$preset" -u OPENBLAS_CORETYPE
        plm_run plmkit-haswell "$preset" OPENBLAS_CORETYPE=Haswell
        "$REF_PY" "$here/torch_embed_bench.py" --model "$OUT/model-$preset" --fasta "$FASTA" --max-tokens "$MAX_TOKENS" \
            --threads "$THREADS" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); d["label"]="pytorch"; d["preset"]=sys.argv[1]; print(json.dumps(d))' "$preset" >> "$runs"
    done
done
# Cross-check: plm's means equal transformers' (sum of squared norms of every record's mean).
"$REF_PY" -c "import h5py" 2>/dev/null || "$REF_PY" -m pip install -q h5py
"$REF_PY" - "$OUT" $PRESETS <<'PY'
import json, sys, h5py
out, presets = sys.argv[1], sys.argv[2:]
runs = [json.loads(l) for l in open(f"{out}/runs.jsonl")]
for p in presets:
    with h5py.File(f"{out}/{p}-plmkit.h5") as f:
        s = sum(float((f[k]["mean"][()].astype("float64") ** 2).sum()) for k in f.keys())
    ref = [r["checksum"] for r in runs if r["label"] == "pytorch" and r["preset"] == p][-1]
    print(f"{p}: checksum plm {s:.6f} transformers {ref:.6f} (rel diff {abs(s - ref) / max(abs(ref), 1e-9):.2e})")
PY
python3 - "$runs" <<'PY' | tee "$OUT/table.md"
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print("| preset | PLMKit tok/s (unpinned) | PLMKit tok/s (Haswell) | PyTorch tok/s | ratio (unpinned) | ratio (Haswell) | PLMKit peak RSS MiB | PyTorch peak RSS MiB | rounds |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for p in dict.fromkeys(r["preset"] for r in runs):
    med = lambda lab, k: statistics.median(r[k] for r in runs if r["preset"] == p and r["label"] == lab)
    a, b, c = med("plmkit", "tokens_per_second"), med("plmkit-haswell", "tokens_per_second"), med("pytorch", "tokens_per_second")
    n = sum(1 for r in runs if r["preset"] == p and r["label"] == "pytorch")
    print(f"| {p} | {a:.0f} | {b:.0f} | {c:.0f} | {a / c:.2f}x | {b / c:.2f}x | {med('plmkit', 'peak_rss_bytes') / 2**20:.0f} | {med('pytorch', 'peak_rss_bytes') / 2**20:.0f} | {n} |")
PY
