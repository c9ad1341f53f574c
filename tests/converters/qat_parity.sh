#!/usr/bin/env bash
# QAT parity (issue 17): a few training steps (one row reassignment included) on the tiny BERT, the trained plan
# packed by rmsmp-convert --plan, and the engine's embeddings compared with the trainer's own fake-quantized
# forward (PyTorch, per-token int8 activations). They agree up to summation order; a scheme, step, code or
# activation rule that differs between the trainer and the engine shows as a large difference.
# usage: qat_parity.sh BIN_DIR SOURCE_DIR   (python: $RMSMP_TORCH_PYTHON, default /usr/bin/python3 with torch)
set -euo pipefail
bin=$1 src=$2 py=${RMSMP_TORCH_PYTHON:-/usr/bin/python3}
"$py" -c "import torch, numpy" || { echo "FAIL: $py cannot import torch and numpy (bash scripts/setup.sh installs them)"; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; cd "$work"
ck=$src/tests/data/tiny_classifier
printf 'the movie was very good !\nit is not fun , the plot was dull .\na great play\nbad\n' > calib.txt
for i in $(seq 1 12); do
  printf 'the plot was %s\nnot a good movie , it was %s !\na very %s play , not fun\n' dull great fun
  printf 'it is %s . the movie %s\n' bad good
done > train.txt
printf 'the movie was good\nnot a great plot , dull\nfun play !\nit is a very bad , dull movie .\n' > text.txt
"$bin/rmsmp-convert" --quiet --in "$ck" --out ptq.rmsmp --calib calib.txt --export-plan ptq.plan > /dev/null
"$bin/rmsmp-run" tokenize --model ptq.rmsmp --input train.txt > train.ids
"$bin/rmsmp-run" tokenize --model ptq.rmsmp --input text.txt > text.ids
"$py" "$src/converters/train/qat_encoder.py" --plan ptq.plan --ids train.ids --val-ids text.ids --out qat.plan \
  --steps 6 --batch 8 --reassign-every 3 --eval-every 3 --threads 1 --lr 1e-3 --step-lr 1e-4 | tee qat.log
grep -q "reassigned" qat.log
"$bin/rmsmp-convert" --quiet --in "$ck" --out qat.rmsmp --plan qat.plan > /dev/null
"$bin/rmsmp-run" embed --model qat.rmsmp --input text.txt > engine.jsonl
"$py" "$src/converters/train/qat_encoder.py" --plan qat.plan --teacher ptq.plan --embed text.ids > torch.jsonl
"$bin/rmsmp-run" embed --model ptq.rmsmp --input text.txt > ptq.jsonl
"$py" - <<'PY'
import json, numpy as np
load = lambda f: np.array([json.loads(l)["embedding"] for l in open(f)])
e, t, p = load("engine.jsonl"), load("torch.jsonl"), load("ptq.jsonl")
diff, moved = np.abs(e - t).max(), np.abs(e - p).max()
print(f"engine vs trainer: max |diff| {diff:.2e}; training moved the embeddings by up to {moved:.2e}")
assert e.shape == t.shape and e.shape[0] == 4, (e.shape, t.shape)
assert diff < 1e-3, "the engine does not compute what the trainer trained"
assert moved > 10 * diff, "training changed nothing measurable: the parity check would not see a mismatch"
print("PASS")
PY
