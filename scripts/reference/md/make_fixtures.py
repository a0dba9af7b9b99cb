#!/usr/bin/python3
"""Reference values for the MD feature tests (Tests/PLMStructureTests/MD*.swift).

Computes SeqDance's per-protein MD features with MDTraj 1.9.7 (Debian
`python3-mdtraj`) exactly the way SeqDance's `MD_features.py` does
(ShenLab/SeqDance, data_prepare/molecular_dynamics):

* superpose every frame on frame 0 using the atoms named CA (`traj.superpose`);
* RMSF of the CA atoms (`mdtraj.rmsf(traj, traj, atom_indices=ca)`, nm);
* CA correlation: `np.cov` of the 3N CA coordinates, trace of the 3x3 blocks,
  normalised by sqrt(c_ii c_jj);
* DSSP 8 classes (`compute_dssp(simplified=False)`), per frame (stored as strings,
  one character per CA residue) so tests can compare frame by frame;
* Shrake-Rupley SASA per residue (`shrake_rupley(mode="residue")`, 960 points,
  probe 0.14 nm, nm^2): mean and population std over frames, and frame 0;
* phi / psi / chi1 12-bin histograms (`np.histogram` with edges
  pi*(-1 + i/6)) divided by the frame count; phi belongs to the residue of its
  dihedral atom 2 (CA), psi and chi1 to the residue of atom 1; missing -> zeros.

Residues are the topology residues that hold an atom named CA (SeqDance's
`select('name CA')`), in file order.

Interaction contacts are not recomputed here (GetContacts needs VMD, which is not
packaged): the 3tvj_I case carries SeqDance's GetContacts output
(`3tvj_I_10frames_contact.tsv`) folded into symmetric per-type residue-pair counts
per frame, the quantity `MDFeatures` stores before the cube root.

Modes:
  (default)  write the small committed fixtures into Tests/PLMStructureTests/Fixtures/md/
             (md_reference.json plus the ubiquitin excerpt), reusing trajectories that
             already sit in Tests/PLMStructureTests/Fixtures.
  --full DIR write one JSON per trajectory of the shared data folder (every frame) into
             DIR for the by-hand comparison (`PLM_MD_FULL_REFERENCE=DIR swift test -c release
             --filter MDFullReference`); nothing there is committed.
  --bench    CPU time per frame of MDTraj's superpose, shrake_rupley, compute_dssp,
             compute_phi/psi/chi1, a heavy-atom neighbour list (lower bound for the
             contacts) and SeqDance's whole pass on the shared trajectories
             [--repeat N] [--json]; the PLMKit side is `plm-feature-bench`
             (docs/FEATURES.md).

Run with Debian's interpreter:
    /usr/bin/python3 scripts/reference/md/make_fixtures.py [--data /work/shared/data]
"""
import argparse
import ctypes
import json
import math
import os
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import mdtraj as md  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "PLMStructureTests", "Fixtures")
DSSP_CLASSES = ["B", "E", "H", "I", "G", "S", "T", " "]
EDGES = [math.pi * (-1 + i / 6) for i in range(13)]
ITYPES = ["vdw", "hbbb", "hbsb", "hbss", "hp", "sb", "pc", "ps", "ts"]


def load(top, traj, stride=1, frames=None):
    t = md.load(traj, top=top)
    if frames is not None:
        t = t[:frames]
    return t[::stride]


class quiet_stdout:
    """Silences C-level stdout and stderr (QCP prints one line per frame when a single CA makes the
    rotation undefined; it then returns the identity, as PLMStructure does)."""

    def __enter__(self):
        ctypes.CDLL(None).fflush(None)
        self.saved = [os.dup(1), os.dup(2)]
        self.null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.null, 1)
        os.dup2(self.null, 2)

    def __exit__(self, *exc):
        ctypes.CDLL(None).fflush(None)  # C stdio buffers go to /dev/null too
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        os.close(self.null)
        for fd in self.saved:
            os.close(fd)


def features(t):
    """SeqDance's MD features of an (unsuperposed) trajectory, as plain lists."""
    t = t[:]  # copy: superpose works in place
    ca = t.topology.select("name CA")
    with quiet_stdout():
        t.superpose(t, 0, atom_indices=ca)
    n, nf = len(ca), t.n_frames
    ca_res = [t.topology.atom(i).residue.index for i in ca]
    res_row = {r: k for k, r in enumerate(ca_res)}

    dssp = md.compute_dssp(t, simplified=False)  # [frames, residues]
    dssp_ca = ["".join(dssp[f, r] for r in ca_res) for f in range(nf)]

    sasa = md.shrake_rupley(t, mode="residue")  # [frames, residues] float32
    sasa_ca = sasa[:, ca_res].astype(np.float64)

    hists = {}
    for name, fn, col in (("chi", md.compute_chi1, 1), ("phi", md.compute_phi, 2), ("psi", md.compute_psi, 1)):
        idx, ang = fn(t)
        h = np.zeros((n, 12))
        present = np.zeros(n, dtype=bool)
        for k in range(idx.shape[0]):
            r = t.topology.atom(int(idx[k, col])).residue.index
            if r not in res_row:
                continue
            counts, _ = np.histogram(ang[:, k], bins=EDGES)
            h[res_row[r]] = counts / nf
            present[res_row[r]] = True
        hists[name] = h
        hists[name + "_present"] = present

    with quiet_stdout():
        rmsf = md.rmsf(t, t, atom_indices=ca).astype(np.float64)
    xyz = t.xyz[:, ca, :].astype(np.float64)
    if nf > 1:
        cov = np.cov(xyz.reshape(nf, n * 3), rowvar=False)
        cov_n = np.trace(cov.reshape(n, 3, n, 3), axis1=1, axis2=3)
        msf = np.diag(cov_n)
        corr = cov_n / np.sqrt(np.outer(msf, msf))
    else:
        corr = np.full((n, n), np.nan)

    return {
        "frames": nf,
        "residues": n,
        "ca_atoms": [int(i) for i in ca],
        "sequence": "".join(t.topology.atom(i).residue.code or "X" for i in ca),
        "rmsf": rmsf.tolist(),
        # NaN (a residue that never moves, e.g. the single CA of alanine dipeptide) -> null
        "corr": [None if math.isnan(v) else v for v in corr.reshape(-1).tolist()],
        "sasa_mean": sasa_ca.mean(axis=0).tolist(),
        "sasa_std": sasa_ca.std(axis=0).tolist(),
        "sasa_frame0": sasa_ca[0].tolist(),
        "dssp": dssp_ca,
        "phi": hists["phi"].reshape(-1).tolist(),
        "psi": hists["psi"].reshape(-1).tolist(),
        "chi": hists["chi"].reshape(-1).tolist(),
        "phi_present": hists["phi_present"].tolist(),
        "psi_present": hists["psi_present"].tolist(),
        "chi_present": hists["chi_present"].tolist(),
    }


def getcontacts_counts(tsv, top, n_frames):
    """SeqDance's GetContacts TSV -> {itype: [[i, j, count], ...]} symmetric, i < j summed both ways.

    Residue rows are positions among the topology's CA residues (resid - 1 in SeqDance,
    which numbers residues 1..L); counts are atom-level contact lines per frame."""
    t = md.load(top)
    ca_res = [t.topology.atom(i).residue for i in t.topology.select("name CA")]
    row = {(r.resSeq): k for k, r in enumerate(ca_res)}
    counts = {k: {} for k in ITYPES}
    total = {k: 0 for k in ITYPES}
    with open(tsv) as f:
        for line in f:
            if line.startswith("#"):
                continue
            frame, itype, a1, a2 = line.rstrip("\n").split("\t")[:4]
            if itype not in counts:
                continue
            i, j = row[int(a1.split(":")[2])], row[int(a2.split(":")[2])]
            key = (min(i, j), max(i, j))
            counts[itype][key] = counts[itype].get(key, 0) + 1
            total[itype] += 1
    return {
        "frames": n_frames,
        "lines": total,
        "pairs": {k: [[i, j, c] for (i, j), c in sorted(v.items())] for k, v in counts.items()},
    }


def write_excerpt(src_top, src_traj, frames, out_traj):
    t = md.load(src_traj, top=src_top)[:frames]
    if out_traj.endswith(".xtc"):
        t.save_xtc(out_traj)
    else:
        t.save_dcd(out_traj)


def fixtures(data):
    out = os.path.join(FIXTURES, "md")
    os.makedirs(out, exist_ok=True)
    tj = os.path.join(data, "trajectories")
    # Ubiquitin: topology plus the first 10 frames (re-encoded by MDTraj's xdrfile at
    # precision 1000 = the same integer grid, so the coordinates are unchanged).
    ubq_top = os.path.join(out, "ubiquitin_1ubi.pdb")
    with open(os.path.join(tj, "ubiquitin_1ubi", "ubiquitin_1ubi.pdb")) as f, open(ubq_top, "w") as g:
        g.write(f.read())
    write_excerpt(ubq_top, os.path.join(tj, "ubiquitin_1ubi", "ubiquitin_1ubi.xtc"), 10,
                  os.path.join(out, "ubiquitin_1ubi_10frames.xtc"))
    tsv = os.path.join(out, "3tvj_I_10frames_contact.tsv")
    with open(os.path.join(tj, "3tvj_I", "3tvj_I_10frames_contact.tsv")) as f, open(tsv, "w") as g:
        g.write(f.read())

    cases = [
        # name, topology, trajectory (relative to Fixtures/), stride
        ("3tvj_I", "3tvj_I.pdb", "3tvj_I_10frames.dcd", 1),
        ("trpcage_stride5", "trpcage_1l2y.pdb", "trpcage_1l2y.xtc", 5),
        ("ala2_stride10", "ala2_native.pdb", "ala2_frame0.xtc", 10),
        ("ubiquitin_10frames", "md/ubiquitin_1ubi.pdb", "md/ubiquitin_1ubi_10frames.xtc", 1),
    ]
    ref = {"mdtraj": md.version.version, "cases": {}}
    for name, top, traj, stride in cases:
        t = load(os.path.join(FIXTURES, top), os.path.join(FIXTURES, traj), stride)
        r = features(t)
        r.update({"topology": top, "trajectory": traj, "stride": stride})
        ref["cases"][name] = r
        print(f"{name}: {r['frames']} frames, {r['residues']} residues")
    ref["cases"]["3tvj_I"]["contacts"] = getcontacts_counts(tsv, os.path.join(FIXTURES, "3tvj_I.pdb"), 10)
    with open(os.path.join(out, "md_reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))


FULL_CASES = [
    ("3tvj_I_dcd", "3tvj_I/3tvj_I.pdb", "3tvj_I/3tvj_I_10frames.dcd"),
    ("trpcage_xtc", "trpcage_1l2y/trpcage_1l2y.pdb", "trpcage_1l2y/trpcage_1l2y.xtc"),
    ("trpcage_dcd", "trpcage_1l2y/trpcage_1l2y.pdb", "trpcage_1l2y/trpcage_1l2y.dcd"),
    ("ubiquitin_xtc", "ubiquitin_1ubi/ubiquitin_1ubi.pdb", "ubiquitin_1ubi/ubiquitin_1ubi.xtc"),
    ("ubiquitin_dcd", "ubiquitin_1ubi/ubiquitin_1ubi.pdb", "ubiquitin_1ubi/ubiquitin_1ubi.dcd"),
    ("ala2_xtc", "ala2/native.pdb", "ala2/frame0.xtc"),
    ("ala2_dcd", "ala2/native.pdb", "ala2/frame0.dcd"),
]


def full(data, outdir):
    os.makedirs(outdir, exist_ok=True)
    tj = os.path.join(data, "trajectories")
    index = {}
    for name, top, traj in FULL_CASES:
        t = load(os.path.join(tj, top), os.path.join(tj, traj))
        r = features(t)
        r.update({"topology": os.path.join(tj, top), "trajectory": os.path.join(tj, traj), "stride": 1})
        if name.startswith("3tvj_I"):
            r["contacts"] = getcontacts_counts(os.path.join(tj, "3tvj_I", "3tvj_I_10frames_contact.tsv"),
                                               os.path.join(tj, top), t.n_frames)
        with open(os.path.join(outdir, name + ".json"), "w") as f:
            json.dump(r, f, separators=(",", ":"))
        index[name] = name + ".json"
        print(f"{name}: {r['frames']} frames, {r['residues']} residues")
    with open(os.path.join(outdir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


def bench(data, repeats=3, as_json=False):
    """Per-frame CPU times of MDTraj's primitives for the features `plm-feature-bench` times.

    Process CPU time (`time.process_time`: MDTraj's geometry kernels are OpenMP-parallel, so the
    calling thread's time would miss work; run with OMP_NUM_THREADS=1 for a one-thread comparison),
    best of `repeats` runs (and of as many as fill 0.3 s of CPU time), divided by the frame count:
    superpose (CA, on frame 0), shrake_rupley (960 points, probe 0.14 nm, mode="residue"),
    compute_dssp (8 classes), compute_phi + compute_psi + compute_chi1 (angles only, no
    histograms), and, as a lower bound for the GetContacts types (GetContacts itself is
    not installable here: it is not on PyPI and needs VMD), a heavy-atom neighbour list at
    0.41 nm per frame (`compute_neighborlist`; the widest GetContacts distance cut-off of
    PLMKit's contact search, without any typing, angles or hydrogen geometry). `pass` is
    SeqDance's whole MDTraj feature pass (`md.load` + `features()`: superpose, DSSP, SASA,
    dihedral histograms, RMSF, CA correlation; no contacts), process CPU time per frame.
    """
    tj = os.path.join(data, "trajectories")
    rows = []
    if not as_json:
        print(f"MDTraj {md.version.version}; CPU ms per frame, best of {repeats}; load average "
              + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        print("trajectory      atoms   res frames  superpose      sasa      dssp  dihedrals  neighbours(lb) | pass/frame")
    for name, top, traj in FULL_CASES:
        if name.endswith("_dcd") and not name.startswith("3tvj"):
            continue
        t = load(os.path.join(tj, top), os.path.join(tj, traj))
        ca = t.topology.select("name CA")
        heavy = t.topology.select("not element H")
        th = t.atom_slice(heavy)

        def superpose():
            u = t[:]
            with quiet_stdout():
                t0 = time.process_time()
                u.superpose(u, 0, atom_indices=ca)
                return time.process_time() - t0

        def timed(fn):
            def run():
                t0 = time.process_time()
                fn()
                return time.process_time() - t0
            return run

        def dihedrals():
            md.compute_phi(t)
            md.compute_psi(t)
            md.compute_chi1(t)

        def neighbours():
            for f in range(th.n_frames):
                md.compute_neighborlist(th, 0.41, frame=f)

        def whole():
            c0 = time.process_time()
            with quiet_stdout():
                features(load(os.path.join(tj, top), os.path.join(tj, traj)))
            return time.process_time() - c0

        steps = {
            "superposition": superpose,
            "sasa": timed(lambda: md.shrake_rupley(t, probe_radius=0.14, n_sphere_points=960, mode="residue")),
            "dssp": timed(lambda: md.compute_dssp(t, simplified=False)),
            "dihedrals": timed(dihedrals),
            "neighbours_lower_bound": timed(neighbours),
        }
        def best_of(fn):
            # at least `repeats` runs and 0.3 s of CPU time (cheap steps are noisy on a busy machine)
            times = []
            while len(times) < repeats or sum(times) < 0.3:
                times.append(fn())
            return min(times)

        best = {k: best_of(fn) / t.n_frames * 1e3 for k, fn in steps.items()}
        pass_ms = min(whole() for _ in range(repeats)) / t.n_frames * 1e3
        rows.append({"name": name, "atoms": t.n_atoms, "residues": len(ca), "frames": t.n_frames,
                     "cpu_ms_per_frame": best, "pass_cpu_ms_per_frame": pass_ms})
        if not as_json:
            print(f"{name:14s} {t.n_atoms:6d} {len(ca):5d} {t.n_frames:6d}  "
                  + " ".join(f"{best[k]:9.4f}" for k in ("superposition", "sasa", "dssp", "dihedrals"))
                  + f" {best['neighbours_lower_bound']:14.4f} | {pass_ms:9.4f}")
    if as_json:
        print(json.dumps({"mdtraj": md.version.version, "numpy": np.__version__, "repeat": repeats,
                          "time_unit": "CPU milliseconds per frame (best of repeat)",
                          "load_average": os.getloadavg(), "md": rows}, indent=1))
    else:
        print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/work/shared/data")
    p.add_argument("--full", metavar="DIR")
    p.add_argument("--bench", action="store_true")
    p.add_argument("--repeat", type=int, default=3, help="--bench: best of this many runs")
    p.add_argument("--json", action="store_true", help="--bench: print JSON")
    a = p.parse_args()
    if a.bench:
        bench(a.data, a.repeat, a.json)
    elif a.full:
        full(a.data, a.full)
    else:
        fixtures(a.data)


if __name__ == "__main__":
    main()
