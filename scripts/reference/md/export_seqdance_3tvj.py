#!/usr/bin/env python3
"""Copies SeqDance's published MD features of 3tvj_I (shipped with SeqDance, in
the shared data: trajectories/3tvj_I/) into the test fixtures in a form Swift
reads without numpy: the residue CSV as is, the pair array [38, 38, 10]
float64 as raw little-endian bytes (C order).

Run with any Python that has numpy:
  /usr/bin/python3 scripts/reference/md/export_seqdance_3tvj.py /work/shared/data/trajectories/3tvj_I
"""
import shutil
import sys
from pathlib import Path

import numpy as np

src = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/trajectories/3tvj_I")
dst = Path(__file__).resolve().parents[3] / "Tests/PLMStructureTests/Fixtures/md/seqdance_3tvj_I"
dst.mkdir(parents=True, exist_ok=True)
shutil.copy(src / "3tvj_I_res_feature.csv", dst / "3tvj_I_res_feature.csv")
pair = np.load(src / "3tvj_I_pair_feature.npz")["array"]
assert pair.shape == (38, 38, 10), pair.shape
pair.astype("<f8").tofile(dst / "3tvj_I_pair_feature.f64")
print("wrote", dst, pair.shape)
