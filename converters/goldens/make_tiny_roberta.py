#!/usr/bin/env python3
"""Writes tests/data/tiny_roberta/ and tests/data/tiny_roberta_cls/: a byte-level BPE vocabulary trained here
(no RoBERTa vocabulary is reachable offline), a tiny random RobertaModel and RobertaForSequenceClassification
(torch seed 13; weights N(0, 0.2), LayerNorm gains 1 + N(0, 0.2)), and goldens from Hugging Face:
- golden_embeddings.json: transformers' mean-pooled last hidden states for fixed sentences (RoBERTa's position
  ids start at pad_token_id + 1);
- tiny_roberta_cls/golden_logits.json: logits for single sentences and pairs (<s> a </s></s> b </s>);
- tokenizer_golden_ids.txt.gz: HF tokenizers' ids (template included, no truncation) for every item of
  tests/data/tokenizer_golden.tsv (the shared corpora: Yelp, SST-2, RTE, STS-B, the SentencePiece sentences),
  one line per item in that file's order;
- tokenizer_edge_cases.json: raw ids (no template) and their offsets (as UTF-8 byte spans) for hostile edge
  cases and 50 corpus sentences, with add_prefix_space off and on.
The vocabulary: tokenizers' ByteLevelBPETokenizer trained on data/calib/text.txt (1,000 Yelp sentences),
1,000 entries, RoBERTa's special tokens first (<s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4).
Usage: /usr/bin/python3 converters/goldens/make_tiny_roberta.py  (needs torch, transformers, tokenizers)."""
import gzip, json, os, tempfile
import torch, tokenizers, transformers
from tokenizers import ByteLevelBPETokenizer
from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaModel, RobertaTokenizerFast
from tiny_common import calib_sentences, corpus_rows, mean_pooled_goldens, randomize_, write_corpus_ids

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
out = os.path.join(root, "tests", "data", "tiny_roberta")
cls_out = os.path.join(root, "tests", "data", "tiny_roberta_cls")
MADE_WITH = f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, torch {torch.__version__}"

# 1. The vocabulary, and the tokenizer files as RobertaTokenizerFast saves them (tokenizer.json with its
# added tokens, <mask> lstrip; vocab.json + merges.txt; tokenizer_config.json; special_tokens_map.json).
calib = calib_sentences()
bpe = ByteLevelBPETokenizer()
bpe.train_from_iterator(calib, vocab_size=1000, min_frequency=2, show_progress=False,
                        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
with tempfile.TemporaryDirectory() as tmp:
    bpe.save_model(tmp)
    tok = RobertaTokenizerFast(vocab_file=os.path.join(tmp, "vocab.json"), merges_file=os.path.join(tmp, "merges.txt"),
                               model_max_length=40)
for d in (out, cls_out):
    os.makedirs(d, exist_ok=True)
    tok.save_pretrained(d)
V = len(tok)

# 2. The encoder: 2 layers, hidden 32, 4 heads, FFN 48, 40 positions after RoBERTa's offset of 2.
H, L, NH, F, P = 32, 2, 4, 48, 40
cfg = RobertaConfig(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=NH, intermediate_size=F,
                    max_position_embeddings=P + 2, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                    layer_norm_eps=1e-5, hidden_act="gelu")
model = RobertaModel(cfg, add_pooling_layer=False).eval()
randomize_(model, 13)
model.save_pretrained(out, safe_serialization=True)

sentences = ["The movie was good!", "Not fun, the plot was dull.", "great", "It's a very bad play.",
             "I don't think they'll come back in 2024 :(", "  spaces\tand\nlines  ", "Café naïve – «quoted»"]
golden = mean_pooled_goldens(model, tok, sentences)
with torch.no_grad():
    # Padded as one batch, transformers gives the same vectors: the position ids count only real tokens.
    enc = tok(sentences, return_tensors="pt", padding=True)
    h = model(**enc).last_hidden_state
    for i, g in enumerate(golden):
        m = enc["attention_mask"][i].bool()
        assert torch.allclose(h[i][m].mean(0), torch.tensor(g["embedding"]), atol=1e-5)
json.dump({"made_with": MADE_WITH, "pooling": "mean", "cases": golden},
          open(os.path.join(out, "golden_embeddings.json"), "w"), indent=1)

# 3. RobertaForSequenceClassification: the encoder above under "roberta.", head dense + tanh + out_proj on <s>.
LABELS = ["contradiction", "neutral", "entailment"]
ccfg = RobertaConfig(**{**cfg.to_dict(), "num_labels": 3, "id2label": dict(enumerate(LABELS)),
                        "label2id": {n: i for i, n in enumerate(LABELS)}})
cmodel = RobertaForSequenceClassification(ccfg).eval()
with torch.no_grad():
    cmodel.roberta.load_state_dict(model.state_dict(), strict=False)
    for name, p in cmodel.classifier.named_parameters():
        p.copy_(0.2 * torch.randn_like(p))
cmodel.save_pretrained(cls_out, safe_serialization=True)
pairs = [("The movie was good!", None), ("A man plays a guitar.", "A person makes music."),
         ("It's raining.", "The sun is out and it's dry."), ("great", "great")]
cases = []
with torch.no_grad():
    for a, b in pairs:
        enc = tok(a, b, return_tensors="pt")
        cases.append({"a": a, "b": b, "ids": enc["input_ids"][0].tolist(), "logits": cmodel(**enc).logits[0].tolist()})
json.dump({"made_with": MADE_WITH, "labels": LABELS, "cases": cases},
          open(os.path.join(cls_out, "golden_logits.json"), "w"), indent=1)

# 4. Tokenizer parity on the shared corpora: the same items as the WordPiece golden, in its order.
rows = corpus_rows()
write_corpus_ids(os.path.join(out, "tokenizer_golden_ids.txt.gz"), tok, rows)

# 5. Edge cases, raw ids: whitespace runs, contractions, added tokens with <mask>'s lstrip, non-Latin scripts,
# emoji (multi-byte pieces), control characters, numbers.
edges = ["", " ", "  ", "hello", " hello", "  hello", "hello  ", "a\n\nb", "a \n b", "\t tab", "don't", "DON'T",
         "she'll we've they're I'm he'd", "'s", " 's", "'''s", "x<mask>y", "x <mask> y", "x  <mask>  y", "<mask>",
         "<s>hi</s>", "< s >", "12345 1.5 ٣٤", "naïve café", "日本語のテキスト", "emoji 😀👍🏽 ok", "\u00a0nbsp\u3000ideo",
         "ctrl\u0001\u007f", "a" * 300, "$$$ ... !!! ???", "e-mail: x@y.z"]
def byte_offsets(s, offsets):  # tokenizers' character offsets as UTF-8 byte offsets (TEI's /tokenize unit)
    at = [len(s[:i].encode()) for i in range(len(s) + 1)]
    return [[at[a], at[b]] for a, b in offsets]
edge_cases = []
for aps in (False, True):
    t = RobertaTokenizerFast.from_pretrained(out, add_prefix_space=aps)
    for s in edges + [r[1] for r in rows[::250]]:  # and 50 corpus sentences
        enc = t(s, add_special_tokens=False, return_offsets_mapping=True)
        edge_cases.append({"add_prefix_space": aps, "text": s, "ids": enc["input_ids"],
                           "spans": byte_offsets(s, enc["offset_mapping"])})
json.dump({"made_with": MADE_WITH, "cases": edge_cases}, open(os.path.join(out, "tokenizer_edge_cases.json"), "w"),
          indent=1, ensure_ascii=False)
print("wrote", out, "and", cls_out, "vocab", V, "items", len(rows))
