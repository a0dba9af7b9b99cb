#!/usr/bin/env python3
"""Markdown table of PLMKit/PyTorch ratios from bench/run.sh's runs.jsonl.

Medians over rounds of tokens/s and peak RSS per (preset, mode, label), and
the PLMKit/PyTorch ratio within each round as median [min-max];
labels: plmkit (OpenBLAS core as detected), plmkit-haswell
(OPENBLAS_CORETYPE=Haswell), pytorch.
"""
import json
import statistics
import sys
from collections import defaultdict


def main(path):
    runs = defaultdict(list)
    for line in open(path):
        line = line.strip()
        if line:
            d = json.loads(line)
            runs[(d["preset"], d["mode"], d["label"])].append(d)
    keys = sorted({(p, m) for p, m, _ in runs}, key=lambda k: (k[0] != "t6_8M", k[0], k[1] != "train"))

    def med(p, m, label, field):
        xs = [d[field] for d in runs.get((p, m, label), [])]
        return statistics.median(xs) if xs else float("nan")

    def core(p, m, label):
        cs = {d.get("blas_core", "?") for d in runs.get((p, m, label), [])}
        return "/".join(sorted(cs))

    print("| preset | mode | PLMKit tok/s (%s) | PLMKit tok/s (Haswell) | PyTorch tok/s | ratio per round (%s) | ratio per round (Haswell) "
          "| PLMKit peak RSS MiB | PyTorch peak RSS MiB | RSS ratio | rounds |"
          % (core(*keys[0], "plmkit") if keys else "?", core(*keys[0], "plmkit") if keys else "?"))
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p, m in keys:
        a = med(p, m, "plmkit", "tokens_per_second")
        h = med(p, m, "plmkit-haswell", "tokens_per_second")
        t = med(p, m, "pytorch", "tokens_per_second")
        ra = med(p, m, "plmkit", "peak_rss_bytes") / 2**20
        rt = med(p, m, "pytorch", "peak_rss_bytes") / 2**20
        n = min(len(runs.get((p, m, lab), [])) for lab in ("plmkit", "plmkit-haswell", "pytorch"))

        def per_round(label):
            # Runs of one round are adjacent in the file: the k-th run of each label is round k.
            r = [x["tokens_per_second"] / y["tokens_per_second"]
                 for x, y in zip(runs.get((p, m, label), []), runs.get((p, m, "pytorch"), []))]
            return f"{statistics.median(r):.2f}x [{min(r):.2f}-{max(r):.2f}]" if r else "-"

        print(f"| {p} | {m} | {a:.0f} | {h:.0f} | {t:.0f} | {per_round('plmkit')} | {per_round('plmkit-haswell')} "
              f"| {ra:.0f} | {rt:.0f} | {ra / rt:.2f}x | {n} |")


if __name__ == "__main__":
    main(sys.argv[1])
