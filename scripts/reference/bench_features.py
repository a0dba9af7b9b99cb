#!/usr/bin/python3
"""Runs the feature benchmarks of PLMKit and of the reference tools on the same inputs and
prints the Markdown table of docs/FEATURES.md (not a test).

  PLMKit:  .build/release/plm-feature-bench --json   (MD steps per frame, whole passes, NMA)
  MDTraj:  scripts/reference/md/make_fixtures.py --bench --json
  ProDy:   scripts/reference/nma/bench_prody.py --json 2G3R.pdb 1TIM.pdb

Every number is CPU time (thread CPU time for PLMKit's single-threaded steps, process
CPU time elsewhere), best of --repeat runs. The reference tools run with
OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1 (one thread, like PLMKit's per-frame steps
and its NMA run here), so the ratios compare one core with one core.

    swift build -c release --product plm-feature-bench && swift build -c release --product plm
    /usr/bin/python3 scripts/reference/bench_features.py [--repeat 5] [--data /work/shared/data]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def fmt(x):
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def run_json(cmd, env=None):
    e = dict(os.environ)
    e.update(env or {})
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=e).stdout
    return json.loads(out[out.index("{"):])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--data", default="/work/shared/data")
    p.add_argument("--bench", default=os.path.join(ROOT, ".build", "release", "plm-feature-bench"))
    a = p.parse_args()
    one = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    load0 = os.getloadavg()
    ours = run_json([a.bench, "--json", "--repeat", str(a.repeat), "--data", a.data], one)
    mdtraj = run_json([sys.executable, os.path.join(HERE, "md", "make_fixtures.py"), "--bench", "--json",
                       "--repeat", str(a.repeat), "--data", a.data], one)
    structures = [os.path.join(a.data, "structures", s) for s in ("2G3R.pdb", "1TIM.pdb")]
    prody = run_json([sys.executable, os.path.join(HERE, "nma", "bench_prody.py"), f"--repeat={a.repeat}", "--json"]
                     + structures, one)
    # `plm prepare nma` on a single structure gives LAPACK every core; compare it with ProDy on as many.
    cores = str(ours["cpus"])
    prody_all = run_json([sys.executable, os.path.join(HERE, "nma", "bench_prody.py"), f"--repeat={a.repeat}", "--json"]
                         + structures, {"OMP_NUM_THREADS": cores, "OPENBLAS_NUM_THREADS": cores})
    load1 = os.getloadavg()

    print(f"OpenBLAS core {ours['openblas_core']}, {ours['cpus']} CPUs; MDTraj {mdtraj['mdtraj']}, "
          f"ProDy {prody['prody']}; best of {a.repeat}; load average (1/5/15 min) "
          f"{' '.join(f'{x:.2f}' for x in load0)} at the start, {' '.join(f'{x:.2f}' for x in load1)} at the end\n")
    print("| input | atoms / residues / frames | feature | PLMKit CPU ms/frame | reference | reference CPU ms/frame | reference / PLMKit |")
    print("|---|---|---|---|---|---|---|")
    ref = {r["name"]: r for r in mdtraj["md"]}
    labels = [("superposition", "superposition", "MDTraj superpose"),
              ("sasa", "sasa", "MDTraj shrake_rupley (960 points)"),
              ("dssp", "dssp", "MDTraj compute_dssp"),
              ("dihedrals", "dihedrals", "MDTraj compute_phi/psi/chi1"),
              ("contacts", "neighbours_lower_bound", "MDTraj heavy-atom neighbour list 0.41 nm (lower bound; no GetContacts)")]
    for r in ours["md"]:
        m = ref[r["name"]]
        size = f"{r['atoms']} / {r['residues']} / {r['frames']}"
        for key, rkey, rname in labels:
            x, y = r["cpu_ms_per_frame"][key], m["cpu_ms_per_frame"][rkey]
            print(f"| {r['name']} | {size} | {key} | {fmt(x)} | {rname} | {fmt(y)} | {y / x:.1f}x |")
        x, y = r["pass_cpu_ms_per_frame"], m["pass_cpu_ms_per_frame"]
        print(f"| {r['name']} | {size} | whole pass (read + all features; PLMKit incl. contacts) | {fmt(x)} | "
              f"MDTraj load + SeqDance features (no contacts) | {fmt(y)} | {y / x:.1f}x |")
        if "prepare_md_cpu_s" in r:
            z = r['prepare_md_cpu_s'] * 1e3 / r['frames']
            print(f"| {r['name']} | {size} | `plm prepare md --threads 1` (whole process: start-up, HDF5 output) | "
                  f"{fmt(z)} | MDTraj load + SeqDance features (no contacts) | {fmt(y)} | {y / z:.1f}x |")
    pref = {r["name"]: r for r in prody["nma"]}
    pall = {r["name"]: r for r in prody_all["nma"]}
    print(f"\n| structure | residues | PLMKit read + NMA (1 thread), CPU ms | ProDy parse + GNM + ANM (1 thread), CPU ms "
          f"| ratio | `plm prepare nma` (whole process, LAPACK {cores} threads), CPU ms "
          f"| ProDy (OpenBLAS {cores} threads), CPU ms | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in ours["nma"]:
        y, y2 = pref[r["name"]]["cpu_ms"], pall[r["name"]]["cpu_ms"]
        c = r.get("prepare_nma_cpu_ms")
        print(f"| {r['name']} | {r['residues']} | {r['cpu_ms']:.1f} | {y:.1f} | {y / r['cpu_ms']:.1f}x | "
              + (f"{c:.1f} | {y2:.1f} | {y2 / c:.1f}x |" if c else f"- | {y2:.1f} | - |"))


if __name__ == "__main__":
    main()
