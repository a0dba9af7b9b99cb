#!/usr/bin/env python3
"""Optimizer, clipping and schedule golden values from PyTorch.

  ~/.cache/plm-reference/bin/python scripts/reference/optim/make_fixtures.py Tests/PLMNNTests/Fixtures/optim.json
"""
import json, sys
import torch

torch.manual_seed(3)
p0 = torch.randn(2, 3)
grads = [torch.randn(2, 3) * s for s in (1.0, 0.5, 2.0, 0.1)]

def run(make):
    p = p0.clone().requires_grad_(True)
    opt = make([p])
    traj = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        traj.append(p.detach().flatten().tolist())
    return traj

cases = {
    "p0": p0.flatten().tolist(), "grads": [g.flatten().tolist() for g in grads],
    "adamw": run(lambda ps: torch.optim.AdamW(ps, lr=0.05, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.01)),
    "sgd": run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=5e-4)),
    "sgd_nesterov": run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
}
# clipping
a, b = torch.randn(4, requires_grad=True), torch.randn(3, 2, requires_grad=True)
a.grad, b.grad = torch.randn(4) * 3, torch.randn(3, 2) * 3
cases["clip_input"] = {"a": a.grad.tolist(), "b": b.grad.flatten().tolist()}
norm = torch.nn.utils.clip_grad_norm_([a, b], 1.0)
cases["clip_norm"] = {"norm": norm.item(), "a": a.grad.tolist(), "b": b.grad.flatten().tolist()}
json.dump(cases, open(sys.argv[1], "w"), indent=1)
print("ok")
