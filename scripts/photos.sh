#!/usr/bin/env bash
# Prints the folder of the vision fidelity photo set, assembling it on first use from Debian packages.
#
# data/photos/photos.tsv lists every photo: its split, its name here, the Debian package and version it comes
# from, its path inside the package, the sha256 of that file and its licence (from the package's DEP-5
# copyright file; see data/photos/README.md). The packages are fetched with `apt-get download` (nothing is
# installed), only the listed files are extracted, and every file is checked against its sha256: a different
# package version that changed a photo fails loudly instead of silently changing the measurement.
#
# Layout: DIR/eval/ (109 photos: every listed photo of opencv-doc, darknet, python3-sklearn and the others, half
# of the wallpaper photos, half of the Tux Paint animal photos), DIR/calib/ (61: the other halves) and
# DIR/train/ (224: the calib/ photos plus 163 more Tux Paint photo stamps of every category, for
# quantization-aware training; never evaluated). No photo of eval/ is in calib/ or train/. Tux Paint's stamps are cut-out photos with a transparent background; they are composited onto
# white (Pillow) and written as PNG, the only change made to any file.
# DIR: ${RMSMP_CACHE:-$HOME/.cache/rmsmp}/photos (idempotent; delete it to rebuild).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIST="$ROOT/data/photos/photos.tsv"
DIR="${RMSMP_CACHE:-$HOME/.cache/rmsmp}/photos"
if [ -f "$DIR/.complete" ] && cmp -s "$DIR/.complete" "$LIST"; then echo "$DIR"; exit 0; fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rm -rf "$DIR.partial" && mkdir -p "$DIR.partial/eval" "$DIR.partial/calib" "$DIR.partial/train"
cd "$TMP"
# One download per package (pinned version first, the archive's current one if that version is gone: the
# sha256 checks decide whether it still has the same files).
tail -n +2 "$LIST" | cut -f3,4 | sort -u | while IFS=$'\t' read -r pkg ver; do
  if ! apt-get download -qq "$pkg=$ver" >/dev/null 2>&1 && ! apt-get download -qq "$pkg" >/dev/null 2>&1; then
    echo "photos: FAILED to download Debian package $pkg (run apt-get update?)" >&2; exit 1
  fi
  deb=$(ls "$pkg"_*.deb | head -1)
  mkdir -p "x/$pkg"
  # Only this package's listed paths (tar needs them without the leading slash, as ./path).
  awk -F'\t' -v p="$pkg" 'NR > 1 && $3 == p { print "." $5 }' "$LIST" > "x/$pkg.paths"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "x/$pkg" -T "x/$pkg.paths" \
    || { echo "photos: $deb lacks some of the listed files" >&2; exit 1; }
  rm -f "$deb"
done
python3 - "$LIST" "$TMP/x" "$DIR.partial" <<'PY'
import hashlib, io, sys
from PIL import Image
listing, src, out = sys.argv[1:4]
rows = [l.rstrip("\n").split("\t") for l in open(listing, encoding="utf-8")][1:]
for split, name, pkg, _ver, path, sha, _lic in rows:
    data = open(f"{src}/{pkg}{path}", "rb").read()
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        sys.exit(f"photos: {pkg}{path}: sha256 {got}, photos.tsv expects {sha}")
    dst = f"{out}/{split}/{name}"
    if pkg == "tuxpaint-stamps-default":   # cut-out photo: composite onto white
        im = Image.open(io.BytesIO(data)).convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        bg.alpha_composite(im)
        bg.convert("RGB").save(dst, "PNG")
    else:
        open(dst, "wb").write(data)
    if split == "calib":  # train/ = calib/ + the train rows
        open(f"{out}/train/{name}", "wb").write(open(dst, "rb").read())
n = {k: sum(r[0] == k for r in rows) for k in ("eval", "calib", "train")}
print(f"photos: {n['eval']} eval, {n['calib']} calib, {n['calib'] + n['train']} train (calib + {n['train']})",
      file=sys.stderr)
PY
cp "$LIST" "$DIR.partial/.complete"
rm -rf "$DIR" && mv "$DIR.partial" "$DIR"
echo "$DIR"
