#!/usr/bin/env python3
"""HDF5 interop fixtures for PLMDataTests, written and checked with h5py.

Usage (venv with h5py + numpy, e.g. /root/.cache/plm-reference/bin/python):

    python make_fixtures.py                 # writes Tests/PLMDataTests/Fixtures/hdf5/*
    python make_fixtures.py FILE.h5 ...     # checks files written by the Swift writer

Outputs (both tiny, pinned to the HDF5 1.10 file format so libhdf5 1.10 reads them):
  seqdance_h5py.h5        SeqDance feature store layout (docs SEQDANCE.md, "Storage
                          layout"; Sources/PLMData/HDF5/FeatureStore.swift): two proteins,
                          "prot_md" (md, L=5) and "prot_nma" (nma, L=7, sequence with an
                          <eos><cls> chain linker at token positions 3 and 4), values from
                          simple formulas, -1 in every special-token row and column, and
                          the /metadata columns.
  seqdance_h5py_expected.json   names, metadata, shapes and every feature value.
  dtypes_h5py.h5          float32/float64/int32/int64/uint8 arrays, a scalar, variable-
                          and fixed-length strings, a gzip+shuffle dataset, nested groups
                          and attributes on the root, a group and a dataset.
  dtypes_h5py_expected.json     dtype, shape and values of each dataset, and the attributes.

Checking Swift-written files: run the Swift tests with PLM_HDF5_INTEROP_OUT=<dir>; they
write <dir>/swift_store.h5 and <dir>/swift_dtypes.h5 with exactly the content described in
swift_store_expected() / swift_dtypes_expected() below (keep in sync with
Tests/PLMDataTests/HDF5InteropTests.swift). Passing those paths to this script verifies
them with h5py and prints each check; the exit status is non-zero on any mismatch.
"""
import json
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "Tests", "PLMDataTests", "Fixtures", "hdf5")

MD_RES, MD_PAIR, NMA_RES, NMA_PAIR = 47, 10, 3, 3
LIBVER = ("earliest", "v110")


# --- SeqDance layout helpers -------------------------------------------------

def tokens(sequence):
    """Tokens between BOS and EOS: single letters, or whole <...> tags."""
    out, i = [], 0
    while i < len(sequence):
        if sequence[i] == "<" and ">" in sequence[i:]:
            j = sequence.index(">", i)
            out.append(sequence[i:j + 1])
            i = j + 1
        else:
            out.append(sequence[i])
            i += 1
    return out


def special_positions(sequence):
    return [k + 1 for k, t in enumerate(tokens(sequence)) if len(t) > 1]


def embed(residue, pair, specials):
    """[L, C] and [L, L, C] -> token space with -1 in rows/cols 0, L+1 and specials."""
    L = residue.shape[0]
    res = np.full((L + 2, residue.shape[1]), -1.0, dtype=np.float32)
    pr = np.full((L + 2, L + 2, pair.shape[2]), -1.0, dtype=np.float32)
    res[1:L + 1] = residue
    pr[1:L + 1, 1:L + 1] = pair
    for p in specials:
        res[p, :] = -1
        pr[p, :, :] = -1
        pr[:, p, :] = -1
    return res, pr


def formula_features(L, cr, cp, a, b, c, d):
    """residue[i, k] = (i*cr + k)*a + b ; pair[i, j, k] = ((i*L + j)*cp + k)*c + d (float32-exact)."""
    residue = (np.arange(L * cr, dtype=np.float64).reshape(L, cr) * a + b).astype(np.float32)
    pair = (np.arange(L * L * cp, dtype=np.float64).reshape(L, L, cp) * c + d).astype(np.float32)
    return residue, pair


def write_store(path, proteins):
    with h5py.File(path, "w", libver=LIBVER) as f:
        f.attrs["layout"] = "seqdance-features"
        f.attrs["layout_version"] = np.int64(1)
        for p in proteins:
            f.create_dataset(p["name"] + "_res_feature", data=p["res"])
            f.create_dataset(p["name"] + "_pair_feature", data=p["pair"])
        meta = f.create_group("metadata")
        s = h5py.string_dtype("utf-8")
        for col in ["name", "sequence", "source", "kind"]:
            meta.create_dataset(col, data=[p[col] for p in proteins], dtype=s, maxshape=(None,), chunks=(64,))
        meta.create_dataset("length", data=np.array([p["length"] for p in proteins], dtype=np.int64),
                            maxshape=(None,), chunks=(64,))


def fixture_proteins():
    out = []
    for name, seq, source, kind, coeffs in [
        ("prot_md", "MKTAY", "ATLAS", "md", (0.125, -2.0, 0.0625, 0.5)),
        ("prot_nma", "GS<eos><cls>AVL", "proteinflow_pdb", "nma", (0.5, 1.0, 0.25, -3.0)),
    ]:
        L = len(tokens(seq))
        cr, cp = (MD_RES, MD_PAIR) if kind == "md" else (NMA_RES, NMA_PAIR)
        residue, pair = formula_features(L, cr, cp, *coeffs)
        res, pr = embed(residue, pair, special_positions(seq))
        out.append(dict(name=name, sequence=seq, source=source, kind=kind, length=L, res=res, pair=pr))
    return out


# --- dtypes fixture ---------------------------------------------------------

def dtype_datasets():
    return {
        "f32": np.array([[1.5, -2.25, 0.0], [1e-30, -0.0, 3.4028234663852886e38]], dtype=np.float32),
        "f64": np.array([0.1, -1e-300, 1e300, 1.0 / 3.0], dtype=np.float64),
        "i32": np.array([[0, -1], [2147483647, -2147483648]], dtype=np.int32),
        "i64": np.array([0, 2**40 + 1, -(2**62)], dtype=np.int64),
        "u8": np.array([0, 1, 127, 128, 255], dtype=np.uint8),
        "scalar_f64": np.float64(-0.75),
        "grp/sub/data3d": (np.arange(24, dtype=np.float32) * 0.5 - 3.0).reshape(2, 3, 4),
        "compressed": (np.arange(50 * 20, dtype=np.float32) * 0.25).reshape(50, 20),
    }


VLEN = ["alpha", "\u03b2eta", "", "\u03b3 \u2713"]
FIXED = [b"ab", b"hello", b""]


def write_dtypes(path):
    with h5py.File(path, "w", libver=LIBVER) as f:
        for k, v in dtype_datasets().items():
            if k == "compressed":
                f.create_dataset(k, data=v, chunks=(25, 10), compression="gzip", compression_opts=4, shuffle=True)
            else:
                f.create_dataset(k, data=v)
        f.create_dataset("vlen_strings", data=VLEN, dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("fixed_strings", data=np.array(FIXED, dtype="S5"))
        f.attrs["title"] = "h5py fixture \u2713"
        f.attrs["version"] = np.int64(3)
        f.attrs["scale"] = np.float64(0.5)
        f.attrs["vec"] = np.array([1.0, -2.5, 3.25], dtype=np.float32)
        f.attrs["ints"] = np.array([1, 2, 3], dtype=np.int64)
        f["grp"].attrs["note"] = "nested"
        f["f32"].attrs["units"] = "nm"


def expected_dtypes():
    ds = {}
    for k, v in dtype_datasets().items():
        a = np.asarray(v)
        flat = a.reshape(-1)
        if a.dtype.kind == "f":
            ds[k] = dict(dtype=str(a.dtype), shape=list(a.shape), values=[float(x) for x in flat])
        else:
            ds[k] = dict(dtype=str(a.dtype), shape=list(a.shape), int_values=[int(x) for x in flat])
    return dict(datasets=ds, vlen_strings=VLEN, fixed_strings=[s.decode() for s in FIXED],
                attrs=dict(title="h5py fixture \u2713", version=3, scale=0.5, vec=[1.0, -2.5, 3.25], ints=[1, 2, 3]),
                group_attrs={"grp": {"note": "nested"}, "f32": {"units": "nm"}})


def make():
    os.makedirs(OUT, exist_ok=True)
    proteins = fixture_proteins()
    store = os.path.join(OUT, "seqdance_h5py.h5")
    write_store(store, proteins)
    with open(os.path.join(OUT, "seqdance_h5py_expected.json"), "w") as fh:
        json.dump(dict(proteins=[dict(name=p["name"], sequence=p["sequence"], source=p["source"], kind=p["kind"],
                                      length=p["length"], special_positions=special_positions(p["sequence"]),
                                      res_shape=list(p["res"].shape), pair_shape=list(p["pair"].shape),
                                      res=[float(x) for x in p["res"].reshape(-1)],
                                      pair=[float(x) for x in p["pair"].reshape(-1)]) for p in proteins]),
                  fh, indent=0)
    dt = os.path.join(OUT, "dtypes_h5py.h5")
    write_dtypes(dt)
    with open(os.path.join(OUT, "dtypes_h5py_expected.json"), "w") as fh:
        json.dump(expected_dtypes(), fh, indent=1)
    for name in sorted(os.listdir(OUT)):
        print(f"wrote {os.path.join(OUT, name)} ({os.path.getsize(os.path.join(OUT, name))} bytes)")


# --- checking Swift-written files -------------------------------------------

def swift_store_expected():
    """What HDF5InteropTests writes: alpha + beta in one session, gamma appended after reopening."""
    specs = [
        ("alpha", "MKTAY", "ATLAS", "md", (0.125, -2.0, 0.0625, 0.5)),
        ("beta", "GS<eos><cls>AVL", "proteinflow_pdb", "nma", (0.5, 1.0, 0.25, -3.0)),
        ("gamma", "PEP", "IDRome", "md", (-0.25, 4.0, 0.125, -1.5)),
    ]
    out = []
    for name, seq, source, kind, coeffs in specs:
        L = len(tokens(seq))
        cr, cp = (MD_RES, MD_PAIR) if kind == "md" else (NMA_RES, NMA_PAIR)
        residue, pair = formula_features(L, cr, cp, *coeffs)
        res, pr = embed(residue, pair, special_positions(seq))
        out.append(dict(name=name, sequence=seq, source=source, kind=kind, length=L, res=res, pair=pr))
    return out


def swift_dtypes_expected():
    return {
        "f32": np.array([[1.5, -2.25, 0.0], [1e-30, -0.0, 3.4028234663852886e38]], dtype=np.float32),
        "f64": np.array([0.1, -1e-300, 1e300, 1.0 / 3.0], dtype=np.float64),
        "i32": np.array([[0, -1], [2147483647, -2147483648]], dtype=np.int32),
        "i64": np.array([0, 2**40 + 1, -(2**62)], dtype=np.int64),
        "u8": np.array([0, 1, 127, 128, 255], dtype=np.uint8),
        "scalar_f64": np.array(-0.75, dtype=np.float64),
        "nested/deeper/data3d": (np.arange(24, dtype=np.float32) * 0.5 - 3.0).reshape(2, 3, 4),
        "compressed": (np.arange(64 * 32, dtype=np.float32) * 0.25).reshape(64, 32),
    }


class Checker:
    def __init__(self):
        self.failures = 0
        self.checks = 0

    def ok(self, cond, what):
        self.checks += 1
        print(("  ok   " if cond else "  FAIL ") + what)
        if not cond:
            self.failures += 1


def check_store(path, c):
    with h5py.File(path, "r") as f:
        c.ok(f.attrs.get("layout") == "seqdance-features", f"{path}: root attr layout == 'seqdance-features'")
        c.ok(int(f.attrs.get("layout_version", -1)) == 1, "root attr layout_version == 1")
        meta = f["metadata"]
        names = list(meta["name"].asstr()[...])
        expected = swift_store_expected()
        c.ok(names == [p["name"] for p in expected], f"metadata/name == {names}")
        for col in ["sequence", "source", "kind"]:
            got = list(meta[col].asstr()[...])
            c.ok(got == [p[col] for p in expected], f"metadata/{col} == {got}")
        lengths = meta["length"][...]
        c.ok(lengths.dtype == np.int64 and list(lengths) == [p["length"] for p in expected],
             f"metadata/length int64 == {[int(x) for x in lengths]}")
        c.ok(meta["name"].maxshape == (None,), "metadata columns are extendable (maxshape (None,))")
        for p in expected:
            res = f[p["name"] + "_res_feature"]
            pair = f[p["name"] + "_pair_feature"]
            L = p["length"]
            c.ok(res.dtype == np.float32 and res.shape == p["res"].shape,
                 f"{res.name} float32 {res.shape} (L={L}, {p['kind']})")
            c.ok(pair.dtype == np.float32 and pair.shape == p["pair"].shape, f"{pair.name} float32 {pair.shape}")
            r, q = res[...], pair[...]
            c.ok(np.array_equal(r, p["res"]), f"{res.name} values equal element-wise (max |diff| "
                                              f"{float(np.max(np.abs(r - p['res']))):g})")
            c.ok(np.array_equal(q, p["pair"]), f"{pair.name} values equal element-wise")
            invalid = sorted([0, L + 1] + special_positions(p["sequence"]))
            c.ok(all((r[i] == -1).all() and (q[i] == -1).all() and (q[:, i] == -1).all() for i in invalid),
                 f"{p['name']}: -1 in rows/columns {invalid}")


def check_dtypes(path, c):
    with h5py.File(path, "r") as f:
        print(f"{path}:")
        for k, v in swift_dtypes_expected().items():
            d = f[k]
            got = d[()]
            same = d.dtype == v.dtype and d.shape == v.shape and np.array_equal(
                np.asarray(got).reshape(-1).view(np.uint8), v.reshape(-1).view(np.uint8))  # bitwise (keeps -0.0)
            c.ok(same, f"{k}: {d.dtype} {d.shape} bitwise equal")
        d = f["compressed"]
        c.ok(d.compression == "gzip" and d.chunks is not None, f"compressed: gzip level {d.compression_opts}, "
                                                                f"chunks {d.chunks}, shuffle {d.shuffle}")
        c.ok(f["f32"].chunks is None and f["f32"].compression is None, "f32: contiguous, uncompressed")
        vs = f["vlen_strings"]
        c.ok(h5py.check_string_dtype(vs.dtype) is not None and h5py.check_string_dtype(vs.dtype).length is None
             and list(vs.asstr()[...]) == VLEN, f"vlen_strings: variable-length utf-8 == {VLEN}")
        fs = f["fixed_strings"]
        info = h5py.check_string_dtype(fs.dtype)
        c.ok(info is not None and info.length == 5 and [x.rstrip(b"\0") for x in fs[...]] == FIXED,
             f"fixed_strings: fixed 5-byte == {FIXED}")
        a = f.attrs
        c.ok(a["title"] == "Swift \u2713", f"attr title == {a['title']!r}")
        c.ok(a["version"] == 7 and a["version"].dtype == np.int64, "attr version int64 == 7")
        c.ok(a["scale"] == 0.125 and a["scale"].dtype == np.float64, "attr scale float64 == 0.125")
        c.ok(a["vec"].dtype == np.float32 and list(a["vec"]) == [1.0, -2.5, 3.25], "attr vec float32 == [1, -2.5, 3.25]")
        c.ok(list(a["tags"]) == ["x", "y\u00e9"], f"attr tags == {list(a['tags'])}")
        c.ok(f["f32"].attrs["units"] == "nm", "f32 attr units == 'nm'")
        c.ok(f["nested"].attrs["note"] == "group attr", "nested attr note == 'group attr'")
        c.ok("deleted" not in f, "deleted dataset is gone")
        c.ok(np.array_equal(f["overwritten"][...], np.array([9, 8, 7], dtype=np.int32)),
             "overwritten == int32 [9, 8, 7]")


def check(paths):
    c = Checker()
    for p in paths:
        with h5py.File(p, "r") as f:
            is_store = f.attrs.get("layout") == "seqdance-features"
        (check_store if is_store else check_dtypes)(p, c)
    print(f"{c.checks - c.failures}/{c.checks} checks passed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(check(sys.argv[1:]))
    make()
