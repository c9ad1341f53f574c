#!/usr/bin/env python3
"""Writes tests/data/glue_metric_goldens.json: GLUE metrics computed by scikit-learn and SciPy on fixed
pseudo-random vectors (seeded), so the C++ metrics are checked against the libraries GLUE's own scripts use.
Usage: python3 converters/goldens/make_metric_goldens.py  (needs numpy, scipy, scikit-learn)."""
import json, os, sys
import numpy as np, scipy, sklearn
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

rng = np.random.default_rng(20261127)
cases = []
for n, k in [(10, 2), (57, 2), (500, 2), (300, 3), (1000, 3)]:
    gold = rng.integers(0, k, n)
    # predictions that agree with gold ~70% of the time, so the metrics are far from 0 and from 1
    pred = np.where(rng.random(n) < 0.7, gold, rng.integers(0, k, n))
    c = {"kind": "classes", "pred": pred.tolist(), "gold": gold.tolist(),
         "accuracy": accuracy_score(gold, pred), "matthews": matthews_corrcoef(gold, pred)}
    if k == 2:
        c["f1"] = f1_score(gold, pred)
    cases.append(c)
for n, ties in [(12, False), (200, False), (1500, True)]:
    x = rng.normal(size=n)
    y = 0.6 * x + rng.normal(size=n)
    if ties:  # STS-B-like: scores on a 0..5 grid of 0.2 steps and many repeated values
        y = np.round(np.clip(2.5 + y, 0, 5) * 5) / 5
        x = np.round(x * 2) / 2
    cases.append({"kind": "scores", "x": x.tolist(), "y": y.tolist(),
                  "pearson": float(pearsonr(x, y)[0]), "spearman": float(spearmanr(x, y)[0])})
out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "glue_metric_goldens.json")
json.dump({"made_with": f"numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}",
           "cases": cases}, open(out, "w"))
print("wrote", os.path.normpath(out), len(cases), "cases")
