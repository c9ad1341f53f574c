"""Shared by the make_tiny_*.py golden scripts: the repository's paths, the calibration text vocabularies are
trained on, random weights for a tiny model, transformers' mean-pooled goldens, and the shared corpora's items
with their golden ids."""
import gzip, json, os

import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA = os.path.join(ROOT, "tests", "data")


def calib_sentences():
    """data/calib/text.txt: 1,000 Yelp sentences, the text every tiny vocabulary is trained on."""
    return [l for l in open(os.path.join(ROOT, "data", "calib", "text.txt"), encoding="utf-8").read().split("\n") if l]


def randomize_(model, seed):
    """Weights N(0, 0.2) and LayerNorm gains 1 + N(0, 0.2), from torch seed `seed` (transformers' own init is too
    small for outputs that tell a wrong graph from a right one)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_((1.0 if "LayerNorm.weight" in name else 0.0) + 0.2 * torch.randn_like(p))


def mean_pooled_goldens(model, tok, sentences, **tok_kwargs):
    """Per sentence: its ids (template included) and the mean of the last hidden states, one text at a time."""
    out = []
    with torch.no_grad():
        for s in sentences:
            enc = tok(s, return_tensors="pt", **tok_kwargs)
            h = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state[0]
            out.append({"sentence": s, "ids": enc["input_ids"][0].tolist(), "embedding": h.mean(0).tolist()})
    return out


def corpus_rows():
    """tests/data/tokenizer_golden.tsv's items (source, text_a, text_b, ...), in order."""
    lines = open(os.path.join(DATA, "tokenizer_golden.tsv"), encoding="utf-8", newline="\n").read().split("\n")
    return [l.split("\t") for l in lines[1:] if l]


def write_corpus_ids(path, tok, rows):
    """One line of ids per corpus item (pairs where text_b is set; no truncation), gzipped without a timestamp."""
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        for r in rows:
            f.write((" ".join(map(str, tok(r[1], r[2] if r[2] else None)["input_ids"])) + "\n").encode())


def dump(obj, path, **kw):
    json.dump(obj, open(path, "w", encoding="utf-8"), indent=1, **kw)
