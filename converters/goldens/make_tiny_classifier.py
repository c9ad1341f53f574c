#!/usr/bin/env python3
"""Writes tests/data/tiny_classifier/: a tiny random BertForSequenceClassification checkpoint (config.json with
id2label, vocab.txt, model.safetensors; numpy seed 7) and golden_logits.json, the logits Hugging Face
transformers computes for fixed sentences and pairs (the tests compare the engine's classify() with them).
Usage: python3 converters/goldens/make_tiny_classifier.py  (needs torch, transformers, safetensors, numpy)."""
import json, os
import numpy as np, torch, transformers
from safetensors.numpy import save_file
from transformers import BertForSequenceClassification, BertTokenizer

out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "tiny_classifier")
os.makedirs(out, exist_ok=True)
V, H, L, NH, F, P, LABELS = 64, 32, 2, 4, 48, 40, ["negative", "neutral", "positive"]
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "movie", "was", "good", "bad", "not", "very", "!",
         ".", ",", "it", "is", "##s", "##ing", "play", "fun", "dull", "great", "plot"]
vocab += [c for i in range(26) for c in (chr(97 + i), "##" + chr(97 + i)) if c not in vocab]
vocab = vocab[:V]
open(os.path.join(out, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
cfg = {"model_type": "bert", "architectures": ["BertForSequenceClassification"], "vocab_size": V, "hidden_size": H,
       "num_hidden_layers": L, "num_attention_heads": NH, "intermediate_size": F, "max_position_embeddings": P,
       "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
       "id2label": {str(i): n for i, n in enumerate(LABELS)}, "label2id": {n: i for i, n in enumerate(LABELS)}}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
json.dump({"do_lower_case": True}, open(os.path.join(out, "tokenizer_config.json"), "w"))
rng = np.random.default_rng(7)
def r(*shape, mean=0.0):
    return (mean + 0.2 * rng.standard_normal(shape)).astype(np.float32)
t = {"bert.embeddings.word_embeddings.weight": r(V, H), "bert.embeddings.position_embeddings.weight": r(P, H),
     "bert.embeddings.token_type_embeddings.weight": r(2, H), "bert.embeddings.LayerNorm.weight": r(H, mean=1.0),
     "bert.embeddings.LayerNorm.bias": r(H)}
for l in range(L):
    p = f"bert.encoder.layer.{l}."
    for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
        t[p + n + ".weight"], t[p + n + ".bias"] = r(H, H), r(H)
    t[p + "intermediate.dense.weight"], t[p + "intermediate.dense.bias"] = r(F, H), r(F)
    t[p + "output.dense.weight"], t[p + "output.dense.bias"] = r(H, F), r(H)
    for n in ["attention.output.LayerNorm", "output.LayerNorm"]:
        t[p + n + ".weight"], t[p + n + ".bias"] = r(H, mean=1.0), r(H)
t["bert.pooler.dense.weight"], t["bert.pooler.dense.bias"] = r(H, H), r(H)
t["classifier.weight"], t["classifier.bias"] = r(len(LABELS), H), r(len(LABELS))
save_file(t, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})

model = BertForSequenceClassification.from_pretrained(out).eval()
tok = BertTokenizer(os.path.join(out, "vocab.txt"), do_lower_case=True)
cases = [("the movie was good !", None), ("not fun , the plot was dull .", None), ("great", None),
         ("the movie", "it was very bad ."), ("a great play", "not good")]
golden = []
with torch.no_grad():
    for a, b in cases:
        enc = tok(a, b, return_tensors="pt")
        logits = model(**enc).logits[0].tolist()
        golden.append({"a": a, "b": b, "ids": enc["input_ids"][0].tolist(), "logits": logits})
json.dump({"made_with": f"transformers {transformers.__version__}, torch {torch.__version__}", "labels": LABELS,
           "cases": golden}, open(os.path.join(out, "golden_logits.json"), "w"), indent=1)
print("wrote", os.path.normpath(out))
