#!/usr/bin/env python3
"""Writes tests/data/tiny_mpnet/ and tests/data/tiny_mpnet_cls/: a WordPiece vocabulary built here from
data/calib/text.txt (1,000 entries, MPNet's special tokens: <s>=0 <pad>=1 </s>=2 <unk>=3 [UNK] <mask>), a tiny
random MPNetModel (torch seed 23; weights N(0, 0.2), LayerNorm gains 1 + N(0, 0.2); 160 positions so that a
long text reaches the logarithmic relative-position buckets) and MPNetForSequenceClassification, with goldens
from Hugging Face transformers:
- golden_embeddings.json: mean-pooled last hidden states, ids from MPNetTokenizerFast (<s> a </s></s> b </s>);
- golden_buckets.json: transformers' relative_position_bucket for relative positions -300..300;
- tiny_mpnet_cls/golden_logits.json: logits for single texts and pairs.
Usage: /usr/bin/python3 converters/goldens/make_tiny_mpnet.py  (needs torch, transformers, tokenizers)."""
import json, os, tempfile
import torch, tokenizers, transformers
from collections import Counter
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer
from transformers import MPNetConfig, MPNetForSequenceClassification, MPNetModel, MPNetTokenizerFast
from transformers.models.mpnet.modeling_mpnet import MPNetEncoder
from tiny_common import calib_sentences, mean_pooled_goldens, randomize_

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
out = os.path.join(root, "tests", "data", "tiny_mpnet")
cls_out = os.path.join(root, "tests", "data", "tiny_mpnet_cls")
MADE_WITH = f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, torch {torch.__version__}"

# The vocabulary, built deterministically (tokenizers' WordPiece trainer orders ties differently from run to run):
# the special tokens, every character seen alone and as "##" continuation, then the most frequent words
# (BERT-normalised and pre-tokenised, ties by spelling) up to 1,000 entries.
calib = calib_sentences()
norm, pre = BertNormalizer(lowercase=True), BertPreTokenizer()
counts = Counter(w for s in calib for w, _ in pre.pre_tokenize_str(norm.normalize_str(s)))
chars = sorted({c for w in counts for c in w})
vocab = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]", "<mask>"] + chars + ["##" + c for c in chars]
vocab += [w for w, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if len(w) > 1][:1000 - len(vocab)]
with tempfile.TemporaryDirectory() as tmp:
    open(os.path.join(tmp, "vocab.txt"), "w", encoding="utf-8").write("\n".join(vocab) + "\n")
    tok = MPNetTokenizerFast(vocab_file=os.path.join(tmp, "vocab.txt"), model_max_length=160)
for d in (out, cls_out):
    os.makedirs(d, exist_ok=True)
    tok.save_pretrained(d)
V = len(tok)

H, L, NH, F, P = 32, 2, 4, 48, 160
cfg = MPNetConfig(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=NH, intermediate_size=F,
                  max_position_embeddings=P + 2, relative_attention_num_buckets=32, pad_token_id=1, bos_token_id=0,
                  eos_token_id=2, layer_norm_eps=1e-5, hidden_act="gelu")
model = MPNetModel(cfg, add_pooling_layer=False).eval()
randomize_(model, 23)
model.save_pretrained(out, safe_serialization=True)

long_text = " ".join(calib[:12])  # about 150 tokens: distances up to the log buckets' range
sentences = ["The movie was good!", "Not fun, the plot was dull.", "great", "It's a very bad <mask> play.",
             "I don't think they'll come back in 2024 :(", long_text]
golden = mean_pooled_goldens(model, tok, sentences, truncation=True, max_length=P)
assert len(golden[-1]["ids"]) > 130, len(golden[-1]["ids"])
json.dump({"made_with": MADE_WITH, "pooling": "mean", "cases": golden},
          open(os.path.join(out, "golden_embeddings.json"), "w"), indent=1)
rel = torch.arange(-300, 301)
buckets = MPNetEncoder.relative_position_bucket(rel, num_buckets=32).tolist()
json.dump({"made_with": MADE_WITH, "num_buckets": 32, "max_distance": 128, "relative_positions": rel.tolist(),
           "buckets": buckets}, open(os.path.join(out, "golden_buckets.json"), "w"))

LABELS = ["negative", "positive"]
ccfg = MPNetConfig(**{**cfg.to_dict(), "num_labels": 2, "id2label": dict(enumerate(LABELS)),
                      "label2id": {n: i for i, n in enumerate(LABELS)}})
cmodel = MPNetForSequenceClassification(ccfg).eval()
with torch.no_grad():
    cmodel.mpnet.load_state_dict(model.state_dict(), strict=False)
    for name, p in cmodel.classifier.named_parameters():
        p.copy_(0.2 * torch.randn_like(p))
cmodel.save_pretrained(cls_out, safe_serialization=True)
pairs = [("The movie was good!", None), ("A man plays a guitar.", "A person makes music."), ("great", "great")]
cases = []
with torch.no_grad():
    for a, b in pairs:
        enc = tok(a, b, return_tensors="pt")
        logits = cmodel(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[0].tolist()
        cases.append({"a": a, "b": b, "ids": enc["input_ids"][0].tolist(), "logits": logits})
json.dump({"made_with": MADE_WITH, "labels": LABELS, "cases": cases},
          open(os.path.join(cls_out, "golden_logits.json"), "w"), indent=1)
print("wrote", out, "and", cls_out, "vocab", V)
