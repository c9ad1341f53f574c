#!/usr/bin/env bash
# Synthesizes the processing-element lanes with Yosys (synth_xilinx, 7-series) and writes the cost table
# hardware/synth/costs.md: LUTs, carry chains, muxes, flip-flops and DSP48E1 slices for 16 lanes of each scheme
# (PoT-4, Fixed-4, Fixed-8 weights x 4-bit activations), with and without DSP inference, plus the
# accumulate-and-scale stage. Usage: bash scripts/synth_costs.sh   (installs Debian's yosys if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v yosys >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq yosys >/dev/null; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
run() {  # name top params extra-synth-flags
  local name=$1 top=$2 params=$3 flags=$4
  yosys -q -p "read_verilog hardware/rtl/pot4_pe.v hardware/rtl/fixed_pe.v hardware/rtl/dot_lanes.v hardware/rtl/acc_scale.v;
               chparam $params $top; synth_xilinx -top $top -family xc7 -flatten $flags; tee -q -o $TMP/$name.txt stat" >/dev/null
}
run pot4 dot_lanes "-set SCHEME 0 -set LANES 16 -set ACT_BITS 4" ""
run fixed4 dot_lanes "-set SCHEME 1 -set LANES 16 -set ACT_BITS 4" ""
run fixed8 dot_lanes "-set SCHEME 2 -set LANES 16 -set ACT_BITS 4" ""
run fixed4_nodsp dot_lanes "-set SCHEME 1 -set LANES 16 -set ACT_BITS 4" "-nodsp"
run fixed8_nodsp dot_lanes "-set SCHEME 2 -set LANES 16 -set ACT_BITS 4" "-nodsp"
run acc_scale acc_scale "-set S 16" ""
python3 - "$TMP" "$(yosys -V)" > hardware/synth/costs.md <<'PY'
import re, sys, os
tmp, ver = sys.argv[1], sys.argv[2]
def cells(name):
    c = {}
    for line in open(os.path.join(tmp, name + ".txt")):
        m = re.match(r"\s+(\w+)\s+(\d+)$", line)
        if m: c[m.group(1)] = int(m.group(2))
    return c
rows = [("pot4", "PoT-4 x int4, 16 lanes (shift-add)"), ("fixed4", "Fixed-4 x int4, 16 lanes"),
        ("fixed4_nodsp", "Fixed-4 x int4, 16 lanes, -nodsp"), ("fixed8", "Fixed-8 x int4, 16 lanes"),
        ("fixed8_nodsp", "Fixed-8 x int4, 16 lanes, -nodsp"), ("acc_scale", "accumulate-and-scale (int32 acc, 32x32 scale)")]
print("# Synthesis cost of the processing elements\n")
print(f"`bash scripts/synth_costs.sh` ({ver}, `synth_xilinx -family xc7 -flatten`; I/O buffers excluded). "
      "The lane modules are combinational (16 products and their sum); LUT = LUT1..LUT6.\n")
print("| design | LUT | LUT per lane | CARRY4 | MUXF7/F8 | FF | DSP48E1 |")
print("|---|---:|---:|---:|---:|---:|---:|")
for key, label in rows:
    c = cells(key)
    lut = sum(v for k, v in c.items() if re.fullmatch(r"LUT\d", k))
    ff = sum(v for k, v in c.items() if k.startswith("FD"))
    per = f"{lut / 16:.1f}" if key != "acc_scale" else "-"
    print(f"| {label} | {lut} | {per} | {c.get('CARRY4', 0)} | {c.get('MUXF7', 0) + c.get('MUXF8', 0)} | {ff} | {c.get('DSP48E1', 0)} |")
print("\nNotes: the lane sums are 32 bits wide (not trimmed to the needed width), and their adders are part of every")
print("per-lane figure. Yosys maps the 4x4-bit products to LUTs even with DSP inference on. The 8x4-bit products")
print("go to DSP48E1 slices, one per lane, with the adders absorbed. The cost model (issue 9) still has to be")
print("built from these numbers.")
PY
cat hardware/synth/costs.md
