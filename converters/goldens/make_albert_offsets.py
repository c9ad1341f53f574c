#!/usr/bin/env python3
"""Writes tests/data/sentencepiece/albert_offsets.json: AlbertTokenizerFast's piece ids and offsets (converted
from Python character offsets to UTF-8 byte offsets, as rmsmp-serve's /tokenize reports them) for the ALBERT
SentencePiece model in tests/data/sentencepiece (lowercasing and accent stripping, ALBERT's defaults), on edge
texts (case, accents, ligatures, whitespace runs) and the first 300 SST-2 dev sentences, each kept where the fast
tokenizer's ids equal the slow AlbertTokenizer's.
Usage: python3 converters/goldens/make_albert_offsets.py  (needs transformers, tokenizers, sentencepiece, protobuf)."""
import csv, json, os
import tokenizers, transformers
from transformers import AlbertTokenizer, AlbertTokenizerFast

root = os.path.join(os.path.dirname(__file__), "..", "..")
model = os.path.join(root, "tests", "data", "sentencepiece", "albert_30k_clean.model")
fast, slow = AlbertTokenizerFast(vocab_file=model), AlbertTokenizer(vocab_file=model)
texts = ["The MOVIE  was Good!", "Café naïve", "  Lead", "trail  ", "ÅNGSTRÖM x", "l'Été", "naïveté ok",
         "İstanbul", "x\tTab\nNL", "ÉCOLE Française", "Über straße", "a  b   c", "Zoë's CAFÉ — déjà vu",
         "emoji 😀 OK", "日本語 Text", "MiXeD CaSe WoRdS", "1,234.5 €", ""]
with open(os.path.join(root, "data", "sst2", "dev.tsv"), encoding="utf-8") as f:
    rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
texts += [r[0].strip() for r in rows[1:301]]  # SST-2 ends each with a space: slow and fast differ there
# AlbertTokenizer replaces `` and '' with " before folding (SentencePieceConfig::latex_quotes).
texts += ["`` Quoted '' text", "it ''s a `` test ''", "no``space''here"]
cases = []
for t in texts:
    e = fast(t, add_special_tokens=False, return_offsets_mapping=True)
    if e["input_ids"] != slow(t, add_special_tokens=False)["input_ids"]:
        continue
    b = lambda c: len(t[:c].encode("utf-8"))
    cases.append({"text": t, "ids": e["input_ids"], "spans": [[b(s), b(x)] for s, x in e["offset_mapping"]]})
head = json.dumps({"made_with": f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, "
                   "AlbertTokenizerFast(albert_30k_clean.model)", "offsets": "utf-8 bytes"}, ensure_ascii=False)[:-1]
with open(os.path.join(root, "tests", "data", "sentencepiece", "albert_offsets.json"), "w", encoding="utf-8") as f:
    f.write(head + ', "cases": [\n' + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]}\n")
print(len(cases), "of", len(texts), "cases")
