#!/usr/bin/env python3
"""Writes tests/data/tiny_distilbert/: a tiny random DistilBertModel checkpoint (config.json in DistilBERT's own
keys, vocab.txt, model.safetensors in DistilBERT's tensor names and the same tensors as pytorch_model.bin;
numpy seed 11) and golden_embeddings.json: the
mean-pooled last hidden states Hugging Face transformers computes for fixed sentences (sentence-transformers'
mean pooling over the attention mask), which the engine's DistilBERT mapping must reproduce.
Usage: python3 converters/goldens/make_tiny_distilbert.py  (needs torch, transformers, safetensors, numpy)."""
import json, os
import numpy as np, torch, transformers
from safetensors.numpy import save_file
from transformers import BertTokenizer, DistilBertModel

out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "tiny_distilbert")
os.makedirs(out, exist_ok=True)
V, H, L, NH, F, P = 64, 32, 2, 4, 48, 40
src_vocab = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "tiny_classifier", "vocab.txt")
vocab = open(src_vocab).read().split("\n")[:V]
open(os.path.join(out, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
cfg = {"model_type": "distilbert", "architectures": ["DistilBertModel"], "vocab_size": V, "dim": H, "n_layers": L,
       "n_heads": NH, "hidden_dim": F, "max_position_embeddings": P, "activation": "gelu", "dropout": 0.1,
       "attention_dropout": 0.1, "sinusoidal_pos_embds": False, "pad_token_id": 0}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
json.dump({"do_lower_case": True}, open(os.path.join(out, "tokenizer_config.json"), "w"))
rng = np.random.default_rng(11)
def r(*shape, mean=0.0):
    return (mean + 0.2 * rng.standard_normal(shape)).astype(np.float32)
t = {"embeddings.word_embeddings.weight": r(V, H), "embeddings.position_embeddings.weight": r(P, H),
     "embeddings.LayerNorm.weight": r(H, mean=1.0), "embeddings.LayerNorm.bias": r(H)}
for l in range(L):
    p = f"transformer.layer.{l}."
    for n in ["attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin"]:
        t[p + n + ".weight"], t[p + n + ".bias"] = r(H, H), r(H)
    t[p + "ffn.lin1.weight"], t[p + "ffn.lin1.bias"] = r(F, H), r(F)
    t[p + "ffn.lin2.weight"], t[p + "ffn.lin2.bias"] = r(H, F), r(H)
    for n in ["sa_layer_norm", "output_layer_norm"]:
        t[p + n + ".weight"], t[p + n + ".bias"] = r(H, mean=1.0), r(H)
save_file(t, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
# The same tensors as torch.save writes them (pytorch_model.bin, zip container): the reader for folders without
# model.safetensors must give the same model.
torch.save({k: torch.from_numpy(v) for k, v in t.items()}, os.path.join(out, "pytorch_model.bin"))

model = DistilBertModel.from_pretrained(out).eval()
tok = BertTokenizer(os.path.join(out, "vocab.txt"), do_lower_case=True)
sentences = ["the movie was good !", "not fun , the plot was dull .", "great", "it is a very bad play",
             "a b c d e f g h i j k l m n o p q r s t u v w x y z"]
golden = []
with torch.no_grad():
    for s in sentences:
        enc = tok(s, return_tensors="pt")
        h = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state[0]
        golden.append({"sentence": s, "ids": enc["input_ids"][0].tolist(), "embedding": h.mean(0).tolist()})
json.dump({"made_with": f"transformers {transformers.__version__}, torch {torch.__version__}", "pooling": "mean",
           "cases": golden}, open(os.path.join(out, "golden_embeddings.json"), "w"), indent=1)
print("wrote", os.path.normpath(out))

# tests/data/tiny_distilbert_cls/: DistilBertForSequenceClassification (the encoder above under "distilbert.",
# pre_classifier + ReLU + classifier, 3 labels) and golden_logits.json from transformers.
from transformers import DistilBertForSequenceClassification
cls_out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "tiny_distilbert_cls")
os.makedirs(cls_out, exist_ok=True)
LABELS = ["negative", "neutral", "positive"]
open(os.path.join(cls_out, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
ccfg = dict(cfg, architectures=["DistilBertForSequenceClassification"], seq_classif_dropout=0.2,
            id2label={str(i): n for i, n in enumerate(LABELS)}, label2id={n: i for i, n in enumerate(LABELS)})
json.dump(ccfg, open(os.path.join(cls_out, "config.json"), "w"), indent=2)
json.dump({"do_lower_case": True}, open(os.path.join(cls_out, "tokenizer_config.json"), "w"))
ct = {"distilbert." + k: v for k, v in t.items()}
ct["pre_classifier.weight"], ct["pre_classifier.bias"] = r(H, H), r(H)
ct["classifier.weight"], ct["classifier.bias"] = r(len(LABELS), H), r(len(LABELS))
save_file(ct, os.path.join(cls_out, "model.safetensors"), metadata={"format": "pt"})
cmodel = DistilBertForSequenceClassification.from_pretrained(cls_out).eval()
cases = []
# Single texts, then pairs (cross-encoder use): DistilBERT takes no token types, so the second text's are unused.
with torch.no_grad():
    for a, b in [(s, None) for s in sentences] + [("the movie was good !", "it is a very bad play"), ("great", "great")]:
        enc = tok(a, b, return_tensors="pt")
        cases.append({"a": a, "b": b, "ids": enc["input_ids"][0].tolist(),
                      "logits": cmodel(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[0].tolist()})
json.dump({"made_with": f"transformers {transformers.__version__}, torch {torch.__version__}", "labels": LABELS,
           "cases": cases}, open(os.path.join(cls_out, "golden_logits.json"), "w"), indent=1)
print("wrote", os.path.normpath(cls_out))
