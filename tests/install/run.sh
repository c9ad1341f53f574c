#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, builds tests/install/consumer against it (find_package:
# shared and static) and the C ABI test against it (pkg-config), and runs them on the tiny classifier,
# comparing the logits with the transformers goldens.
# Usage: tests/install/run.sh BUILD_DIR
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$1" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null
cmake -S "$SRC/tests/install/consumer" -B "$TMP/build" -DCMAKE_PREFIX_PATH="$TMP/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$TMP/build" -j 2 >/dev/null
test -x "$TMP/build/consumer_static" || { echo "install test: rmsmp::rmsmp_static was not defined" >&2; exit 1; }
"$TMP/prefix/bin/rmsmp-convert" --quiet --scheme fp32 --in "$SRC/tests/data/tiny_classifier" --out "$TMP/m.rmsmp" >/dev/null
export LD_LIBRARY_PATH="$TMP/prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for exe in consumer consumer_static; do
  "$TMP/build/$exe" "$TMP/m.rmsmp" > "$TMP/$exe.out"
  python3 - "$SRC/tests/data/tiny_classifier/golden_logits.json" "$TMP/$exe.out" "$exe" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["cases"]
lines = open(sys.argv[2]).read().split("\n")
want = [g[0]["logits"], g[3]["logits"]]
got = [json.loads(lines[0]), json.loads(lines[1])]
err = max(abs(a - b) for w, o in zip(want, got) for a, b in zip(w, o))
assert err < 1e-5, f"{sys.argv[3]}: logits differ from transformers by {err}"
assert lines[2] == "dim 32", lines[2]
assert lines[3] == "vision: invalid file", lines[3]
print(f"install test: {sys.argv[3]} (find_package) matches transformers, max abs diff {err:.2e}")
PY
done
# C, through pkg-config only.
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
cc -std=c11 -Wall -o "$TMP/c_api_test" "$SRC/tests/c_api/c_api_test.c" $(pkg-config --cflags --libs rmsmp) -lm
"$TMP/c_api_test" "$TMP/m.rmsmp"
echo "install test: passed"
