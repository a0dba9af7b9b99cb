#!/usr/bin/env python3
"""PyTorch reference for the `dynamics_regression` target (SeqDance heads + loss).

Writes Tests/PLMKitTests/Fixtures/dynamics/:
  parity_store.h5        a SeqDance-layout feature store (h5py, same layout as
                         Sources/PLMData/HDF5/FeatureStore.swift): three MD proteins
                         (one two-chain with an <eos><cls> linker, one with a missing
                         residue) and two NMA proteins (one with a missing residue), with
                         synthetic but valid values (frequencies sum to 1 or are all-zero
                         rows, interaction maps symmetric and non-negative, correlations in
                         [-1, 1] with diagonal 1, raw RMSF in nm).
  heads.safetensors      fixed head weights under the published SeqDance names
                         (res_pred_nn.0.weight, ..., pair_pred_linear.bias); biases are
                         non-zero on purpose so that they are tested.
  expected.safetensors   for the MD batch (group md; also the loss under the idrome
                         column) and the NMA batch (group nma):
                           <batch>.tokens            [B, T] token ids (as float32)
                           <batch>.loss              [1]
                           <batch>.loss_idrome       [1] (md batch only)
                           <batch>.feature_losses    [23] per-feature losses (SeqDanceSchema
                                                     order), -1 where the batch has none
                           <batch>.grad.<param>      gradient of <batch>.loss for every head
                                                     parameter and a few encoder parameters
                                                     (HF EsmForMaskedLM names, esm.*)

The encoder is the tiny fixture model Tests/PLMNNTests/Fixtures/esm/tiny_rotary
(HF EsmModel, eager attention, d 64, 2 layers x 4 heads, no dropout). Everything
runs in float64 and is saved as float32. The heads and loss below are written
from docs SEQDANCE.md, in the per-protein loop form of SeqDance's
`calculate_loss` (a different formulation from the vectorised Swift code).

  /root/.cache/plm-reference/bin/python scripts/reference/dynamics/make_fixtures.py
"""
import os

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import EsmModel

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
MODEL = os.path.join(ROOT, "Tests", "PLMNNTests", "Fixtures", "esm", "tiny_rotary")
OUT = os.path.join(ROOT, "Tests", "PLMKitTests", "Fixtures", "dynamics")

VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K",
         "Q", "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>"]
PAD = 1

RES_IDX = {"sasa_mean": [0], "sasa_std": [1], "rmsf_nor": [2], "ss": list(range(3, 11)), "chi": list(range(11, 23)),
           "phi": list(range(23, 35)), "psi": list(range(35, 47)), "nma_res1": [47], "nma_res2": [48], "nma_res3": [49]}
PAIR_IDX = {n: i for i, n in enumerate(["vdw", "hbbb", "hbsb", "hbss", "hp", "sb", "pc", "ps", "ts", "corr",
                                        "nma_pair1", "nma_pair2", "nma_pair3"])}
FEATURES = list(RES_IDX) + list(PAIR_IDX)
MD_W = dict(zip(["sasa_mean", "sasa_std", "rmsf_nor", "ss", "chi", "phi", "psi", "vdw", "hbbb", "hbsb", "hbss", "hp",
                 "sb", "pc", "ps", "ts", "corr"],
                [0.073041, 0.322492, 0.223793, 0.150150, 0.303766, 0.296824, 0.243907, 0.348042, 0.808236, 1.370723,
                 1.649684, 1.253907, 2.270222, 3.565133, 9.039787, 11.854707, 0.588429]))
IDROME_W = dict(zip(list(MD_W), [0.085186, 0.489036, 0.330730, 0.746969, 0.354448, 1.235156, 1.443703, 0.430570,
                                 1.058827, 1.248722, 2.149983, 1.771494, 3.241234, 4.454829, 17.344838, 15.784302,
                                 0.447994]))
NMA_W = {"nma_res1": 16.533815, "nma_res2": 16.533815, "nma_res3": 16.533815,
         "nma_pair1": 0.829644, "nma_pair2": 1.594754, "nma_pair3": 2.974789}
WEIGHTS = {"md": MD_W, "idrome": IDROME_W, "nma": NMA_W}


def tokens_of(seq):
    out, i = [], 0
    while i < len(seq):
        if seq[i] == "<":
            j = seq.index(">", i)
            out.append(seq[i:j + 1]); i = j + 1
        else:
            out.append(seq[i]); i += 1
    return out


def encode(seq):
    return [0] + [VOCAB.index(t) for t in tokens_of(seq)] + [2]


# --- synthetic, valid features ------------------------------------------------

def freq_rows(rng, L, bins, zero_rows=()):
    x = rng.gamma(0.6, size=(L, bins))
    x /= x.sum(1, keepdims=True)
    for r in zero_rows:
        x[r] = 0
    return x


def sym(x):
    return (x + x.transpose(1, 0, 2)) / 2


def md_features(rng, L):
    res = np.concatenate([
        rng.uniform(0, 2.0, (L, 1)), rng.uniform(0, 0.4, (L, 1)), rng.uniform(0.05, 0.6, (L, 1)),
        freq_rows(rng, L, 8), freq_rows(rng, L, 12, zero_rows=[1]), freq_rows(rng, L, 12, zero_rows=[0]),
        freq_rows(rng, L, 12, zero_rows=[L - 1])], axis=1)
    inter = sym(np.where(rng.uniform(size=(L, L, 9)) < 0.3, rng.uniform(0, 1.5, (L, L, 9)), 0.0)) ** (1 / 3)
    corr = sym(rng.uniform(-1, 1, (L, L, 1)))
    corr[np.arange(L), np.arange(L)] = 1
    return res, np.concatenate([inter, corr], axis=2)


def nma_features(rng, L):
    res = rng.uniform(0, 0.08, (L, 3))
    pair = sym(rng.uniform(-1, 1, (L, L, 3)))
    pair[np.arange(L), np.arange(L)] = 1
    return res, pair


def embed(res, pair, specials):
    L = res.shape[0]
    r = np.full((L + 2, res.shape[1]), -1.0, np.float32)
    p = np.full((L + 2, L + 2, pair.shape[2]), -1.0, np.float32)
    r[1:L + 1] = res
    p[1:L + 1, 1:L + 1] = pair
    for s in specials:
        r[s] = -1; p[s] = -1; p[:, s] = -1
    return r, p


PROTEINS = [  # name, sequence, source, kind, extra invalid token positions
    ("md_a", "MKTAYIAKQRQISFVKSHFSRQ", "ATLAS", "md", [5]),
    ("md_b", "GSHMKL<eos><cls>AVLEEK", "GPCRmd", "md", []),
    ("md_c", "PEVKLWCNQ", "PED", "md", []),
    ("nma_a", "MSDNEKLVAGHTYRWQ", "proteinflow_pdb", "nma", []),
    ("nma_b", "GAMVKTYPLEE", "proteinflow_pdb", "nma", [3]),
]


def write_store(path, rng):
    data = {}
    with h5py.File(path, "w", libver=("earliest", "v110")) as f:
        f.attrs["layout"] = "seqdance-features"
        f.attrs["layout_version"] = np.int64(1)
        for name, seq, source, kind, extra in PROTEINS:
            L = len(tokens_of(seq))
            res, pair = (md_features if kind == "md" else nma_features)(rng, L)
            specials = [k + 1 for k, t in enumerate(tokens_of(seq)) if len(t) > 1] + extra
            r, p = embed(res.astype(np.float32), pair.astype(np.float32), specials)
            f.create_dataset(name + "_res_feature", data=r)
            f.create_dataset(name + "_pair_feature", data=p)
            data[name] = (r, p)
        meta = f.create_group("metadata")
        s = h5py.string_dtype("utf-8")
        for col, k in [("name", 0), ("sequence", 1), ("source", 2), ("kind", 3)]:
            meta.create_dataset(col, data=[p[k] for p in PROTEINS], dtype=s, maxshape=(None,), chunks=(64,))
        meta.create_dataset("length", data=np.array([len(tokens_of(p[1])) for p in PROTEINS], np.int64),
                            maxshape=(None,), chunks=(64,))
    return data


# --- heads and loss (docs SEQDANCE.md) ----------------------------------------

def mlp(d, out):
    return nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d), nn.Dropout(0.1), nn.Linear(d, out))


class Heads(nn.Module):
    def __init__(self, d, layers, heads, pair_hidden):
        super().__init__()
        self.res_pred_nn = mlp(d, 50)
        self.res_transform_nn = mlp(d, 2 * d)
        self.pair_middle_linear = nn.Linear(2 * d, pair_hidden)
        self.pair_pred_linear = nn.Linear(pair_hidden + layers * heads, 13)

    def forward(self, h, attentions):
        res = self.res_pred_nn(h)
        out = {}
        for f, cols in RES_IDX.items():
            x = res[..., cols] if len(cols) > 1 else res[..., cols[0]]
            if f == "rmsf_nor":
                out[f] = torch.sigmoid(x)
            elif f in ("ss", "chi", "phi", "psi"):
                out[f] = torch.softmax(x, -1)
            else:
                out[f] = F.softplus(x, beta=1, threshold=2)
        q, k = self.res_transform_nn(h).chunk(2, dim=-1)
        prod = q[:, None, :, :] * k[:, :, None, :]          # [B, i, j] = q_j * k_i
        diff = q[:, None, :, :] - k[:, :, None, :]
        mid = F.gelu(self.pair_middle_linear(torch.cat([prod, diff], -1)))
        attn = torch.cat(attentions, 1).permute(0, 2, 3, 1)  # layer-major channels
        pair = self.pair_pred_linear(torch.cat([mid, attn], -1))
        for f, c in PAIR_IDX.items():
            x = pair[..., c]
            out[f] = torch.sigmoid(x) * 2 - 1 if f in ("corr", "nma_pair1", "nma_pair2", "nma_pair3") \
                else F.softplus(x, beta=1, threshold=2)
        return out


def loss_fn(out, res_t, pair_t, kind, column):
    """Per feature: mean over proteins of sqrt(mean((pred - target)^2)) over valid elements; weighted sum."""
    res_mask = res_t[:, :, 0] != -1
    pair_mask = pair_t[:, :, :, 0] != -1
    losses = {}
    for f in FEATURES:
        if f.startswith("nma_") != (kind == "nma"):
            continue
        per = []
        for p in range(res_t.shape[0]):
            if f in RES_IDX:
                cols = RES_IDX[f] if kind == "md" else [c - 47 for c in RES_IDX[f]]
                pred = out[f][p][res_mask[p]]
                tgt = res_t[p][:, cols][res_mask[p]]
                if len(cols) == 1:
                    tgt = tgt[:, 0]
            else:
                c = PAIR_IDX[f] if kind == "md" else PAIR_IDX[f] - 10
                pred = out[f][p][pair_mask[p]]
                tgt = pair_t[p, :, :, c][pair_mask[p]]
            per.append(torch.sqrt(F.mse_loss(pred, tgt)))
        losses[f] = torch.stack(per).mean()
    total = sum(losses[f] * WEIGHTS[column].get(f, 0.0) for f in losses)
    return total, losses


def batch_tensors(names, data):
    toks = [encode(next(p[1] for p in PROTEINS if p[0] == n)) for n in names]
    T = max(len(t) for t in toks)
    ids = torch.full((len(names), T), PAD, dtype=torch.long)
    for b, t in enumerate(toks):
        ids[b, :len(t)] = torch.tensor(t)
    cr, cp = data[names[0]][0].shape[1], data[names[0]][1].shape[2]
    res = torch.full((len(names), T, cr), -1.0, dtype=torch.float64)
    pair = torch.full((len(names), T, T, cp), -1.0, dtype=torch.float64)
    for b, n in enumerate(names):
        r, p = data[n]
        r = torch.tensor(r, dtype=torch.float64)
        if cr == 47:  # SeqDance's loader: RMSF / max over valid residues (MD only)
            valid = r[:, 2] != -1
            r[valid, 2] = r[valid, 2] / r[valid, 2].max()
        res[b, :r.shape[0]] = r
        pair[b, :p.shape[0], :p.shape[1]] = torch.tensor(p, dtype=torch.float64)
    return ids, res, pair


ENCODER_GRADS = ["embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
                 "encoder.layer.0.attention.self.key.bias", "encoder.layer.1.output.dense.weight",
                 "encoder.emb_layer_norm_after.weight"]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    data = write_store(os.path.join(OUT, "parity_store.h5"), rng)

    torch.manual_seed(0)
    enc = EsmModel.from_pretrained(MODEL, add_pooling_layer=False, attn_implementation="eager").double().eval()
    cfg = enc.config
    heads = Heads(cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads,
                  cfg.num_hidden_layers * cfg.num_attention_heads).double().eval()
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in heads.named_parameters():
            if name.endswith("weight") and p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * (1.5 / p.shape[1] ** 0.5))
            elif "res_pred_nn.2" in name or "res_transform_nn.2" in name:  # LayerNorm
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    save_file({k: v.float().contiguous() for k, v in heads.state_dict().items()}, os.path.join(OUT, "heads.safetensors"),
              metadata={"generator": "scripts/reference/dynamics/make_fixtures.py"})

    expected = {}
    for batch, names, kind, column in [("md", ["md_a", "md_b", "md_c"], "md", "md"),
                                       ("nma", ["nma_a", "nma_b"], "nma", "nma")]:
        ids, res_t, pair_t = batch_tensors(names, data)
        enc.zero_grad(); heads.zero_grad()
        o = enc(input_ids=ids, attention_mask=(ids != PAD).long(), output_attentions=True)
        out = heads(o.last_hidden_state, o.attentions)
        total, losses = loss_fn(out, res_t, pair_t, kind, column)
        total.backward()
        expected[f"{batch}.tokens"] = ids.float()
        expected[f"{batch}.loss"] = total.detach().float().reshape(1)
        expected[f"{batch}.feature_losses"] = torch.tensor([losses[f].item() if f in losses else -1.0 for f in FEATURES])
        if kind == "md":
            alt, _ = loss_fn(out, res_t, pair_t, kind, "idrome")
            expected[f"{batch}.loss_idrome"] = alt.detach().float().reshape(1)
        for n, p in heads.named_parameters():
            expected[f"{batch}.grad.{n}"] = p.grad.float().clone()
        for n in ENCODER_GRADS:
            expected[f"{batch}.grad.esm.{n}"] = dict(enc.named_parameters())[n].grad.float().clone()
        print(batch, "loss", total.item(), {f: round(v.item(), 5) for f, v in losses.items()})
    save_file({k: v.contiguous() for k, v in expected.items()}, os.path.join(OUT, "expected.safetensors"),
              metadata={"generator": "scripts/reference/dynamics/make_fixtures.py"})


if __name__ == "__main__":
    main()
