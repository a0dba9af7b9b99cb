#!/usr/bin/env python3
"""Golden values for PLMTensor's composite ops, computed with PyTorch.

Each case stores its inputs, the op's output, and the gradients of
L = sum(output * w) with respect to every float input, for a fixed random w.
Run with the reference venv (../shared/bench/setup_reference.sh):

    $(REF_ENV)/bin/python scripts/reference/tensor/make_fixtures.py \
        Tests/PLMTensorTests/Fixtures/torch_ops.json

CI never runs this; the JSON it writes is committed.
"""
import json, math, sys
import torch
import torch.nn.functional as F

torch.manual_seed(1234)
cases = []

def t(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float32) * scale)

def add_case(name, inputs, fn, params=None, ints=None, masks=None):
    """inputs: dict name -> float tensor; fn(**tensors) -> output tensor."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves)
    w = torch.randn(out.shape, dtype=torch.float32)
    (out * w).sum().backward()
    cases.append({
        "name": name,
        "params": params or {},
        "inputs": {k: {"shape": list(v.shape), "values": v.flatten().tolist()} for k, v in inputs.items()},
        "ints": {k: {"shape": list(v.shape), "values": v.flatten().tolist()} for k, v in (ints or {}).items()},
        "masks": {k: {"shape": list(v.shape), "values": [bool(b) for b in v.flatten().tolist()]} for k, v in (masks or {}).items()},
        "output": {"shape": list(out.shape), "values": out.detach().flatten().tolist()},
        "w": w.flatten().tolist(),
        "grads": {k: leaves[k].grad.flatten().tolist() for k in inputs},
    })

# Element-wise and normalisations
add_case("gelu", {"x": t(3, 7, scale=2)}, lambda x: F.gelu(x))
add_case("softplus", {"x": t(4, 5, scale=8)}, lambda x: F.softplus(x, beta=2.0, threshold=5.0),
         params={"beta": 2.0, "threshold": 5.0})
add_case("softmax", {"x": t(2, 3, 9, scale=3)}, lambda x: torch.softmax(x, -1))
add_case("log_softmax", {"x": t(5, 11, scale=3)}, lambda x: torch.log_softmax(x, -1))
add_case("layer_norm", {"x": t(2, 5, 16, scale=2) + 0.5, "w": t(16) + 1, "b": t(16)},
         lambda x, w, b: F.layer_norm(x, (16,), w, b, eps=1e-5), params={"eps": 1e-5})
add_case("normalize", {"x": t(4, 6)}, lambda x: F.normalize(x, dim=-1))
add_case("cosine", {"a": t(3, 4, 8), "b": t(3, 4, 8)}, lambda a, b: F.cosine_similarity(a, b, dim=-1, eps=1e-8))
add_case("mse", {"x": t(3, 5), "y": t(3, 5)}, lambda x, y: F.mse_loss(x, y))

# Cross-entropy with ignore index (fused log-softmax)
targets = torch.tensor([3, -100, 0, 6, 2, -100, 1], dtype=torch.int64)
add_case("cross_entropy", {"logits": t(7, 8, scale=2)},
         lambda logits: F.cross_entropy(logits, targets, ignore_index=-100),
         ints={"targets": targets})

# Broadcasting arithmetic
add_case("broadcast_arith", {"a": t(2, 1, 4), "b": t(3, 1), "c": t(4) + 3},
         lambda a, b, c: (a + b) * c - a / c)

# Matmul: linear layer (x @ W^T + bias) and batched with transposes
add_case("linear", {"x": t(2, 3, 5), "W": t(4, 5), "bias": t(4)}, lambda x, W, bias: x @ W.T + bias)
add_case("bmm_tt", {"a": t(2, 3, 6, 4), "b": t(2, 3, 5, 6)},
         lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2))

# Rotary (ESM-2 / GPT-NeoX rotate-half), written out as HF's EsmRotaryEmbedding does it
def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)
dh = 8
inv_freq = 1.0 / (10000 ** (torch.arange(0, dh, 2, dtype=torch.int64).float() / dh))
def rotary(x):
    T = x.shape[-2]
    tt = torch.arange(T).type_as(inv_freq)
    freqs = torch.outer(tt, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos()[None, None] + rotate_half(x) * emb.sin()[None, None]
add_case("rotary", {"x": t(2, 3, 6, dh)}, rotary, params={"inv_freq": inv_freq.tolist()})

# Scaled-dot-product attention with key padding (batch 2, heads 3, T 5, Dh 4)
kpm = torch.tensor([[False, False, False, True, True], [False, False, False, False, False]])
def sdpa(q, k, v):
    mask = (~kpm)[:, None, None, :]  # True = attend
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
add_case("sdpa", {"q": t(2, 3, 5, 4), "k": t(2, 3, 5, 4), "v": t(2, 3, 5, 4)}, sdpa, masks={"key_padding": kpm})
def probs(q, k):
    s = (q @ k.transpose(-1, -2)) * 0.5
    s = s.masked_fill(kpm[:, None, None, :], float("-inf"))
    return torch.softmax(s, -1)
add_case("attention_probs", {"q": t(2, 3, 5, 4), "k": t(2, 3, 5, 4)}, probs,
         masks={"key_padding": kpm}, params={"scale": 0.5})

out = sys.argv[1] if len(sys.argv) > 1 else "torch_ops.json"
with open(out, "w") as f:
    json.dump({"generator": "scripts/reference/tensor/make_fixtures.py",
               "torch": torch.__version__, "cases": cases}, f)
print(f"wrote {len(cases)} cases to {out}")
