#!/usr/bin/env python3
"""S-PLM contrastive-objective golden values from PyTorch.

Writes one safetensors file with, per case (name prefix):

  ntxent.*      NT-Xent over fixed embeddings a, b [5, 8] at two temperatures:
                loss, d loss / d a, d loss / d b, top-1 retrieval b -> a.
  proj.*        two projectors Linear(in, 12) -> BatchNorm1d -> ReLU -> Linear(12, 8)
                with fixed weights (BatchNorm affine and running stats not at
                their defaults) in training mode: NT-Xent(tau 0.1) of
                (structure projector(xs), sequence projector(xq)), the gradient
                of every parameter and input, the running statistics after the
                step, and eval-mode outputs with the updated statistics.
  dmap.*        the distance-map transform (d_c - clip(D, 0, d_c)) / d_c for
                thresholds [8, 15, 22] of 13 CA atoms, and its 4 x 4 patches
                (zero-padded to 16 x 16, flattened as Conv2d(3, d, 4, stride 4)
                reads them: (c, py, px)).
  enc_<v>.*     the distance-map encoder (patch Linear + 2-D positions + 2
                pre-LN transformer blocks + LayerNorm + masked mean over valid
                patches) on a batch of two chains (13 and 7 residues), for
                v = global (sinusoidal positions, global attention) and
                v = window (learned positions, 2 x 2 windows in block 0):
                weights under enc_<v>.w.<Swift parameter name>, output
                embeddings [2, 16], and the gradient of sum(out * r) for every
                weight.

  ~/.cache/plm-reference/bin/python scripts/reference/contrastive/make_fixtures.py \
      Tests/PLMKitTests/Fixtures/contrastive/contrastive.safetensors
"""
import math, sys
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(11)
out = {}


def put(name, t):
    out[name] = t.detach().to(torch.float32).contiguous().clone()


def nt_xent(a, b, tau):
    n = a.shape[0]
    z = F.normalize(torch.cat([a, b]), dim=1)
    logits = z @ z.T / tau
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, targets)


def top1(q, k):
    s = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T
    return (s.argmax(dim=1) == torch.arange(q.shape[0])).float().mean()


# --- NT-Xent on fixed embeddings -------------------------------------------
a0, b0 = torch.randn(5, 8), torch.randn(5, 8)
b0[:3] = a0[:3] + 0.3 * torch.randn(3, 8)   # some pairs agree, some do not
put("ntxent.a", a0); put("ntxent.b", b0)
for tag, tau in [("t005", 0.05), ("t05", 0.5)]:
    a, b = a0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
    loss = nt_xent(a, b, tau)
    loss.backward()
    put(f"ntxent.{tag}.loss", loss.reshape(1)); put(f"ntxent.{tag}.grad_a", a.grad); put(f"ntxent.{tag}.grad_b", b.grad)
put("ntxent.top1_b_to_a", top1(b0, a0).reshape(1))


# --- projectors with BatchNorm ---------------------------------------------
def projector(inp):
    p = torch.nn.Sequential(torch.nn.Linear(inp, 12), torch.nn.BatchNorm1d(12), torch.nn.ReLU(), torch.nn.Linear(12, 8))
    with torch.no_grad():
        p[1].weight.uniform_(0.5, 1.5); p[1].bias.uniform_(-0.3, 0.3)
        p[1].running_mean.uniform_(-0.2, 0.2); p[1].running_var.uniform_(0.5, 2.0)
    return p


def swift_names(p):  # Sequential indices -> Swift's fc1 / bn / fc2
    return {"0": "fc1", "1": "bn", "3": "fc2"}


ps, pq = projector(7), projector(10)
for tag, p in [("struct", ps), ("seq", pq)]:
    m = swift_names(p)
    for k, v in p.state_dict().items():
        i, rest = k.split(".", 1)
        if rest == "num_batches_tracked":
            continue
        put(f"proj.{tag}.w.{m[i]}.{rest}", v)
xs, xq = torch.randn(6, 7, requires_grad=True), torch.randn(6, 10, requires_grad=True)
put("proj.xs", xs); put("proj.xq", xq)
ps.train(); pq.train()
zs, zq = ps(xs), pq(xq)
loss = nt_xent(zs, zq, 0.1)
loss.backward()
put("proj.loss", loss.reshape(1)); put("proj.zs", zs); put("proj.zq", zq)
put("proj.grad_xs", xs.grad); put("proj.grad_xq", xq.grad)
for tag, p in [("struct", ps), ("seq", pq)]:
    m = swift_names(p)
    for k, v in p.named_parameters():
        i, rest = k.split(".", 1)
        put(f"proj.{tag}.grad.{m[i]}.{rest}", v.grad)
    put(f"proj.{tag}.after.bn.running_mean", p[1].running_mean); put(f"proj.{tag}.after.bn.running_var", p[1].running_var)
ps.eval(); pq.eval()
with torch.no_grad():
    put("proj.eval_zs", ps(xs)); put("proj.eval_zq", pq(xq))


# --- distance map and patches ----------------------------------------------
def channels(ca, thresholds):
    d = torch.cdist(ca.double(), ca.double()).float()
    return torch.stack([(t - d.clamp(0, t)) / t for t in thresholds])          # [C, L, L]


def patchify(m, p, g):
    c, l, _ = m.shape
    full = F.pad(m, (0, g * p - l, 0, g * p - l))                              # pad value 0
    return full.reshape(c, g, p, g, p).permute(1, 3, 0, 2, 4).reshape(g * g, c * p * p)


ca = torch.randn(13, 3) * 6
put("dmap.ca", ca)
m = channels(ca, [8.0, 15.0, 22.0])
put("dmap.channels", m); put("dmap.patches", patchify(m, 4, 4))


# --- distance-map encoder ---------------------------------------------------
D, H, FF, P, TH = 16, 2, 32, 4, [10.0, 22.0]


def sincos(g, d):
    q = d // 4
    w = torch.tensor([10000.0 ** (-k / q) for k in range(q)], dtype=torch.float64)
    gy, gx = torch.meshgrid(torch.arange(g, dtype=torch.float64), torch.arange(g, dtype=torch.float64), indexing="ij")
    gy, gx = gy.reshape(-1, 1) * w, gx.reshape(-1, 1) * w
    return torch.cat([gy.sin(), gy.cos(), gx.sin(), gx.cos()], dim=1).float()


def block(x, pad, w):                   # x [B', N', D], pad [B', N'] (True = padding)
    b, n, d = x.shape
    h = F.layer_norm(x, (d,), w["norm1.weight"], w["norm1.bias"], 1e-5)
    def split(y): return y.reshape(b, n, H, d // H).permute(0, 2, 1, 3)
    q = split(F.linear(h, w["query.weight"], w["query.bias"]))
    k = split(F.linear(h, w["key.weight"], w["key.bias"]))
    v = split(F.linear(h, w["value.weight"], w["value.bias"]))
    s = (q @ k.transpose(-1, -2)) / math.sqrt(d // H)
    s = s.masked_fill(pad[:, None, None, :], float("-inf"))
    # Windows with no valid patch get uniform weights (as the Swift kernel); their
    # outputs never reach the pooled embedding. Zero scores there keep softmax NaN-free.
    allpad = pad.all(dim=1)
    probs = torch.where(allpad[:, None, None, None], torch.zeros_like(s), s).softmax(-1)
    ctx = (probs @ v).permute(0, 2, 1, 3).reshape(b, n, d)
    x = x + F.linear(ctx, w["output.weight"], w["output.bias"])
    f = F.linear(F.gelu(F.linear(F.layer_norm(x, (d,), w["norm2.weight"], w["norm2.bias"], 1e-5), w["fc1.weight"], w["fc1.bias"])),
                 w["fc2.weight"], w["fc2.bias"])
    return x + f


def encoder(cas, w, positions, window, g):
    b, n = len(cas), g * g
    xs, pads = [], []
    for c in cas:
        l = c.shape[0]
        xs.append(patchify(channels(c, TH), P, g))
        nv = (l + P - 1) // P
        valid = torch.zeros(g, g, dtype=torch.bool); valid[:nv, :nv] = True
        pads.append(~valid.reshape(-1))
    x, pad = torch.stack(xs), torch.stack(pads)
    x = F.linear(x, w["patch_embed.weight"], w["patch_embed.bias"])
    if positions == "sinusoidal":
        x = x + sincos(g, D)
    else:
        r = torch.arange(g).repeat_interleave(g); cc = torch.arange(g).repeat(g)
        x = x + w["row_embeddings"][r] + w["col_embeddings"][cc]
    for i in range(2):
        bw = {k[len(f"blocks.{i}."):]: v for k, v in w.items() if k.startswith(f"blocks.{i}.")}
        if window and i < 1:
            nw = g // window
            xw = x.reshape(b, nw, window, nw, window, D).permute(0, 1, 3, 2, 4, 5).reshape(b * nw * nw, window * window, D)
            pw = pad.reshape(b, nw, window, nw, window).permute(0, 1, 3, 2, 4).reshape(b * nw * nw, window * window)
            y = block(xw, pw, bw)
            x = y.reshape(b, nw, nw, window, window, D).permute(0, 1, 3, 2, 4, 5).reshape(b, n, D)
        else:
            x = block(x, pad, bw)
    x = F.layer_norm(x, (D,), w["norm.weight"], w["norm.bias"], 1e-5)
    keep = (~pad).float()[..., None]
    return (x * keep).sum(1) / keep.sum(1)


def make_weights(positions, c, g):
    w = {"patch_embed.weight": torch.randn(D, c * P * P) * 0.2, "patch_embed.bias": torch.randn(D) * 0.1,
         "norm.weight": 1 + 0.1 * torch.randn(D), "norm.bias": 0.1 * torch.randn(D)}
    if positions == "learned":
        w["row_embeddings"] = torch.randn(g, D) * 0.3; w["col_embeddings"] = torch.randn(g, D) * 0.3
    for i in range(2):
        for nm, shape in [("query", (D, D)), ("key", (D, D)), ("value", (D, D)), ("output", (D, D)), ("fc1", (FF, D)), ("fc2", (D, FF))]:
            w[f"blocks.{i}.{nm}.weight"] = torch.randn(*shape) / math.sqrt(shape[1])
            w[f"blocks.{i}.{nm}.bias"] = torch.randn(shape[0]) * 0.1
        for nm in ["norm1", "norm2"]:
            w[f"blocks.{i}.{nm}.weight"] = 1 + 0.1 * torch.randn(D); w[f"blocks.{i}.{nm}.bias"] = 0.1 * torch.randn(D)
    return {k: v.requires_grad_(True) for k, v in w.items()}


cas = [torch.randn(13, 3) * 5, torch.randn(7, 3) * 5]
put("enc.ca0", cas[0]); put("enc.ca1", cas[1])
r = torch.randn(2, D)
put("enc.r", r)
for tag, positions, window in [("global", "sinusoidal", 0), ("window", "learned", 2)]:
    g = math.ceil(13 / P)
    if window: g = math.ceil(g / window) * window
    w = make_weights(positions, len(TH), g)
    y = encoder(cas, w, positions, window, g)
    (y * r).sum().backward()
    put(f"enc_{tag}.out", y)
    for k, v in w.items():
        put(f"enc_{tag}.w.{k}", v); put(f"enc_{tag}.grad.{k}", v.grad)

save_file(out, sys.argv[1], metadata={"generator": "scripts/reference/contrastive/make_fixtures.py", "torch": torch.__version__})
print(len(out), "tensors ->", sys.argv[1])
