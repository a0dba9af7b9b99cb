#!/usr/bin/env python3
"""examples/tuning/disorder.csv: a protein-level label with a real biological
meaning and enough held-out rows to compare against a baseline -- is the
chain an intrinsically disordered region (IDRome, CALVADOS simulations) or a
folded PDB chain (proteinflow's PDB set)? Both come from SeqDance's held-out
set (/work/shared/data/sequences/seqdance_heldout_dataset.csv; sources
IDRome and proteinflow_pdb). Single-chain entries of 30-400 residues with
standard amino acids only; the first 200 of each source in file order; split
by the md5 of the name: 70% train, 15% valid, 15% test.

  python3 scripts/reference/downstream/make_disorder_data.py
"""
import csv, hashlib, os, sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", "..", ".."))
src = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/sequences/seqdance_heldout_dataset.csv"
rows = {"IDRome": [], "proteinflow_pdb": []}
for r in csv.DictReader(open(src)):
    s = r["sequence"]
    if r["source"] in rows and "<linker>" not in s and 30 <= len(s) <= 400 and set(s) <= set("ACDEFGHIKLMNPQRSTVWY"):
        if len(rows[r["source"]]) < 200:
            rows[r["source"]].append((r["name"], s))
out = os.path.join(root, "examples", "tuning", "disorder.csv")
with open(out, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["id", "sequence", "disorder", "split"])
    for source, label in [("IDRome", "idr"), ("proteinflow_pdb", "folded")]:
        for name, s in rows[source]:
            h = int(hashlib.md5(name.encode()).hexdigest(), 16) % 100
            w.writerow([name.replace(",", "_"), s, label, "train" if h < 70 else "valid" if h < 85 else "test"])
print(out, {k: len(v) for k, v in rows.items()})
