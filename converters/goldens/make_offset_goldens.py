#!/usr/bin/env python3
"""Writes tests/data/tokenizer_offsets_golden.json: Hugging Face tokenizers' piece ids and offsets (converted from
Python character offsets to UTF-8 byte offsets, as TEI's /tokenize reports them) for all-MiniLM-L6-v2's
tokenizer.json on sentences with accents, CJK, emoji, control characters, unknown words and punctuation, and
on the first 100 SST-2 dev sentences. No special tokens, no truncation.
Usage: python3 converters/goldens/make_offset_goldens.py CHECKPOINT_DIR  (needs tokenizers)."""
import csv, json, os, sys
import tokenizers
from tokenizers import Tokenizer

ck = sys.argv[1]
tok = Tokenizer.from_file(os.path.join(ck, "tokenizer.json"))
tok.no_truncation()
tok.no_padding()
root = os.path.join(os.path.dirname(__file__), "..", "..")
texts = ["Hello, World!", "  leading and trailing  ", "Café déjà vu — naïve façade", "İstanbul ǅemal ß ﬁne",
         "東京 is 日本's capital 中文字", "emoji 😀 and 👍🏽 here", "tab\tnew\nline\rcarriage", "ctrl\u0000\u0007chars\u200b",
         "unaffable playing unbelievable", "xqzjvkw ##ing [CLS] [SEP]", "a" * 120, "e\u0301\u0301 combining",
         "numbers 3.14159 and 1,000,000", "don't can't won't", "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ", ""]
with open(os.path.join(root, "data", "sst2", "dev.tsv"), encoding="utf-8") as f:
    rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
texts += [r[0] for r in rows[1:101]]
cases = []
for t in texts:
    e = tok.encode(t, add_special_tokens=False)
    b = lambda c: len(t[:c].encode("utf-8"))
    cases.append({"text": t, "ids": e.ids, "spans": [[b(s), b(x)] for s, x in e.offsets]})
head = json.dumps({"made_with": f"tokenizers {tokenizers.__version__}, all-MiniLM-L6-v2 tokenizer.json",
                   "offsets": "utf-8 bytes"}, ensure_ascii=False)[:-1]
with open(os.path.join(root, "tests", "data", "tokenizer_offsets_golden.json"), "w", encoding="utf-8") as f:
    f.write(head + ', "cases": [\n' + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]}\n")
print(len(cases), "cases")
