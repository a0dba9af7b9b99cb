#!/usr/bin/env bash
# The extra rows of bench/REPORT.md, side by side with the PyTorch reference:
#   1. t12_35M at L=1024 (B=2: the same 2,048 tokens per step as B=8, L=256)
#   2. thread scaling 1 -> 2 threads (t12_35M, B=8, L=256, train and infer)
#   3. the SeqDance recipe's step time (t12_35M, attention maps + pair head;
#      PLMKit only: SeqDance's own PyTorch code is not part of the reference)
# Output: $OUT/extras.jsonl and a markdown table on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
REF_PY=${REF_PY:-$HOME/.cache/plm-reference/bin/python}
TORCH_BENCH=${TORCH_BENCH:-/work/shared/bench/torch_esm_bench.py}
OUT=${OUT:-$here/results/extras-$(date +%Y%m%d-%H%M%S)}
if [[ -z ${PLM:-} ]]; then
    (cd "$root" && swift build -c release --product plm >&2)
    PLM=$(cd "$root" && swift build -c release --show-bin-path)/plm
fi
mkdir -p "$OUT"
j=$OUT/extras.jsonl
: > "$j"
tag() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); d["label"]=sys.argv[1]; d["case"]=sys.argv[2]; print(json.dumps(d))' "$1" "$2"; }
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt" >&2

for mode in train infer; do
    echo "L=1024 $mode" >&2
    a=(--preset t12_35M --batch 2 --length 1024 --mode $mode --steps 3 --warmup 1)
    env -u OPENBLAS_CORETYPE "$PLM" bench "${a[@]}" --threads 2 --json | tag plmkit "L1024" >> "$j"
    OPENBLAS_CORETYPE=Haswell "$PLM" bench "${a[@]}" --threads 2 --json | tag plmkit-haswell "L1024" >> "$j"
    "$REF_PY" "$TORCH_BENCH" "${a[@]}" --threads 2 | tag pytorch "L1024" >> "$j"
done
for mode in train infer; do
    for t in 1 2; do
        echo "threads $t $mode" >&2
        a=(--preset t12_35M --batch 8 --length 256 --mode $mode --steps 3 --warmup 1 --threads $t)
        env -u OPENBLAS_CORETYPE "$PLM" bench "${a[@]}" --json | tag plmkit "threads$t" >> "$j"
        "$REF_PY" "$TORCH_BENCH" "${a[@]}" | tag pytorch "threads$t" >> "$j"
    done
done
echo "seqdance recipe" >&2
run=$OUT/seqdance-run
rm -rf "$run"
env -u OPENBLAS_CORETYPE /usr/bin/time -f "%M" -o "$OUT/seqdance-rss.txt" "$PLM" train "$root/recipes/seqdance.yaml" --out "$run" --quiet \
    --set training.steps=4 --set training.log_every=1 --set training.checkpoint_every=1000 --set training.batch_size=4 \
    --set training.grad_accumulation=1 >&2
python3 - "$run" "$OUT/seqdance-rss.txt" >> "$j" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(f"{sys.argv[1]}/metrics.jsonl") if '"train"' in l]
# Steps 2..4 (the first pays for start-up); elapsed_seconds is cumulative.
e = [l["elapsed_seconds"] for l in lines]
sps = (e[-1] - e[0]) / (len(e) - 1)
print(json.dumps({"label": "plmkit", "case": "seqdance", "seconds_per_step": sps,
                  "tokens_per_second": lines[-1]["tokens_per_second"],
                  "peak_rss_bytes": int(open(sys.argv[2]).read().split()[-1]) * 1024}))
PY
python3 - "$j" <<'PY' | tee "$OUT/table.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def get(case, label, mode=None):
    r = [x for x in rows if x["case"] == case and x["label"] == label and (mode is None or x.get("mode") == mode)]
    return r[-1] if r else None
print("| case | mode | PLMKit tok/s (unpinned) | PLMKit tok/s (Haswell) | PyTorch tok/s | ratio (unpinned) | ratio (Haswell) | PLMKit RSS MiB | PyTorch RSS MiB |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for mode in ["train", "infer"]:
    a, b, c = get("L1024", "plmkit", mode), get("L1024", "plmkit-haswell", mode), get("L1024", "pytorch", mode)
    print(f"| t12_35M B=2 L=1024 | {mode} | {a['tokens_per_second']:.0f} | {b['tokens_per_second']:.0f} | {c['tokens_per_second']:.0f} | "
          f"{a['tokens_per_second']/c['tokens_per_second']:.2f}x | {b['tokens_per_second']/c['tokens_per_second']:.2f}x | "
          f"{a['peak_rss_bytes']/2**20:.0f} | {c['peak_rss_bytes']/2**20:.0f} |")
print()
print("| thread scaling t12_35M B=8 L=256 | mode | PLMKit 1 thread | PLMKit 2 threads | speed-up | PyTorch 1 thread | PyTorch 2 threads | speed-up |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for mode in ["train", "infer"]:
    p1, p2 = get("threads1", "plmkit", mode)["tokens_per_second"], get("threads2", "plmkit", mode)["tokens_per_second"]
    t1, t2 = get("threads1", "pytorch", mode)["tokens_per_second"], get("threads2", "pytorch", mode)["tokens_per_second"]
    print(f"| | {mode} | {p1:.0f} | {p2:.0f} | {p2/p1:.2f}x | {t1:.0f} | {t2:.0f} | {t2/t1:.2f}x |")
s = get("seqdance", "plmkit")
print()
print(f"SeqDance recipe (t12_35M, batch 4 per source x 2 sources, crops <= 254, attention maps + pair head): "
      f"{s['seconds_per_step']:.2f} s/step, {s['tokens_per_second']:.0f} tok/s, peak RSS {s['peak_rss_bytes']/2**20:.0f} MiB")
PY
