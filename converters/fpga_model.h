// Hardware-informative ratios (../shared/RMSMP.md section 2): an FPGA cost model of RMSMP's two cores.
//
// The PoT-4 rows run on a LUT core (shift-and-add lanes, no multiplier); the Fixed rows on a DSP core (one
// multiply per DSP slice per cycle, two 4-bit products per slice by operand packing). Both cores work on the
// same layer at once, so the PoT:Fixed split that makes them finish together minimises the layer's time. The
// 8-bit share is fixed by the accuracy budget (default 5%) and carved out of the DSP side:
//
//   p / N_lut  =  f4 / (D k4) + f8 / (D k8),   f4 = 1 - p - f8
//   => p = ((1 - f8) / (D k4) + f8 / (D k8)) / (1 / N_lut + 1 / (D k4))
//
// N_lut = floor(lut_budget * LUTs / LUT per PoT-4 lane), D = floor(dsp_budget * DSPs), k4/k8 = 4-/8-bit
// MACs per DSP per cycle. LUT per lane comes from Yosys synthesis of hardware/rtl (hardware/synth/costs.md).
// Latency adds memory: weights stream from DDR when the model does not fit the BRAM share reserved for
// weights; a layer takes max(compute, memory) cycles (double buffering). The baseline is a DSP-only Fixed-W4A4
// design on the same device, same DSP budget and packing. Every assumption is a field of FpgaAssumptions and is
// printed with the prediction.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "row_assign.h"

namespace rmsmp {

struct FpgaDevice {
  const char* name;    // "xc7z020", "xc7z045", "xczu9eg"
  const char* family;  // "Zynq-7000", "Zynq UltraScale+"
  int64_t luts, ffs, dsps, bram36;
  double clock_mhz;    // the clock we assume a design of this kind closes at on the part
  double ddr_gbps;     // peak DDR bandwidth of the board's memory the fabric reads weights from
  const char* ddr_note;
};
const std::vector<FpgaDevice>& fpga_devices();
const FpgaDevice& fpga_device(const std::string& name);  // InvalidArgument listing the known names

struct FpgaAssumptions {
  double lut_per_pot4_lane = 64.1;  // Yosys synth_xilinx, PoT-4 x int4 lane incl. its 32-bit adder
  double lut_budget = 0.60;         // LUT share for the PoT core (the rest: control, buffers, scaling, DSP glue)
  double dsp_budget = 0.90;         // DSP share for the Fixed core
  double fixed4_macs_per_dsp = 2;   // two 4-bit weights sharing one activation operand per DSP slice
  double fixed8_macs_per_dsp = 1;
  double fixed8_share = 0.05;       // 8-bit rows: set by accuracy (Hessian budget), not by the balance
  double bram_weight_share = 0.75;  // BRAM share that can hold weights; the rest buffers activations
  double ddr_efficiency = 0.70;     // sustained / peak DDR bandwidth
  int act_bits = 4;                 // activation bits (the paper's W4A4-equivalent setting)
  nlohmann::json to_json() const;
};

struct FpgaCores {
  int64_t pot4_lanes = 0, dsps = 0;  // LUT-core lanes (one PoT-4 MAC per cycle each), DSP-core slices
  double f4_rate = 0, f8_rate = 0;   // Fixed-4 / Fixed-8 MACs per cycle of the whole DSP core
};
FpgaCores fpga_cores(const FpgaDevice& d, const FpgaAssumptions& a);

struct RatioDerivation {
  Ratios ratios;        // rounded to whole percent, summing to 1
  double pot4_exact = 0;
  FpgaCores cores;
  nlohmann::json to_json(const FpgaDevice& d, const FpgaAssumptions& a) const;
};
RatioDerivation derive_ratio(const FpgaDevice& d, const FpgaAssumptions& a);

// One weight layer (a conv's output channels are its rows; positions = output pixels or tokens) or an
// activation x activation product (attention; no weights, on the DSP core at 8 bits).
struct FpgaLayer {
  std::string name;
  int64_t rows = 0, cols = 0, positions = 0;
  bool act_act = false;
  int64_t act_in = 0, act_out = 0;  // activation elements read / written
};
// Layer lists of known architectures: resnet18, resnet50 (torchvision, 224x224), minilm-l6, bert-base
// (seq tokens, batch 1).
std::vector<FpgaLayer> fpga_arch_layers(const std::string& arch, int64_t seq);
const std::vector<std::string>& fpga_arch_names();
// The linear layers of a .rmsmp header ("linears", "architecture") at seq tokens, plus its attention products;
// for a CNN header (architecture.type "cnn"), every conv node at its output size (seq unused).
std::vector<FpgaLayer> fpga_model_layers(const nlohmann::json& header, int64_t seq);
// The same for a .rmsmp file: only its header is read (no weights bound, no kernels run).
std::vector<FpgaLayer> fpga_model_file_layers(const std::string& path, int64_t seq);

struct FpgaLayerPrediction {
  std::string name;
  int64_t macs = 0, pot4_rows = 0, fixed4_rows = 0, fixed8_rows = 0;
  int64_t lut_cycles = 0, dsp_cycles = 0, mem_cycles = 0, cycles = 0, baseline_cycles = 0;
};
struct FpgaPrediction {
  std::vector<FpgaLayerPrediction> layers;
  int64_t cycles = 0, baseline_cycles = 0, macs = 0;
  double weight_bytes = 0, baseline_weight_bytes = 0;
  bool weights_on_chip = false, baseline_weights_on_chip = false;
  double latency_ms = 0, baseline_latency_ms = 0, speedup = 0;
};
FpgaPrediction fpga_predict(const FpgaDevice& d, const FpgaAssumptions& a, const Ratios& r,
                            const std::vector<FpgaLayer>& layers);

}  // namespace rmsmp
