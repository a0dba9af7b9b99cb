#!/usr/bin/env python3
"""Golden values for `plm embed` and `plm score`, from HuggingFace transformers,
on the fixture model written by make_fixtures.py (tiny_rotary).

  ~/.cache/plm-reference/bin/python scripts/reference/esm/make_cli_fixtures.py \
      Tests/PLMNNTests/Fixtures/esm/tiny_rotary ../shared/data/sequences/esm_uniref50_some_proteins.fasta \
      Tests/PLMKitTests/Fixtures

Writes embed_input.fasta (a few real records), embed_expected.safetensors
(per record, each run alone through HF: `ID.mean` [d] = last layer averaged
over residues, BOS/EOS excluded; `ID.per_residue` [L, d]; `ID.logits` [L+2, 33];
`ID.contacts` [L, L]), and score_cases.json (wild type, mutations and the
masked-marginal, wildtype-marginal and pseudo-log-likelihood scores).
"""
import json, os, sys
import torch
from safetensors.torch import save_file
from transformers import EsmForMaskedLM

ALPHABET = ["<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D",
            "P", "K", "Q", "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-",
            "<null_1>", "<mask>"]
IDX = {t: i for i, t in enumerate(ALPHABET)}
MASK = IDX["<mask>"]

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

def ids_of(seq):
    return torch.tensor([[IDX["<cls>"]] + [IDX[c] for c in seq] + [IDX["<eos>"]]])

@torch.no_grad()
def logp(model, ids):
    return torch.log_softmax(model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0], -1)

def parse(mut, wt):
    out = []
    for m in mut.split(":"):
        w, pos, t = m[0], int(m[1:-1]), m[-1]
        assert wt[pos - 1] == w, (m, wt[pos - 1])
        out.append((w, pos, t))
    return out

def main():
    model_dir, fasta, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    model = EsmForMaskedLM.from_pretrained(model_dir).eval()
    recs = [r for r in read_fasta(fasta) if len(r[1]) <= 250][:6]
    with open(os.path.join(out_dir, "embed_input.fasta"), "w") as f:
        for n, s in recs:
            f.write(f">{n}\n")
            for i in range(0, len(s), 60):
                f.write(s[i:i + 60] + "\n")
    exp = {}
    with torch.no_grad():
        for n, s in recs:
            ids = ids_of(s)
            r = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
            h = r.hidden_states[-1][0]
            exp[f"{n}.per_residue"] = h[1:-1].contiguous()
            exp[f"{n}.mean"] = h[1:-1].mean(0)
            exp[f"{n}.logits"] = r.logits[0].contiguous()
            exp[f"{n}.contacts"] = model.predict_contacts(ids, torch.ones_like(ids))[0].contiguous()
    save_file(exp, os.path.join(out_dir, "embed_expected.safetensors"),
              metadata={"generator": "scripts/reference/esm/make_cli_fixtures.py", "records": json.dumps([n for n, _ in recs])})

    # Variant scores on a real wild type (the first record, cropped to 80 residues).
    wt = recs[0][1][:80]
    g = torch.Generator().manual_seed(5)
    aas = "ACDEFGHIKLMNPQRSTVWY"
    muts = []
    while len(muts) < 22:
        p = int(torch.randint(1, len(wt) + 1, (1,), generator=g))
        t = aas[int(torch.randint(0, 20, (1,), generator=g))]
        if t != wt[p - 1]:
            muts.append(f"{wt[p-1]}{p}{t}")
    muts += [f"{muts[0]}:{muts[1]}", f"{muts[2]}:{muts[3]}:{muts[4]}", f"{muts[5]}:{muts[6]}"]
    wt_ids = ids_of(wt)
    wt_lp = logp(model, wt_ids)
    def masked_lp(ids, pos_tok):
        x = ids.clone(); x[0, pos_tok] = MASK
        return logp(model, x)[pos_tok]
    def pll(seq):
        ids = ids_of(seq)
        return sum(masked_lp(ids, i)[ids[0, i]].item() for i in range(1, len(seq) + 1))
    pll_wt = pll(wt)
    cases = []
    for m in muts:
        ms = parse(m, wt)
        mm = sum((masked_lp(wt_ids, p)[IDX[t]] - masked_lp(wt_ids, p)[IDX[w]]).item() for w, p, t in ms)
        wm = sum((wt_lp[p][IDX[t]] - wt_lp[p][IDX[w]]).item() for w, p, t in ms)
        mt = list(wt)
        for w, p, t in ms: mt[p - 1] = t
        pl = pll("".join(mt))
        cases.append({"mutation": m, "masked_marginal": mm, "wt_marginal": wm, "pll": pl, "pll_delta": pl - pll_wt})
    json.dump({"generator": "scripts/reference/esm/make_cli_fixtures.py", "model": "tiny_rotary",
               "wild_type": wt, "pll_wild_type": pll_wt, "cases": cases},
              open(os.path.join(out_dir, "score_cases.json"), "w"), indent=1)
    print(f"embed: {len(recs)} records; score: {len(cases)} mutations on a {len(wt)}-residue wild type")

if __name__ == "__main__":
    main()
