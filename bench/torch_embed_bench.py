#!/usr/bin/env python3
"""Reference for the `plm embed` benchmark: HuggingFace transformers (PyTorch,
CPU) embedding a FASTA the way a careful user would -- sequences sorted by
length and batched under a token budget (padding only within a batch), no
grad, mean of the last hidden state over residues (BOS/EOS excluded), the
same quantity `plm embed` stores as `mean`.

  python torch_embed_bench.py --model DIR --fasta seqs.fasta --max-tokens 8192 --threads 2

DIR is a HuggingFace ESM-2 directory (config.json + model.safetensors);
`--save-random PRESET DIR` writes a random-init one first (both tools then
load the same weights). Prints one JSON line: sequences, residues, seconds,
sequences/s, tokens/s (tokens = residues + 2 per sequence), peak RSS, and the
checksum of the embeddings (sum of the squared norms of all means) for a cross-check with plm.
"""
import argparse, json, os, resource, sys, time

if "MALLOC_MMAP_THRESHOLD_" not in os.environ:  # as torch_esm_bench.py: give PyTorch its best
    os.environ["MALLOC_MMAP_THRESHOLD_"] = os.environ["MALLOC_TRIM_THRESHOLD_"] = str(1 << 32)
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch
from transformers import EsmConfig, EsmForMaskedLM, EsmModel

PRESETS = {"t6_8M": (6, 320, 20), "t12_35M": (12, 480, 20), "t30_150M": (30, 640, 20)}
VOCAB = "<cls> <pad> <eos> <unk> L A G V S E R T I D P K Q N F Y M H W C X B U Z O . - <null_1> <mask>".split()


def read_fasta(path):
    recs, name, seq = [], None, []
    for line in open(path):
        line = line.strip()
        if line.startswith(">"):
            if name is not None:
                recs.append((name, "".join(seq)))
            name, seq = line[1:].split()[0], []
        elif line:
            seq.append(line)
    if name is not None:
        recs.append((name, "".join(seq)))
    return recs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model")
    p.add_argument("--fasta")
    p.add_argument("--max-tokens", type=int, default=8192)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-random", nargs=2, metavar=("PRESET", "DIR"))
    a = p.parse_args()
    if a.save_random:
        layers, d, heads = PRESETS[a.save_random[0]]
        torch.manual_seed(0)
        cfg = EsmConfig(vocab_size=33, pad_token_id=1, mask_token_id=32, position_embedding_type="rotary",
                        max_position_embeddings=1026, token_dropout=True, emb_layer_norm_before=False,
                        layer_norm_eps=1e-5, num_hidden_layers=layers, hidden_size=d,
                        num_attention_heads=heads, intermediate_size=4 * d)
        EsmForMaskedLM(cfg).save_pretrained(a.save_random[1], safe_serialization=True)
        return
    torch.set_num_threads(a.threads)
    model = EsmModel.from_pretrained(a.model, add_pooling_layer=False).eval()
    index = {t: i for i, t in enumerate(VOCAB)}
    recs = read_fasta(a.fasta)
    order = sorted(range(len(recs)), key=lambda i: len(recs[i][1]))
    batches, cur = [], []
    for i in order:  # token budget including padding: (len+2) * rows <= max_tokens
        if cur and (len(recs[i][1]) + 2) * (len(cur) + 1) > a.max_tokens:
            batches.append(cur); cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    checksum, t0 = 0.0, time.perf_counter()
    with torch.inference_mode():
        for b in batches:
            L = max(len(recs[i][1]) for i in b) + 2
            ids = torch.full((len(b), L), 1, dtype=torch.long)
            for r, i in enumerate(b):
                s = recs[i][1]
                ids[r, : len(s) + 2] = torch.tensor([0] + [index.get(c, 3) for c in s] + [2])
            h = model(input_ids=ids, attention_mask=(ids != 1).long()).last_hidden_state
            for r, i in enumerate(b):
                n = len(recs[i][1])
                checksum += float((h[r, 1 : n + 1].mean(0).double() ** 2).sum())
    secs = time.perf_counter() - t0
    res = sum(len(s) for _, s in recs)
    print(json.dumps({"impl": "pytorch", "sequences": len(recs), "residues": res, "batches": len(batches),
                      "seconds": secs, "sequences_per_second": len(recs) / secs,
                      "tokens_per_second": (res + 2 * len(recs)) / secs, "threads": a.threads,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "checksum": checksum, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
