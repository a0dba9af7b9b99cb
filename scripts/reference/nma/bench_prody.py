#!/usr/bin/python3
"""Times SeqDance's NMA pipeline in ProDy (the reference for `plm prepare nma`; not a test).

Per structure: parsePDB + calpha selection, GNM (Kirchhoff + all modes + cluster fluctuations),
ANM (Hessian + all modes + cluster correlations), exactly as make_fixtures.py computes them.
Prints the best of --repeat runs (default 5) per stage, wall-clock and process CPU time
(`time.process_time`: every thread of the process); --json prints one JSON object instead. ProDy's SciPy uses the same Debian OpenBLAS
(pthreads) as PLMKit; set OPENBLAS_NUM_THREADS=1 or 2 to pick its thread count.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/reference/nma/bench_prody.py \
        /work/shared/data/structures/2G3R.pdb /work/shared/data/structures/1TIM.pdb
Compare with (release build):
    plm prepare nma --structure X.pdb --out /tmp/x.h5 --jobs 1 --verbose   (per-structure compute time)
    .build/release/plm-feature-bench --nma-only   (CPU time; results in docs/FEATURES.md)
"""
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import prody  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import anm_features, gnm_features  # noqa: E402

prody.confProDy(verbosity="none")


def main():
    args = sys.argv[1:]
    repeat = 5
    as_json = False
    while args and args[0].startswith("--"):
        a = args.pop(0)
        if a.startswith("--repeat="):
            repeat = int(a.split("=")[1])
        elif a == "--json":
            as_json = True
        else:
            sys.exit(f"unknown option {a}")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "(default)")
    rows = []
    if not as_json:
        print(f"ProDy {prody.__version__}, OPENBLAS_NUM_THREADS={threads}")
    for path in args:
        best = {"parse": 1e9, "gnm": 1e9, "anm": 1e9, "total": 1e9, "cpu": 1e9}
        for _ in range(repeat):
            c0 = time.process_time()
            t0 = time.perf_counter()
            calphas = prody.parsePDB(path).select("calpha")
            t1 = time.perf_counter()
            gnm_features(calphas)
            t2 = time.perf_counter()
            anm_features(calphas)
            t3 = time.perf_counter()
            c3 = time.process_time()
            for k, v in (("parse", t1 - t0), ("gnm", t2 - t1), ("anm", t3 - t2), ("total", t3 - t0), ("cpu", c3 - c0)):
                best[k] = min(best[k], v)
        rows.append({"name": os.path.basename(path), "residues": len(calphas), "cpu_ms": best["cpu"] * 1e3,
                     "wall_ms": {k: best[k] * 1e3 for k in ("parse", "gnm", "anm", "total")}})
        if as_json:
            continue
        print(f"{os.path.basename(path)} N={len(calphas)}: total {best['total']:.3f} s wall, {best['cpu']:.3f} s CPU "
              f"(parse {best['parse']:.3f}, GNM {best['gnm']:.3f}, ANM {best['anm']:.3f})")
    if as_json:
        print(json.dumps({"prody": prody.__version__, "openblas_num_threads": threads, "repeat": repeat,
                          "time_unit": "ms (cpu_ms: process CPU time, best of repeat)",
                          "load_average": os.getloadavg(), "nma": rows}, indent=1))


if __name__ == "__main__":
    main()
