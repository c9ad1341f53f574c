#!/usr/bin/env bash
# Seed corpora from real files: a tiny converted model, the real checkpoint's safetensors head, real text.
set -euo pipefail
OUT=${1:-out/fuzz}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$OUT/seeds"/{model_file,cnn_model,safetensors,text,bpe,config,tsv,hf_json,spm,pth,plan,image,http}
# HTTP bodies: the first byte picks the route (fuzz_http.cc: 0 /embed, 1 /v1/embeddings, 2 /classify,
# 3 /predict, 4 /rerank, 5 /tokenize), then a real client's body.
http_seed() { printf "\\$(printf '%03o' "$1")%s" "$2" > "$OUT/seeds/http/$3"; }
http_seed 0 '{"inputs": ["What is Deep Learning?", "a second text"], "truncate": true, "dimensions": 4}' tei_embed
http_seed 0 '{"texts": ["a"], "pairs": ["b"], "normalize": false}' native_embed
http_seed 1 '{"input": [[101, 2054, 102], [101, 102]], "model": "m", "encoding_format": "base64"}' openai_ids
http_seed 1 '{"input": "hello", "dimensions": 8, "user": "u"}' openai_text
http_seed 2 '{"texts": ["great movie"], "pairs": ["bad"]}' classify
http_seed 3 '{"inputs": [["a", "b"], ["c"]], "raw_scores": true}' predict
http_seed 4 '{"query": "q", "texts": ["x", "y"], "return_text": true}' rerank
http_seed 5 '{"inputs": ["héllo wörld", "b"], "add_special_tokens": false}' tokenize
CK=$(bash "$ROOT/scripts/checkpoint_dir.sh")
# Model and safetensors seeds: the tiny random BERT that the test suite builds and converts (when build/ has
# the tests); the real checkpoint is too large to be a useful fuzz seed, so only its first 64 KiB is used.
if [ -x "$ROOT/build/tests/rmsmp_tests" ]; then
  "$ROOT/build/tests/rmsmp_tests" --gtest_filter='ModelFile.ValidFileLoadsAndTensorsAre64ByteAligned:ModelFile.RejectsBrokenWordTables' >/dev/null 2>&1 || true
  f=$(ls -t /tmp/rmsmp_test_*/tiny_io.rmsmp 2>/dev/null | head -1 || true)
  [ -n "$f" ] && cp "$f" "$OUT/seeds/model_file/tiny.rmsmp"
  f=$(ls -t /tmp/rmsmp_test_*/tiny_io_table.rmsmp 2>/dev/null | head -1 || true)  # fixed4 word table
  [ -n "$f" ] && cp "$f" "$OUT/seeds/model_file/tiny_table.rmsmp"
  s=$(ls -t /tmp/rmsmp_test_*/tiny_bert/model.safetensors /tmp/rmsmp_test_*/tiny_io/model.safetensors 2>/dev/null | head -1 || true)
  [ -n "$s" ] && cp "$s" "$OUT/seeds/safetensors/tiny.safetensors"
fi
# CNN seeds: the committed Fashion-MNIST ResNet-20 converted with RMSMP (about 190 KB) when the converter is built.
if [ -x "$ROOT/build/apps/rmsmp-convert" ]; then
  "$ROOT/build/apps/rmsmp-convert" --quiet --in "$ROOT/tests/data/fmnist/resnet20_fmnist.pth" --scheme fixed4 \
    --out "$OUT/seeds/cnn_model/resnet20_fixed4.rmsmp" >/dev/null
fi
head -c 65536 "$CK/model.safetensors" > "$OUT/seeds/safetensors/minilm_head.safetensors"
cp "$CK/config.json" "$OUT/seeds/config/config.json"
python3 - "$CK" "$OUT/seeds/config/header.json" <<'PY'
import json, sys
ck, out = sys.argv[1], sys.argv[2]
vocab = [l.rstrip("\n") for l in open(ck + "/vocab.txt", encoding="utf-8")][:200]
json.dump({"architecture": {"type": "bert", "vocab_size": 200, "hidden_size": 32, "num_layers": 1, "num_heads": 4,
           "intermediate_size": 64, "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
           "pooling": "mean", "normalize": True, "max_seq_length": 64},
           "tokenizer": {"type": "wordpiece", "lowercase": True, "strip_accents": None, "clean_text": True,
           "handle_chinese_chars": True, "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
           "pad_token": "[PAD]", "mask_token": "[MASK]", "continuing_subword_prefix": "##",
           "max_input_chars_per_word": 100, "vocab": vocab}}, open(out, "w"))
PY
cut -f2 "$ROOT/tests/data/tokenizer_golden.tsv" | sed -n '2,4000p' | awk 'NR % 40 == 0' | \
  while IFS= read -r line; do printf '%s' "$line" > "$OUT/seeds/text/$(printf '%s' "$line" | md5sum | cut -c1-12)"; done
# bpe: the same sentences, plus the hostile edge cases of the RoBERTa golden (whitespace runs, <mask>, emoji).
cp "$OUT/seeds/text/"* "$OUT/seeds/bpe/"
python3 - "$ROOT/tests/data/tiny_roberta/tokenizer_edge_cases.json" "$OUT/seeds/bpe" <<'PY'
import json, sys
for i, c in enumerate(json.load(open(sys.argv[1], encoding="utf-8"))["cases"][:31]):
    open(f"{sys.argv[2]}/edge{i:02d}", "w", encoding="utf-8").write(c["text"])
PY
head -40 "$ROOT/data/sst2/dev.tsv" > "$OUT/seeds/tsv/dev_head.tsv"
head -300 "$CK/vocab.txt" > "$OUT/seeds/tsv/vocab_head.txt"
# hf_json: first byte selects the file (see fuzz_hf_json.cc): 0 config.json, 1 tokenizer.json, 2 special tokens,
# 3 tokenizer_config.json, 4 1_Pooling/config.json, 5 modules.json, 6 sentence_bert_config.json.
i=0
for f in config.json tokenizer.json special_tokens_map.json tokenizer_config.json 1_Pooling/config.json modules.json \
         sentence_bert_config.json; do
  { printf "\\$(printf '%03o' $i)"; cat "$CK/$f"; } > "$OUT/seeds/hf_json/seed_$i"
  i=$((i + 1))
done
# spm: the SentencePiece golden sentences (accents, emoji, Japanese) as raw text.
n=0
cut -f1 "$ROOT/tests/data/sentencepiece/albert_30k_clean.golden.tsv" | while IFS= read -r line; do
  n=$((n + 1)); printf '%s' "$line" > "$OUT/seeds/spm/golden_$n"; done
# tsv: GLUE files of each layout (RTE, STS-B heads plus a few rows).
head -20 "$ROOT/data/rte/dev.tsv" > "$OUT/seeds/tsv/rte_head.tsv"
head -20 "$ROOT/data/stsb/dev.tsv" > "$OUT/seeds/tsv/stsb_head.tsv"
# .pth seeds: the committed tiny checkpoints (both containers) and the hostile one.
cp "$ROOT"/tests/data/pth/*.pth "$OUT/seeds/pth/"
# QAT plan seed: the tiny classifier's post-training rows (rmsmp-convert --export-plan).
if [ -x "$ROOT/build/apps/rmsmp-convert" ]; then
  "$ROOT/build/apps/rmsmp-convert" --quiet --in "$ROOT/tests/data/tiny_classifier" --out "$OUT/seeds/tiny_plan.rmsmp" \
    --export-plan "$OUT/seeds/plan/tiny.plan" > /dev/null
fi
# Image seeds: the committed JPEG, small PNG fixtures, and a 1x4000 PNG (the aspect-ratio amplification case).
cp "$ROOT"/tests/data/images/*.jpg "$OUT/seeds/image/"
python3 - "$OUT/seeds/image" <<'PY'
import struct, sys, zlib
def png(w, h):
    raw = b"".join(b"\x00" + b"\x80" * (3 * w) for _ in range(h))
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
for name, (w, h) in {"small.png": (8, 6), "tall.png": (1, 4000), "wide.png": (300, 2)}.items():
    open(f"{sys.argv[1]}/{name}", "wb").write(png(w, h))
PY
