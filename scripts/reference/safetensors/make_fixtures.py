#!/usr/bin/env python3
"""Golden safetensors files for PLMNNTests, written by the real `safetensors` package.

Usage (venv with torch, safetensors, numpy; e.g. /root/.cache/plm-reference/bin/python):

    python make_fixtures.py            # writes Tests/PLMNNTests/Fixtures/safetensors/*
    python make_fixtures.py --check    # reads swift_written.safetensors (made by the Swift
                                       # writer) back with safetensors.numpy and checks it

Outputs:
  golden.safetensors    F32, F16, BF16, F64 and I64 tensors with known values
                        (incl. subnormals, infinities, -0, rounding cases),
                        a scalar, an empty tensor and __metadata__.
  golden_expected.json  per tensor: dtype, shape, the Float32 values as uint32
                        bit patterns (torch's `.to(torch.float32)`), and for I64
                        the int64 values; plus the metadata.
The Swift side (Tests/PLMNNTests/SafeTensorsTests.swift) compares bit for bit.

swift_written.safetensors is produced by the Swift writer and must hold exactly
SWIFT_WRITTEN below; --check verifies that with safetensors.numpy.load_file and
safe_open (metadata). To refresh it:
    PLM_SAFETENSORS_ROUNDTRIP_OUT=/tmp/sw.safetensors \
        swift test --scratch-path .build-nn --filter PLMNNTests
    python make_fixtures.py --check /tmp/sw.safetensors && cp /tmp/sw.safetensors \
        Tests/PLMNNTests/Fixtures/safetensors/swift_written.safetensors
(the Swift test then compares its output with this file byte for byte).
"""
import json
import math
import os
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file as np_load_file
from safetensors.torch import load_file as torch_load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "Tests", "PLMNNTests", "Fixtures", "safetensors")

# What the Swift writer writes in its golden test (keep in sync with the test).
SWIFT_WRITTEN = {
    "a.weight": np.array([[0.5, -1.25, 3.0], [1e-3, -0.0, 65504.0]], dtype=np.float32),
    "b.bias": np.array([1.0, 2.0, 3.0], dtype=np.float32),
    "empty": np.zeros((0, 4), dtype=np.float32),
    "ids": np.array([0, 1, -7, 2**40], dtype=np.int64),
    "scalar": np.array(42.0, dtype=np.float32),
}
SWIFT_METADATA = {"format": "pt", "producer": "PLMKit"}


def golden_tensors():
    f32 = torch.tensor([[1.0, -2.5, 3.25], [1e-30, -0.0, float("inf")],
                        [1.401298464324817e-45, 3.4028234663852886e38, -7.0]], dtype=torch.float32)
    f16 = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.103515625e-05,  # max, min normal
                        5.960464477539063e-08, 1.0 / 3.0, float("-inf"), 0.1], dtype=torch.float16)
    bf16 = torch.tensor([[1.0, -1.5], [3.140625, 1e-38], [3.3895313892515355e38, -0.0078125]],
                        dtype=torch.bfloat16)
    f64 = torch.tensor([0.1, -1e-50, 1e300, 1.0000000596046448, 123456789.123], dtype=torch.float64)
    i64 = torch.tensor([0, 1, -7, 2**40 + 1, 2**24 + 1, -(2**62)], dtype=torch.int64)
    position_ids = torch.arange(6, dtype=torch.int64).reshape(1, 6)
    return {
        "f32.matrix": f32,
        "f16.values": f16,
        "bf16.matrix": bf16,
        "f64.values": f64,
        "i64.values": i64,
        "esm.embeddings.position_ids": position_ids,
        "f32.scalar": torch.tensor(-0.75, dtype=torch.float32),
        "f32.empty": torch.zeros((2, 0, 3), dtype=torch.float32),
        # A middle-sized F32 tensor with a simple formula (checked in Swift without the JSON).
        "f32.ramp": (torch.arange(24, dtype=torch.float32) * 0.5 - 3.0).reshape(2, 3, 4),
    }


METADATA = {"format": "pt", "note": "PLMKit golden file \u2713", "quote": "a \"b\" \\c"}


def make():
    os.makedirs(OUT, exist_ok=True)
    tensors = golden_tensors()
    path = os.path.join(OUT, "golden.safetensors")
    save_file(tensors, path, metadata=METADATA)
    os.chmod(path, 0o644)  # save_file creates 0600 files
    expected = {"metadata": METADATA, "tensors": {}}
    for name, t in tensors.items():
        f = t.to(torch.float32).contiguous().reshape(-1)
        bits = f.numpy().view(np.uint32).tolist()
        entry = {
            "dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                      torch.float64: "F64", torch.int64: "I64"}[t.dtype],
            "shape": list(t.shape),
            "f32_bits": bits,
            "f32_repr": [repr(float(x)) for x in f.tolist()],
        }
        if t.dtype == torch.int64:
            entry["int64"] = t.reshape(-1).tolist()
        expected["tensors"][name] = entry
    with open(os.path.join(OUT, "golden_expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True)
        fh.write("\n")
    # Sanity: reading back gives the same values (torch loader: numpy has no bfloat16).
    back = torch_load_file(path)
    for name, t in tensors.items():
        assert back[name].dtype == t.dtype and torch.equal(back[name], t), name
    print(f"wrote {path} ({os.path.getsize(path)} bytes) and golden_expected.json")


def check(path):
    loaded = np_load_file(path)
    assert sorted(loaded) == sorted(SWIFT_WRITTEN), (sorted(loaded), sorted(SWIFT_WRITTEN))
    for name, want in SWIFT_WRITTEN.items():
        got = loaded[name]
        assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
        assert got.shape == want.shape, (name, got.shape, want.shape)
        # Bit-exact (so -0.0 stays -0.0).
        assert got.tobytes() == want.tobytes(), (name, got, want)
    with safe_open(path, framework="numpy") as fh:
        assert fh.metadata() == SWIFT_METADATA, fh.metadata()
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
    assert n % 8 == 0, f"header length {n} is not a multiple of 8"
    print(f"OK: {path} read back by safetensors.numpy: {len(loaded)} tensors, metadata {SWIFT_METADATA}")


if __name__ == "__main__":
    if "--check" in sys.argv:
        rest = [a for a in sys.argv[1:] if a != "--check"]
        check(rest[0] if rest else os.path.join(OUT, "swift_written.safetensors"))
    else:
        make()
