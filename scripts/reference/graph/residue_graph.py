#!/usr/bin/env python3
"""Independent reference for PLMStructure's ResidueGraph (GearNet / 3DProtLM residue graph).

Reads the first model, first chain of each PDB file with its own minimal
parser (numpy only): one node per amino-acid residue with a CA atom (ATOM or
HETATM records of standard and common modified amino acids such as MSE; the
highest-occupancy CA among alternate locations, the first on ties), in file
order. Writes the edge list of every relation as [src, dst] pairs:

  relations 0..4  sequential offset o = -2..2: i -> i + o (0 <= i + o < n; o = 0 is the self-loop)
  relation 5      radius: j -> i for |i - j| >= 5 and |x_i - x_j|^2 <= 10^2 (both directions)
  relation 6      kNN: for each i, the k = 10 nearest j != i ranked by (squared distance,
                  then index j); then pairs with |i - j| < 5 dropped; each kept j gives j -> i

Squared distances are float64 dx*dx + dy*dy + dz*dz, like the Swift code, so
the edge sets must agree exactly.

Usage: residue_graph.py OUT.json FILE.pdb [FILE.pdb ...]
"""
import json
import os
import sys

import numpy as np

AMINO = {
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET", "PHE",
    "PRO", "SER", "THR", "TRP", "TYR", "VAL", "MSE", "SEC", "PYL", "HYP", "SEP", "TPO", "PTR", "MLY",
    "CSO", "CME", "KCX", "LLP", "CSD", "ASX", "GLX", "UNK",
}
NAMES = ["seq-2", "seq-1", "seq0", "seq+1", "seq+2", "radius", "knn"]


def read_ca(path):
    residues = {}  # (chain, resseq, icode) -> (occupancy, xyz)
    order = []
    first_chain = None
    with open(path) as f:
        for line in f:
            rec = line[:6]
            if rec.startswith("ENDMDL"):
                break
            if rec not in ("ATOM  ", "HETATM"):
                continue
            if line[12:16].strip() != "CA" or line[17:20].strip() not in AMINO:
                continue
            chain = line[21]
            if first_chain is None:
                first_chain = chain
            if chain != first_chain:
                continue
            key = (chain, line[22:26], line[26])
            occ = float(line[54:60]) if line[54:60].strip() else 1.0
            xyz = (float(line[30:38]), float(line[38:46]), float(line[46:54]))
            if key not in residues:
                order.append(key)
                residues[key] = (occ, xyz)
            elif occ > residues[key][0]:
                residues[key] = (occ, xyz)
    return np.array([residues[k][1] for k in order], dtype=np.float64)


def graph(ca, radius=10.0, k=10, min_sep=5):
    n = len(ca)
    diff = ca[:, None, :] - ca[None, :, :]
    d2 = diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1] + diff[..., 2] * diff[..., 2]
    idx = np.arange(n)
    sep = np.abs(idx[:, None] - idx[None, :])
    rel = {name: [] for name in NAMES}
    for o in range(-2, 3):
        rel[NAMES[o + 2]] = [[i, i + o] for i in range(n) if 0 <= i + o < n]
    dst, src = np.nonzero((sep >= min_sep) & (d2 <= radius * radius))
    rel["radius"] = [[int(s), int(d)] for s, d in zip(src, dst)]
    for i in range(n):
        cand = idx[idx != i]
        order = np.lexsort((cand, d2[i, cand]))  # primary: distance, secondary: index
        for j in cand[order][:k]:
            if abs(i - int(j)) >= min_sep:
                rel["knn"].append([int(j), i])
    return {name: sorted(v, key=lambda e: (e[1], e[0])) for name, v in rel.items()}


def main():
    out, files = sys.argv[1], sys.argv[2:]
    result = {}
    for path in files:
        ca = read_ca(path)
        g = graph(ca)
        name = os.path.splitext(os.path.basename(path))[0]
        result[name] = {"nodes": len(ca), "relations": g}
        print(name, len(ca), {k: len(v) for k, v in g.items()})
    with open(out, "w") as f:
        json.dump(result, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
