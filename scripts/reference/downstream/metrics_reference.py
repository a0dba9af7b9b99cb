#!/usr/bin/env python3
"""Reference values for Plugins/Downstream/Metrics.swift.

Writes Tests/PLMKitTests/Fixtures/downstream/metrics.json: small seeded
inputs and the values scikit-learn / SciPy compute for them (Fmax has no
library implementation; it is computed here with NumPy from its CAFA
definition, independently of the Swift code).

Run with the reference venv (scikit-learn installed with pip there):
    /root/.cache/plm-reference/bin/python scripts/reference/downstream/metrics_reference.py
"""
import json
import os

import numpy as np
import scipy
import sklearn
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

OUT = os.path.join(os.path.dirname(__file__), "../../../Tests/PLMKitTests/Fixtures/downstream/metrics.json")


def fmax(scores, labels):
    """CAFA protein-centric Fmax over thresholds 0.01..1.00 (proteins without labels dropped)."""
    keep = labels.sum(1) > 0
    s, y = scores[keep], labels[keep].astype(bool)
    best = 0.0
    for k in range(1, 101):
        t = k / 100
        p = s >= t
        tp = (p & y).sum(1)
        npred = p.sum(1)
        cov = npred > 0
        if cov.sum() == 0:
            continue
        prec = (tp[cov] / npred[cov]).mean()
        rec = (tp / y.sum(1)).mean()
        if prec + rec > 0:
            best = max(best, 2 * prec * rec / (prec + rec))
    return float(best)


def main():
    rng = np.random.default_rng(20240611)
    cases = {"classification": [], "correlation": [], "binary_auroc": [], "multilabel": []}
    for n, c in [(40, 3), (25, 8), (60, 2)]:
        truth = rng.integers(0, c, n)
        pred = np.where(rng.random(n) < 0.6, truth, rng.integers(0, c, n))
        cases["classification"].append({
            "truth": truth.tolist(), "predicted": pred.tolist(),
            "accuracy": accuracy_score(truth, pred), "macro_f1": f1_score(truth, pred, average="macro"),
        })
    for n in [30, 17]:
        x = rng.normal(size=n)
        y = 0.5 * x + rng.normal(size=n)
        x = np.round(x, 1)  # ties, to exercise average ranks
        cases["correlation"].append({"x": x.tolist(), "y": y.tolist(),
                                     "pearson": float(pearsonr(x, y)[0]), "spearman": float(spearmanr(x, y)[0])})
    for n in [50, 23]:
        lab = rng.integers(0, 2, n)
        sc = np.round(lab * 0.4 + rng.random(n), 1)  # ties
        cases["binary_auroc"].append({"scores": sc.tolist(), "labels": lab.astype(bool).tolist(),
                                      "auroc": float(roc_auc_score(lab, sc))})
    for n, c in [(20, 6), (35, 10)]:
        lab = (rng.random((n, c)) < 0.3).astype(int)
        lab[0] = 0  # a protein without labels (left out of Fmax)
        lab[1:, 0] = np.arange(n - 1) % 2  # both classes in column 0
        sc = np.clip(lab * 0.35 + rng.random((n, c)) * 0.7, 0, 1).round(3)
        cols = [j for j in range(c) if 0 < lab[:, j].sum() < n]
        cases["multilabel"].append({
            "scores": sc.tolist(), "labels": lab.astype(bool).tolist(), "fmax": fmax(sc, lab),
            "macro_auroc": float(roc_auc_score(lab[:, cols], sc[:, cols], average="macro")),
        })
    # single-label multi-class one-vs-rest AUROC
    n, c = 45, 4
    truth = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 1.5 * np.eye(c)[truth]
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    cases["ovr_auroc"] = {"probabilities": prob.tolist(), "truth": truth.tolist(),
                          "auroc": float(roc_auc_score(truth, prob, multi_class="ovr", average="macro"))}
    cases["versions"] = {"scikit-learn": sklearn.__version__, "scipy": scipy.__version__, "numpy": np.__version__}
    with open(OUT, "w") as f:
        json.dump(cases, f, indent=1)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
