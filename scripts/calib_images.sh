#!/usr/bin/env bash
# Prints a folder of calibration photos for the ImageNet CNNs, creating it on first use: the sample images that
# scikit-image ships in its PyPI wheel (skimage/data; public domain / CC0 / scikit-image's own, see that
# package's data/README), minus chelsea.png and coffee.png, which are the evaluation photos, and minus the tiny
# synthetic ones. Only the wheel is downloaded (pip download --no-deps); nothing is installed.
# Folder: ${RMSMP_CACHE:-$HOME/.cache/rmsmp}/calib-images (idempotent).
set -euo pipefail
SKIMAGE="scikit-image==0.26.0"
DIR="${RMSMP_CACHE:-$HOME/.cache/rmsmp}/calib-images"
KEEP="astronaut.png brick.png camera.png cell.png clock_motion.png coins.png color.png grass.png gravel.png
      hubble_deep_field.jpg ihc.png logo.png moon.png motorcycle_left.png motorcycle_right.png page.png retina.jpg
      rocket.jpg text.png"
if [ ! -f "$DIR/.complete" ]; then
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$TMP" "$SKIMAGE" >&2 \
    || { echo "calib_images: FAILED to download $SKIMAGE from PyPI" >&2; exit 1; }
  mkdir -p "$DIR.partial"
  for f in $KEEP; do
    python3 - "$TMP"/scikit_image-*.whl "skimage/data/$f" "$DIR.partial/$f" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[3], "wb") as out:
    out.write(z.read(sys.argv[2]))
PY
  done
  echo "$SKIMAGE skimage/data" > "$DIR.partial/.complete"
  rm -rf "$DIR" && mv "$DIR.partial" "$DIR"
fi
echo "$DIR"
