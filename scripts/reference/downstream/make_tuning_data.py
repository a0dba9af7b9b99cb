#!/usr/bin/env python3
"""Builds examples/tuning/ss3.csv: per-residue 3-class secondary structure
(and protein-level labels) from the real PDB structures in
/work/shared/data/structures.

Run with Debian's python (python3-mdtraj 1.9.7):
    /usr/bin/python3 scripts/reference/downstream/make_tuning_data.py \
        [--structures /work/shared/data/structures] [--out examples/tuning/ss3.csv]

Per chain (protein residues of model 1 only):
  * ss3: DSSP (mdtraj.compute_dssp, simplified=False) reduced to three classes:
    H, G, I -> H; E, B -> E; everything else (T, S, blank) -> C.
  * sequence: one-letter codes (mdtraj's residue.code; MSE -> M; unknown -> X).
  * fold_class: protein-level label from the SS fractions h (H) and e (E):
    alpha if e < 0.15 and h >= 0.2; beta if h < 0.15 and e >= 0.2; else mixed.
  * helix_fraction: h (a regression label), strand_fraction: e.
  * split: train / valid / test by PDB entry (entries ordered by the md5 of
    their id, 70/15/15), so chains of one entry never straddle splits.
Identical chain sequences are kept once (first seen). Files mdtraj refuses
(models with differing atom counts: 1LCD, 2AXD) and mmCIF duplicates of a
.pdb are skipped and listed on stderr.
"""
import argparse
import csv
import hashlib
import os
import sys

import mdtraj as md
import numpy as np

REDUCE = {"H": "H", "G": "H", "I": "H", "E": "E", "B": "E"}
PARENT = {"MSE": "M", "SEP": "S", "TPO": "T", "PTR": "Y", "HYP": "P", "CSO": "C"}


def assign_splits(entries):
    """Entries ordered by the md5 of their id; the first 70% train, next 15% valid, rest test."""
    order = sorted(set(entries), key=lambda e: hashlib.md5(e.upper().encode()).hexdigest())
    n = len(order)
    return {e: ("train" if i < round(0.70 * n) else ("valid" if i < round(0.85 * n) else "test")) for i, e in enumerate(order)}


def fold_class(h, e):
    if e < 0.15 and h >= 0.2:
        return "alpha"
    if h < 0.15 and e >= 0.2:
        return "beta"
    return "mixed"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--structures", default="/work/shared/data/structures")
    ap.add_argument("--out", default="examples/tuning/ss3.csv")
    args = ap.parse_args()
    rows, seen = [], set()
    for fn in sorted(os.listdir(args.structures)):
        if not fn.endswith(".pdb"):
            print(f"skip {fn} (mmCIF duplicate or not PDB)", file=sys.stderr)
            continue
        entry = fn[:-4]
        try:
            t = md.load_pdb(os.path.join(args.structures, fn), frame=0)
        except Exception as exc:  # mdtraj refuses models with differing atom counts
            print(f"skip {fn}: {exc}", file=sys.stderr)
            continue
        prot = t.atom_slice(t.topology.select("protein"))
        dssp = md.compute_dssp(prot, simplified=False)[0]
        k = 0
        for chain in prot.topology.chains:
            seq, ss = [], []
            for res in chain.residues:
                code = res.code or PARENT.get(res.name, "X")
                seq.append(code if code.isalpha() and len(code) == 1 else "X")
                ss.append(REDUCE.get(dssp[k], "C"))
                k += 1
            seq, ss = "".join(seq), "".join(ss)
            if len(seq) < 10 or seq in seen:
                continue
            seen.add(seq)
            cid = chain.chain_id if hasattr(chain, "chain_id") and chain.chain_id else chr(ord("A") + chain.index)
            h, e = ss.count("H") / len(ss), ss.count("E") / len(ss)
            rows.append({"id": f"{entry}_{cid}", "sequence": seq, "ss3": ss, "fold_class": fold_class(h, e),
                         "helix_fraction": f"{h:.4f}", "strand_fraction": f"{e:.4f}"})
        assert k == len(dssp)
    splits = assign_splits([r["id"].rsplit("_", 1)[0] for r in rows])
    for r in rows:
        r["split"] = splits[r["id"].rsplit("_", 1)[0]]
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    counts = {s: sum(r["split"] == s for r in rows) for s in ("train", "valid", "test")}
    classes = {c: sum(r["fold_class"] == c for r in rows) for c in ("alpha", "beta", "mixed")}
    print(f"{len(rows)} chains -> {args.out}; splits {counts}; fold_class {classes}", file=sys.stderr)


if __name__ == "__main__":
    main()
