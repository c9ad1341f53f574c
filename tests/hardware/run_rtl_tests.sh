#!/usr/bin/env bash
# Simulates hardware/rtl with Icarus Verilog against the engine's reference dot products: every scheme
# (pot4, fixed4, fixed8) x activation width (4, 8). Usage: run_rtl_tests.sh GEN_PE_VECTORS_BINARY
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
GEN=$1
command -v iverilog >/dev/null || { echo "iverilog not found: bash scripts/setup.sh installs it" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
for scheme in pot4:0 fixed4:1 fixed8:2; do
  name=${scheme%%:*}; id=${scheme##*:}
  for act in 4 8; do
    "$GEN" "$name" "$act" "$TMP/v.hex"
    iverilog -g2012 -Ptb_row.SCHEME="$id" -Ptb_row.ACT_BITS="$act" -o "$TMP/sim" \
      "$SRC/hardware/tb/tb_row.v" "$SRC"/hardware/rtl/*.v
    out=$(vvp -n "$TMP/sim" +vectors="$TMP/v.hex" | grep -v "Not enough words")  # $readmemh warns about the unused tail
    echo "$name x int$act: $out"
    case "$out" in *PASS*) ;; *) fail=1 ;; esac
  done
done
exit $fail
