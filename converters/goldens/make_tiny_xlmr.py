#!/usr/bin/env python3
"""Writes tests/data/tiny_xlmr/: XLM-R's tokenizer files (sentencepiece.bpe.model, a unigram SentencePiece model
trained here on data/calib/text.txt, 1,000 pieces, one thread; XLMRobertaTokenizer's tokenizer_config.json and
special_tokens_map.json), a tiny random XLMRobertaModel (torch seed 19; weights N(0, 0.2), LayerNorm gains
1 + N(0, 0.2)) and goldens from Hugging Face:
- golden_embeddings.json: transformers' mean-pooled last hidden states, ids from XLMRobertaTokenizer;
- tokenizer_golden_ids.txt.gz: XLMRobertaTokenizer's ids (fairseq's: <s>=0 <pad>=1 </s>=2 <unk>=3, pieces at
  their SentencePiece id + 1, <mask> last; template <s> a </s></s> b </s>) for every item of
  tests/data/tokenizer_golden.tsv, one line per item in that file's order;
- tokenizer_offsets.json: XLMRobertaTokenizerFast's offsets as byte spans (edge texts, every 40th corpus item);
- tests/data/tiny_xlmr_json/tokenizer.json: the same tokenizer as a fast tokenizer.json alone.
The Python sentencepiece must be the version the engine links (Debian bookworm's libsentencepiece 0.1.97):
versions break ties between equal-score segmentations differently (0.2.3 gives other ids for 11 of the 12,269
items with this model), and the goldens pin the library the engine uses.
Usage: pip install sentencepiece==0.1.97; /usr/bin/python3 converters/goldens/make_tiny_xlmr.py
(needs torch, transformers)."""
import gzip, io, json, os, tempfile
os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")  # transformers' spm converter, any protobuf
import sentencepiece as spm, torch, transformers
from transformers import (CamembertConfig, CamembertModel, CamembertTokenizer, XLMRobertaConfig, XLMRobertaModel,
                          XLMRobertaTokenizer, XLMRobertaTokenizerFast)
from tiny_common import calib_sentences, corpus_rows, mean_pooled_goldens, randomize_, write_corpus_ids

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
out = os.path.join(root, "tests", "data", "tiny_xlmr")
import subprocess
linked = subprocess.run(["pkg-config", "--modversion", "sentencepiece"], capture_output=True, text=True).stdout.strip()
assert spm.__version__ == linked, f"Python sentencepiece {spm.__version__} is not the linked library's {linked}"
MADE_WITH = f"transformers {transformers.__version__}, sentencepiece {spm.__version__}, torch {torch.__version__}"

calib = calib_sentences()
buf = io.BytesIO()
spm.SentencePieceTrainer.train(sentence_iterator=iter(calib), model_writer=buf, vocab_size=1000, model_type="unigram",
                               character_coverage=1.0, num_threads=1, minloglevel=2)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "sentencepiece.bpe.model")
    open(path, "wb").write(buf.getvalue())
    tok = XLMRobertaTokenizer(vocab_file=path, model_max_length=40)
    os.makedirs(out, exist_ok=True)
    tok.save_pretrained(out)
for f in ("added_tokens.json",):  # nothing is added; keep the folder to what XLM-R ships
    if os.path.exists(os.path.join(out, f)):
        os.remove(os.path.join(out, f))
V = len(tok)

H, L, NH, F, P = 32, 2, 4, 48, 40
cfg = XLMRobertaConfig(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=NH, intermediate_size=F,
                       max_position_embeddings=P + 2, type_vocab_size=1, pad_token_id=1, bos_token_id=0,
                       eos_token_id=2, layer_norm_eps=1e-5, hidden_act="gelu")
model = XLMRobertaModel(cfg, add_pooling_layer=False).eval()
randomize_(model, 19)
model.save_pretrained(out, safe_serialization=True)

sentences = ["The movie was good!", "Not fun, the plot was dull.", "great", "Café naïve – «quoted»",
             "Das Essen war ausgezeichnet.", "日本語のテキスト", "zzzq ☃ unknown"]
golden = mean_pooled_goldens(model, tok, sentences)
json.dump({"made_with": MADE_WITH, "pooling": "mean", "cases": golden},
          open(os.path.join(out, "golden_embeddings.json"), "w"), indent=1, ensure_ascii=False)

rows = corpus_rows()
write_corpus_ids(os.path.join(out, "tokenizer_golden_ids.txt.gz"), tok, rows)
# tests/data/tiny_xlmr/tokenizer_offsets.json: XLMRobertaTokenizerFast's offsets (as UTF-8 byte spans) for edge
# texts and every 40th corpus sentence, where its ids equal the SentencePiece library's (the engine's spans follow
# the library's alignment; HF's ids differ on a few items, see above).
def byte_offsets(s, offsets):
    at = [len(s[:i].encode()) for i in range(len(s) + 1)]
    return [[at[a], at[b]] for a, b in offsets]
fast_for_offsets = XLMRobertaTokenizerFast.from_pretrained(out)
offset_cases = []
for s in ["", " ", "The movie  was good!", "  lead", "trail  ", "Café naïve", "x\tTab\nnl", "日本語", "a  b   c",
          "\u00a0nbsp", "emoji 😀 ok", "l'été", "1,234.5", "ÅNGSTRÖM", "q\u3000ideo"] + [r[1] for r in rows[::40]]:
    e = fast_for_offsets(s, add_special_tokens=False, return_offsets_mapping=True)
    if e["input_ids"] == tok(s, add_special_tokens=False)["input_ids"]:
        offset_cases.append({"text": s, "ids": e["input_ids"], "spans": byte_offsets(s, e["offset_mapping"])})
json.dump({"made_with": MADE_WITH, "cases": offset_cases}, open(os.path.join(out, "tokenizer_offsets.json"), "w"),
          ensure_ascii=False)

# tests/data/tiny_xlmr_json/tokenizer.json: the fast tokenizer's file alone (Unigram, Precompiled charsmap,
# Metaspace), converted by transformers from the model above; the test puts it in a copy of tiny_xlmr without the
# .model and expects the same ids as XLMRobertaTokenizer's goldens.
json_out = os.path.join(root, "tests", "data", "tiny_xlmr_json")
os.makedirs(json_out, exist_ok=True)
fast = XLMRobertaTokenizerFast.from_pretrained(out)
fast.backend_tokenizer.save(os.path.join(json_out, "tokenizer.json"))
agree = sum(fast(r[1], r[2] if r[2] else None)["input_ids"] == tok(r[1], r[2] if r[2] else None)["input_ids"] for r in rows)
# tests/data/tiny_camembert/: the same SentencePiece model in CamemBERT's numbering (CamembertTokenizer: five
# specials, pieces at id + 4, <mask> last), a tiny random CamembertModel (torch seed 29), golden embeddings and
# the ids of pairs.
cam_out = os.path.join(root, "tests", "data", "tiny_camembert")
os.makedirs(cam_out, exist_ok=True)
cam_tok = CamembertTokenizer(vocab_file=os.path.join(out, "sentencepiece.bpe.model"), model_max_length=40)
cam_tok.save_pretrained(cam_out)
for f in ("added_tokens.json",):
    if os.path.exists(os.path.join(cam_out, f)):
        os.remove(os.path.join(cam_out, f))
ccfg = CamembertConfig(**{**cfg.to_dict(), "vocab_size": len(cam_tok), "model_type": "camembert"})
cam = CamembertModel(ccfg, add_pooling_layer=False).eval()
randomize_(cam, 29)
cam.save_pretrained(cam_out, safe_serialization=True)
pairs = [[a, b] for a, b in zip(sentences[:3], sentences[3:6])]
json.dump({"made_with": MADE_WITH, "pooling": "mean", "cases": mean_pooled_goldens(cam, cam_tok, sentences),
           "pairs": [{"a": a, "b": b, "ids": cam_tok(a, b)["input_ids"]} for a, b in pairs]},
          open(os.path.join(cam_out, "golden_embeddings.json"), "w"), indent=1, ensure_ascii=False)
print("wrote", out, "vocab", V, "items", len(rows), "; HF's fast tokenizer agrees with the slow one on", agree)
