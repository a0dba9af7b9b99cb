#!/usr/bin/env python3
"""One training step of the tiny fixture model in PyTorch, for training-loop parity.

Loads Tests/PLMNNTests/Fixtures/esm/tiny_rotary (written by make_fixtures.py),
computes the MLM loss on its expected.safetensors masked batch, takes one
AdamW step (and, from the same start, one SGD step) and saves every
parameter after the step as adamw.<name> / sgd.<name> in step_expected.safetensors.

  ~/.cache/plm-reference/bin/python scripts/reference/esm/make_step_fixtures.py Tests/PLMNNTests/Fixtures/esm/tiny_rotary
"""
import os, sys
import torch
from safetensors.torch import load_file, save_file
from transformers import EsmForMaskedLM

d = sys.argv[1]
exp = load_file(os.path.join(d, "expected.safetensors"))
out = {}
for name, make in [("adamw", lambda ps: torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.01)),
                   ("adamw_eps6", lambda ps: torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)),
                   ("sgd", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=5e-4))]:
    model = EsmForMaskedLM.from_pretrained(d)
    model.train()
    opt = make(model.parameters())
    r = model(input_ids=exp["mlm.input_ids"], attention_mask=(exp["mlm.input_ids"] != 1).long(), labels=exp["mlm.labels"])
    r.loss.backward()
    opt.step()
    for pname, p in model.named_parameters():
        out[f"{name}.{pname}"] = p.detach().clone().contiguous()
save_file(out, os.path.join(d, "step_expected.safetensors"), metadata={"generator": "scripts/reference/esm/make_step_fixtures.py"})
print(len(out), "tensors")
