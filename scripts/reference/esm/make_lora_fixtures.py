#!/usr/bin/env python3
"""LoRA golden values with a hand-written PyTorch LoRA on the tiny fixture model.

Each of query/key/value/attention.output.dense in every layer becomes
W x + b + (alpha/r) B A x with A [r, in], B [out, r] drawn at random (B non-zero
so that every gradient is informative). The base model is frozen. Writes
lora_expected.safetensors: the LoRA weights (`<module>.lora_A.weight`,
`<module>.lora_B.weight`), MLM loss and logits on the fixture's masked batch,
and the gradients of every LoRA weight (`grad.<name>`).

  ~/.cache/plm-reference/bin/python scripts/reference/esm/make_lora_fixtures.py Tests/PLMNNTests/Fixtures/esm/tiny_rotary
"""
import os, sys
import torch
from safetensors.torch import load_file, save_file
from transformers import EsmForMaskedLM

R, ALPHA = 4, 8.0
d = sys.argv[1]
exp = load_file(os.path.join(d, "expected.safetensors"))
model = EsmForMaskedLM.from_pretrained(d).eval()
for p in model.parameters():
    p.requires_grad_(False)
g = torch.Generator().manual_seed(21)

class LoRALinear(torch.nn.Module):
    def __init__(self, base):
        super().__init__()
        self.base = base
        self.A = torch.nn.Parameter(torch.randn(R, base.in_features, generator=g) * 0.2)
        self.B = torch.nn.Parameter(torch.randn(base.out_features, R, generator=g) * 0.2)
    def forward(self, x):
        return self.base(x) + (ALPHA / R) * (x @ self.A.T) @ self.B.T

wrapped = {}
for i, layer in enumerate(model.esm.encoder.layer):
    for path, parent, attr in [("attention.self.query", layer.attention.self, "query"),
                               ("attention.self.key", layer.attention.self, "key"),
                               ("attention.self.value", layer.attention.self, "value"),
                               ("attention.output.dense", layer.attention.output, "dense")]:
        w = LoRALinear(getattr(parent, attr))
        setattr(parent, attr, w)
        wrapped[f"esm.encoder.layer.{i}.{path}"] = w
ids, labels = exp["mlm.input_ids"], exp["mlm.labels"]
r = model(input_ids=ids, attention_mask=(ids != 1).long(), labels=labels)
r.loss.backward()
out = {"loss": r.loss.detach().reshape(1), "logits": r.logits.detach().contiguous()}
for name, w in wrapped.items():
    out[f"{name}.lora_A.weight"] = w.A.detach().clone()
    out[f"{name}.lora_B.weight"] = w.B.detach().clone()
    out[f"grad.{name}.lora_A.weight"] = w.A.grad.clone()
    out[f"grad.{name}.lora_B.weight"] = w.B.grad.clone()
save_file(out, os.path.join(d, "lora_expected.safetensors"), metadata={"generator": "scripts/reference/esm/make_lora_fixtures.py", "rank": str(R), "alpha": str(ALPHA)})
print(len(wrapped), "LoRA modules; loss", r.loss.item())
