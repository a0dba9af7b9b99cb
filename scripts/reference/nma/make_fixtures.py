#!/usr/bin/python3
"""Reference values for the NMA and contact-map tests (Tests/PLMStructureTests/NMA*.swift,
ContactMap*.swift, Tests/PLMCLITests/Prepare*.swift).

NMA features are computed the way SeqDance's `data_prepare/normal_mode_analysis/NMA_features.py`
does (read for understanding; nothing copied): ProDy's `calpha` selection of `parsePDB(file)`,
GNM `buildKirchhoff(cutoff=15, gamma=<stepped>)` + `calcModes(N)`, ANM `buildHessian(...)` +
`calcModes(3N)` (every non-zero mode), SeqDance's three-cluster split of the eigenvalues, GNM
fluctuations `sum v^2/lambda` per cluster and ANM block-trace correlations per cluster. The
stepped spring constant and the clustering formula are restated here from docs SEQDANCE.md.

Tools: ProDy 2.3.1, NumPy 1.24, SciPy 1.10 from Debian (`apt-get install python3-prody`).

Structures (from the shared data folder, `structures/`):
* 2G3R.pdb (119 residues, 1 chain, 538 altloc atoms): SeqDance's own NMA example. Copied
  unchanged. Its features are also checked against SeqDance's published reference output
  (`reference_features/nma_residue_pair_features_2g3r.npz`, ProDy 2.4), which is converted
  here to `2G3R_seqdance_reference.safetensors` unchanged (float64).
* 2BEG.pdb (5 chains x 26 residues, NMR model 1): multi-chain. Stored as a C-alpha excerpt
  (`2BEG_ca.pdb`: its CA ATOM lines verbatim + TER/END) to keep the fixture small.
* 1TIM.pdb (2 chains x 247 residues): the ~500-residue case. Stored as a C-alpha excerpt
  (`1TIM_ca.pdb`) like 2BEG.
None of the three has a C-alpha atom whose only conformers are non-'A' altlocs, so ProDy's
altloc 'A' and PLMStructure's "first altloc" select the same atoms (checked below).

Outputs (Tests/PLMStructureTests/Fixtures/nma/), safetensors with little-endian F64/I64 tensors:
  ID_prody.safetensors:
    ca_xyz        F64 [N, 3]    ProDy's C-alpha coordinates
    gnm_eigvals   F64 [N-1]     non-zero GNM eigenvalues, ascending
    anm_eigvals   F64 [3N-6]    non-zero ANM eigenvalues, ascending
    gnm_bounds    I64 [2]       i1, i2 of the split (GNM)
    anm_bounds    I64 [2]       i1, i2 of the split (ANM)
    nma_res       F64 [3, N]    nma_res1..3 (GNM fluctuations per cluster)
    pair_rows     I64 [R]       residue indices i of the stored pair rows
    nma_pair      F64 [3, R, N] nma_pair1..3 rows i (ANM correlations per cluster)
  2G3R_seqdance_reference.safetensors: gnm_msf F64 [3, 119], anm_cor F64 [3, 119, 119]
  2G3R_contact.safetensors (NumPy, float64 CA coordinates from ProDy):
    distance      F64 [N, N]           CA-CA distances
    splm_t22_12_8_crop100  F32 [3, 100, 100]   (d_c - clip(D, 0, d_c)) / d_c, d_c = 22, 12, 8,
                                               first 100 residues
    splm_default_pad128    F32 [1, 128, 128]   d_c = 22 (channel 0; the 3 default channels are
                                               identical), zero padded to 128
The ANM/GNM eigenvector signs and the basis inside degenerate eigenspaces are arbitrary; only
derived features are stored. The relative eigenvalue gaps at the cluster boundaries are
printed (a split inside a degenerate eigenspace would make the features basis-dependent).

Run:  /usr/bin/python3 scripts/reference/nma/make_fixtures.py [--data /work/shared/data]
      [--out Tests/PLMStructureTests/Fixtures/nma]
"""
import argparse
import json
import os
import shutil
import struct
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import prody  # noqa: E402

prody.confProDy(verbosity="none")

CUTOFF = 15.0


def stepped_gamma(dist2, *args):
    """SeqDance's spring constant by squared distance (docs SEQDANCE.md)."""
    if dist2 <= 16:
        return 10.0
    if dist2 <= 100:
        return 2.0
    if dist2 <= 225:
        return 1.0
    return 0.0


def three_clusters(eigvals):
    w = (1.0 / eigvals) / (1.0 / eigvals).sum()
    cs = np.cumsum(w)
    i1 = int(np.argmin(np.abs(cs - 1.0 / 3.0)))
    i2 = int(np.argmin(np.abs(cs - 0.5 * (1.0 + cs[i1]))))
    return (i1, i2), [np.arange(i1 + 1), np.arange(i1 + 1, i2 + 1), np.arange(i2 + 1, len(eigvals))]


def gnm_features(calphas):
    n = len(calphas)
    gnm = prody.GNM("gnm")
    gnm.buildKirchhoff(calphas, cutoff=CUTOFF, gamma=stepped_gamma)
    gnm.calcModes(n)
    lam, vec = gnm.getEigvals(), gnm.getEigvecs()
    bounds, clusters = three_clusters(lam)
    res = np.array([((vec[:, c] ** 2) / lam[c]).sum(axis=1) for c in clusters])
    return lam, bounds, res, np.diag(gnm.getKirchhoff()).copy()


def anm_features(calphas):
    n = len(calphas)
    anm = prody.ANM("anm")
    anm.buildHessian(calphas, cutoff=CUTOFF, gamma=stepped_gamma)
    anm.calcModes(3 * n)
    lam, vec = anm.getEigvals(), anm.getEigvecs()
    bounds, clusters = three_clusters(lam)
    cors = []
    for c in clusters:
        e = vec[:, c] / np.sqrt(lam[c])
        cov3 = e @ e.T
        cov = np.trace(cov3.reshape(n, 3, n, 3), axis1=1, axis2=3)
        msf = np.diag(cov)
        cors.append(cov / np.sqrt(np.outer(msf, msf)))
    return lam, bounds, np.array(cors)


def boundary_gaps(lam, bounds):
    return [float((lam[i + 1] - lam[i]) / lam[i]) for i in bounds if i + 1 < len(lam)]


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dtype = {np.dtype("<f8"): "F64", np.dtype("<f4"): "F32", np.dtype("<i8"): "I64"}[arr.dtype.newbyteorder("<")]
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def ca_excerpt(src, dst):
    """CA ATOM/HETATM lines of the first model, verbatim, with TER between chains and END."""
    out, chain = [], None
    with open(src) as f:
        for line in f:
            if line.startswith("ENDMDL"):
                break
            if line.startswith(("ATOM  ", "HETATM")) and line[12:16].strip() == "CA" and line[17:20].strip() != "CA":
                if chain is not None and line[21] != chain:
                    out.append("TER\n")
                chain = line[21]
                out.append(line)
    out += ["TER\n", "END\n"]
    with open(dst, "w") as f:
        f.writelines(out)


def check_altlocs(path):
    """C-alpha atoms whose conformers are all non-blank, non-'A' altlocs (ProDy would drop them)."""
    seen = {}
    with open(path) as f:
        for line in f:
            if line.startswith("ENDMDL"):
                break
            if line.startswith(("ATOM  ", "HETATM")) and line[12:16].strip() == "CA":
                key = (line[21], line[22:27])
                seen.setdefault(key, set()).add(line[16])
    return [k for k, alts in seen.items() if not (alts & {" ", "A"})]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--out", default="Tests/PLMStructureTests/Fixtures/nma")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    structures = args.data + "/structures"

    # (id, source file, fixture file, excerpt?, pair row stride)
    plan = [("2G3R", "2G3R.pdb", "2G3R.pdb", False, 4),
            ("2BEG", "2BEG.pdb", "2BEG_ca.pdb", True, 5),
            ("1TIM", "1TIM.pdb", "1TIM_ca.pdb", True, 49)]
    summary = {}
    for pid, src, dst, excerpt, stride in plan:
        src_path, dst_path = os.path.join(structures, src), os.path.join(args.out, dst)
        if excerpt:
            ca_excerpt(src_path, dst_path)
        else:
            shutil.copyfile(src_path, dst_path)
        assert not check_altlocs(src_path), f"{src}: CA atoms without a blank/A conformer"
        calphas = prody.parsePDB(src_path).select("calpha")
        # the excerpt must hold the same C-alpha atoms
        calphas2 = prody.parsePDB(dst_path).select("calpha")
        assert np.array_equal(calphas.getCoords(), calphas2.getCoords()), f"{dst}: coordinates differ"
        n = len(calphas)
        glam, gb, res, kdiag = gnm_features(calphas)
        alam, ab, pair = anm_features(calphas)
        rows = np.array(sorted(set(list(range(0, n, stride)) + [n - 1])), dtype=np.int64)
        write_safetensors(os.path.join(args.out, f"{pid}_prody.safetensors"), {
            "ca_xyz": calphas.getCoords().astype(np.float64),
            "gnm_eigvals": glam, "anm_eigvals": alam,
            "gnm_bounds": np.array(gb, dtype=np.int64), "anm_bounds": np.array(ab, dtype=np.int64),
            "nma_res": res, "pair_rows": rows, "nma_pair": pair[:, rows, :],
        }, metadata={"structure": dst, "source": f"shared data structures/{src}", "prody": prody.__version__,
                     "numpy": np.__version__, "chains": "".join(sorted(set(calphas.getChids())))})
        summary[pid] = {"n": n, "chains": sorted(set(calphas.getChids())), "gnm_modes": len(glam),
                        "anm_modes": len(alam), "gnm_bounds": gb, "anm_bounds": ab,
                        "gnm_boundary_gaps": boundary_gaps(glam, gb), "anm_boundary_gaps": boundary_gaps(alam, ab),
                        "kirchhoff_diag_sum": float(kdiag.sum())}

        if pid == "2G3R":
            ref = np.load(os.path.join(args.data, "reference_features/nma_residue_pair_features_2g3r.npz"))
            dg = np.abs(res - ref["gnm_msf"]).max() / np.abs(ref["gnm_msf"]).max()
            da = np.abs(pair - ref["anm_cor"]).max()
            summary[pid]["prody_vs_seqdance"] = {"gnm_max_rel": float(dg), "anm_max_abs": float(da)}
            write_safetensors(os.path.join(args.out, "2G3R_seqdance_reference.safetensors"),
                              {"gnm_msf": ref["gnm_msf"].astype(np.float64), "anm_cor": ref["anm_cor"].astype(np.float64)},
                              metadata={"source": "ShenLab/SeqDance @ 73ccea0fa4: data_prepare/normal_mode_analysis/"
                                                  "nma_residue_pair_features_2g3r.npz (via the shared data folder)"})
            xyz = calphas.getCoords().astype(np.float64)
            dist = np.sqrt(((xyz[:, None, :] - xyz[None, :, :]) ** 2).sum(-1))

            def splm(d, thresholds, size):
                out = np.zeros((len(thresholds), size, size), dtype=np.float64)
                m = min(size, d.shape[0])
                for c, dc in enumerate(thresholds):
                    out[c, :m, :m] = (dc - np.clip(d[:m, :m], 0, dc)) / dc
                return out.astype(np.float32)

            write_safetensors(os.path.join(args.out, "2G3R_contact.safetensors"), {
                "distance": dist,
                "splm_t22_12_8_crop100": splm(dist, [22.0, 12.0, 8.0], 100),
                # default thresholds make the three channels identical: store channel 0 only
                "splm_default_pad128": splm(dist, [22.0, 22.0, 22.0], 128)[:1],
            }, metadata={"structure": "2G3R.pdb", "numpy": np.__version__})
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
