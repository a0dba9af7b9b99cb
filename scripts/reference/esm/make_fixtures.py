#!/usr/bin/env python3
"""Golden ESM-2 / ESM-1b fixtures from HuggingFace transformers.

Builds small random-init EsmForMaskedLM models, saves each with
save_pretrained (config.json + model.safetensors, the layout users bring), and
writes expected.safetensors with, for a padded batch of real sequences:
  input_ids, attention_mask, lengths, logits, hidden_states.{0..L},
  attentions [B, layers, heads, T, T], contacts [B, T-2, T-2];
  and for one MLM step on a masked copy: mlm.input_ids, mlm.labels,
  mlm.loss, mlm.logits, grad.<parameter name> for every parameter.

Run with the reference venv (../shared/bench/setup_reference.sh):
  ~/.cache/plm-reference/bin/python scripts/reference/esm/make_fixtures.py \
      ../shared/data/sequences/structures_atom_seqs.fasta Tests/PLMNNTests/Fixtures/esm
"""
import json, os, sys
import torch
from safetensors.torch import save_file
from transformers import EsmConfig, EsmForMaskedLM
import transformers

ALPHABET = ["<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D",
            "P", "K", "Q", "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-",
            "<null_1>", "<mask>"]
IDX = {t: i for i, t in enumerate(ALPHABET)}

def read_fasta(path):
    recs, name, seq = [], None, []
    for line in open(path):
        line = line.strip()
        if line.startswith(">"):
            if name: recs.append((name, "".join(seq)))
            name, seq = line[1:].split()[0], []
        elif line:
            seq.append(line)
    if name: recs.append((name, "".join(seq)))
    return recs

def pick_sequences(path):
    recs = dict(read_fasta(path))
    # Real chains of different lengths: Trp-cage (20), villin headpiece (36), crambin (46).
    wanted = ["1L2Y_A", "1VII_A", "1CRN_A"]
    out = [(n, recs[n]) for n in wanted if n in recs]
    if len(out) < 3:  # fall back to the three shortest distinct-length chains
        by_len = sorted({len(s): (n, s) for n, s in recs.items() if 15 <= len(s) <= 60}.values(), key=lambda r: len(r[1]))
        out = by_len[:3]
    return out

def encode(seqs):
    T = max(len(s) for _, s in seqs) + 2
    ids = torch.full((len(seqs), T), IDX["<pad>"], dtype=torch.int64)
    for b, (_, s) in enumerate(seqs):
        toks = [IDX["<cls>"]] + [IDX[c] for c in s] + [IDX["<eos>"]]
        ids[b, :len(toks)] = torch.tensor(toks)
    return ids, (ids != IDX["<pad>"]).long()

def perturb(model, gen):
    """Move every weight away from its init so tests catch mix-ups (LN weight 1 / bias 0 hide bugs)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
        for mod in model.modules():
            if hasattr(mod, "inv_freq"):
                # Released checkpoints store float16-rounded inverse frequencies.
                mod.inv_freq.copy_(mod.inv_freq.half().float())
        # keep the padding row of the embeddings at zero, as nn.Embedding(padding_idx) does
        model.esm.embeddings.word_embeddings.weight[IDX["<pad>"]].zero_()

def make(name, cfg_kwargs, seqs, out_dir, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    cfg = EsmConfig(vocab_size=33, pad_token_id=1, mask_token_id=32, token_dropout=True,
                    layer_norm_eps=1e-5, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                    initializer_range=0.1, **cfg_kwargs)
    model = EsmForMaskedLM(cfg)
    perturb(model, gen)
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    model.eval()
    ids, am = encode(seqs)
    out = {"input_ids": ids, "attention_mask": am, "lengths": torch.tensor([len(s) for _, s in seqs])}
    with torch.no_grad():
        r = model(input_ids=ids, attention_mask=am, output_hidden_states=True, output_attentions=True)
        out["logits"] = r.logits
        for i, h in enumerate(r.hidden_states):
            out[f"hidden_states.{i}"] = h
        out["attentions"] = torch.stack(r.attentions, dim=1)
        out["contacts"] = model.predict_contacts(ids, am)
    # One MLM step: mask ~15% of the residues (fixed positions), loss on them only.
    g = torch.Generator().manual_seed(seed + 2)
    sel = (torch.rand(ids.shape, generator=g) < 0.15) & (am.bool()) & (ids != IDX["<cls>"]) & (ids != IDX["<eos>"])
    sel[0, 3] = True  # at least one per row
    sel[1, 5] = True
    sel[2, 2] = True
    masked = ids.clone(); masked[sel] = IDX["<mask>"]
    labels = torch.full_like(ids, -100); labels[sel] = ids[sel]
    model.zero_grad()
    r = model(input_ids=masked, attention_mask=am, labels=labels)
    r.loss.backward()
    out["mlm.input_ids"] = masked
    out["mlm.labels"] = labels
    out["mlm.loss"] = r.loss.detach().reshape(1)
    out["mlm.logits"] = r.logits.detach()
    for pname, p in model.named_parameters():
        if p.grad is not None:
            out[f"grad.{pname}"] = p.grad
    out = {k: v.detach().contiguous() for k, v in out.items()}
    save_file(out, os.path.join(d, "expected.safetensors"),
              metadata={"generator": "scripts/reference/esm/make_fixtures.py",
                        "transformers": transformers.__version__, "torch": torch.__version__,
                        "sequences": json.dumps(seqs)})
    print(f"{name}: T={ids.shape[1]} params={sum(p.numel() for p in model.parameters())} loss={r.loss.item():.6f}")

def main():
    fasta, out_dir = sys.argv[1], sys.argv[2]
    seqs = pick_sequences(fasta)
    make("tiny_rotary", dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=256,
                             position_embedding_type="rotary", emb_layer_norm_before=False,
                             max_position_embeddings=256), seqs, out_dir, 11)
    make("small_rotary", dict(num_hidden_layers=3, hidden_size=96, num_attention_heads=6, intermediate_size=384,
                              position_embedding_type="rotary", emb_layer_norm_before=False,
                              max_position_embeddings=256), seqs, out_dir, 12)
    make("tiny_absolute", dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=256,
                               position_embedding_type="absolute", emb_layer_norm_before=True,
                               max_position_embeddings=66), seqs, out_dir, 13)

if __name__ == "__main__":
    main()
