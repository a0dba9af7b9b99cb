#!/usr/bin/env python3
"""SeqDance's own reference feature files -> a SeqDance-layout HDF5 feature store.

Starts examples/seqdance/seqdance_examples.h5 (or OUT.h5) with two real proteins
whose features SeqDance's scripts computed themselves (/work/shared/data, see its README):

  2G3R  nma  reference_features/nma_residue_pair_features_2g3r.npz (ProDy GNM/ANM,
             NMA_features.py): residue = gnm_msf.T [119, 3], pair = anm_cor [119, 119, 3];
             sequence = chain A of structures/2G3R.pdb (119 C-alpha atoms); source proteinflow_pdb.
  3tvj_I md  trajectories/3tvj_I/3tvj_I_res_feature.csv + 3tvj_I_pair_feature.npz (MDTraj and
             GetContacts on the 10-frame ATLAS excerpt, MD_features.py). Residue columns in the
             store order (docs SEQDANCE.md): sasa_mean, sasa_std, rmsf (nm), dssp B E H I G S T ' ',
             chi 0-11, phi 0-11, psi 0-11; missing angles (empty cells) -> all-zero rows.
             Pair: the 9 GetContacts channels are contacts per frame in the orientation GetContacts
             listed them, so they are symmetrised (x_ij + x_ji off the diagonal) and stored as
             x^(1/3) (SEQDANCE.md "interaction frequencies"); channel 9 = C-alpha correlation, as is.
             Source ATLAS.

The file gets the /metadata table (name, sequence, source, kind, length) as extendable
columns, so `plm prepare nma|md --out` can append more proteins to it afterwards.

  /root/.cache/plm-reference/bin/python scripts/reference/dynamics/import_reference_features.py [OUT.h5] [DATA_DIR]
"""
import csv
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "examples", "seqdance", "seqdance_examples.h5")
DATA = sys.argv[2] if len(sys.argv) > 2 else "/work/shared/data"


def fasta_record(path, prefix):
    seq, on = [], False
    for line in open(path):
        if line.startswith(">"):
            if on:
                break
            on = line[1:].split()[0] == prefix
        elif on:
            seq.append(line.strip())
    return "".join(seq)


def token_space(res, pair):
    L = res.shape[0]
    r = np.full((L + 2, res.shape[1]), -1.0, np.float32)
    p = np.full((L + 2, L + 2, pair.shape[2]), -1.0, np.float32)
    r[1:L + 1] = res
    p[1:L + 1, 1:L + 1] = pair
    return r, p


def nma_2g3r():
    d = np.load(os.path.join(DATA, "reference_features", "nma_residue_pair_features_2g3r.npz"))
    res = d["gnm_msf"].T                      # [119, 3]
    pair = d["anm_cor"].transpose(1, 2, 0)    # [119, 119, 3]
    seq = fasta_record(os.path.join(DATA, "sequences", "structures_atom_seqs.fasta"), "2G3R_A")
    assert len(seq) == res.shape[0] == 119, (len(seq), res.shape)
    return "2G3R", seq, "proteinflow_pdb", "nma", res, pair


def md_3tvj():
    base = os.path.join(DATA, "trajectories", "3tvj_I")
    rows = list(csv.DictReader(open(os.path.join(base, "3tvj_I_res_feature.csv"))))
    cols = ["sasa_mean", "sasa_std", "rmsf"] + ["dssp_" + c for c in ["B", "E", "H", "I", "G", "S", "T", " "]] \
        + [f"{a}_{k}" for a in ["chi", "phi", "psi"] for k in range(12)]
    res = np.array([[float(r[c]) if r[c] != "" else 0.0 for c in cols] for r in rows])
    raw = np.load(os.path.join(base, "3tvj_I_pair_feature.npz"))["array"]   # [38, 38, 10]
    inter = raw[..., :9]
    sym = inter + inter.transpose(1, 0, 2)
    idx = np.arange(inter.shape[0])
    sym[idx, idx] = inter[idx, idx]
    pair = np.concatenate([np.cbrt(sym), raw[..., 9:10]], axis=2)
    seq = "GSGEVTCEPGTTFKDKCNTCRCGSDGKSAVCTKLWCNQ"
    assert len(seq) == res.shape[0] == 38
    return "3tvj_I", seq, "ATLAS", "md", res, pair


def main():
    proteins = [md_3tvj(), nma_2g3r()]
    os.makedirs(os.path.dirname(os.path.abspath(OUT)), exist_ok=True)
    with h5py.File(OUT, "w", libver=("earliest", "v110")) as f:
        f.attrs["layout"] = "seqdance-features"
        f.attrs["layout_version"] = np.int64(1)
        for name, seq, source, kind, res, pair in proteins:
            r, p = token_space(res, pair)
            f.create_dataset(name + "_res_feature", data=r, compression="gzip", compression_opts=6, shuffle=True)
            f.create_dataset(name + "_pair_feature", data=p, compression="gzip", compression_opts=6, shuffle=True,
                             chunks=(min(64, p.shape[0]), min(64, p.shape[1]), p.shape[2]))
        meta = f.create_group("metadata")
        s = h5py.string_dtype("utf-8")
        for col, k in [("name", 0), ("sequence", 1), ("source", 2), ("kind", 3)]:
            meta.create_dataset(col, data=[p[k] for p in proteins], dtype=s, maxshape=(None,), chunks=(64,))
        meta.create_dataset("length", data=np.array([len(p[1]) for p in proteins], np.int64), maxshape=(None,), chunks=(64,))
    print(f"wrote {OUT}: " + ", ".join(f"{p[0]} ({p[3]}, L={len(p[1])})" for p in proteins))


if __name__ == "__main__":
    main()
