// FPGA cost model (see fpga_model.h for the equations and assumptions).
#include "fpga_model.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "io/model_format.h"
#include "models/cnn_schema.h"
#include "models/encoder_tensors.h"
#include "rmsmp/error.h"

namespace rmsmp {

const std::vector<FpgaDevice>& fpga_devices() {
  // Resources from the vendor's product tables; clocks and DDR are our assumptions for a typical board.
  static const std::vector<FpgaDevice> d = {
      {"xc7z020", "Zynq-7000", 53200, 106400, 220, 140, 100, 4.264, "PS DDR3-1066, 32-bit (ZedBoard/PYNQ-Z1 class)"},
      {"xc7z045", "Zynq-7000", 218600, 437200, 900, 545, 100, 4.264, "PS DDR3-1066, 32-bit (ZC706 PS side)"},
      {"xczu9eg", "Zynq UltraScale+", 274080, 548160, 2520, 912, 200, 19.2, "PS DDR4-2400, 64-bit (ZCU102)"},
  };
  return d;
}

const FpgaDevice& fpga_device(const std::string& name) {
  std::string known;
  for (const auto& d : fpga_devices()) {
    if (name == d.name) return d;
    known += known.empty() ? "" : ", ";
    known += d.name;
  }
  RMSMP_FAIL(ErrorCode::InvalidArgument, "unknown FPGA device '" << name << "' (known: " << known << ")");
  return fpga_devices().front();  // not reached
}

nlohmann::json FpgaAssumptions::to_json() const {
  return {{"lut_per_pot4_lane", lut_per_pot4_lane}, {"lut_budget", lut_budget}, {"dsp_budget", dsp_budget},
          {"fixed4_macs_per_dsp", fixed4_macs_per_dsp}, {"fixed8_macs_per_dsp", fixed8_macs_per_dsp},
          {"fixed8_share", fixed8_share}, {"bram_weight_share", bram_weight_share},
          {"ddr_efficiency", ddr_efficiency}, {"act_bits", act_bits},
          {"lut_per_lane_source", "hardware/synth/costs.md (Yosys synth_xilinx, 16-lane PoT-4 x int4 unit)"}};
}

FpgaCores fpga_cores(const FpgaDevice& d, const FpgaAssumptions& a) {
  RMSMP_CHECK(a.lut_budget > 0 && a.lut_budget <= 1 && a.dsp_budget > 0 && a.dsp_budget <= 1, ErrorCode::InvalidArgument,
              "LUT and DSP budgets must be in (0, 1]");
  FpgaCores c;
  c.pot4_lanes = int64_t(std::floor(a.lut_budget * double(d.luts) / a.lut_per_pot4_lane));
  c.dsps = int64_t(std::floor(a.dsp_budget * double(d.dsps)));
  c.f4_rate = double(c.dsps) * a.fixed4_macs_per_dsp;
  c.f8_rate = double(c.dsps) * a.fixed8_macs_per_dsp;
  return c;
}

RatioDerivation derive_ratio(const FpgaDevice& d, const FpgaAssumptions& a) {
  RMSMP_CHECK(a.fixed8_share >= 0 && a.fixed8_share < 1, ErrorCode::InvalidArgument, "fixed8 share must be in [0, 1)");
  RatioDerivation r;
  r.cores = fpga_cores(d, a);
  const double N = double(r.cores.pot4_lanes), f8 = a.fixed8_share;
  const double p = ((1 - f8) / r.cores.f4_rate + f8 / r.cores.f8_rate) / (1 / N + 1 / r.cores.f4_rate);
  r.pot4_exact = std::clamp(p, 0.0, 1.0 - f8);
  // Whole percents (what a user would type, and what the paper reports); Fixed-4 takes the remainder.
  const double p_pct = std::round(r.pot4_exact * 100) / 100, f8_pct = std::round(f8 * 100) / 100;
  r.ratios = Ratios(p_pct, std::max(0.0, 1.0 - p_pct - f8_pct), f8_pct);
  return r;
}

nlohmann::json RatioDerivation::to_json(const FpgaDevice& d, const FpgaAssumptions& a) const {
  return {{"device", d.name},
          {"ratio", ratios_json(ratios)},
          {"pot4_exact", pot4_exact},
          {"cores", {{"pot4_lanes", cores.pot4_lanes}, {"dsps", cores.dsps}, {"fixed4_macs_per_cycle", cores.f4_rate},
                     {"fixed8_macs_per_cycle", cores.f8_rate}}},
          {"rule", "p / N_lut = f4 / (D k4) + f8 / (D k8): both cores finish a layer together"},
          {"assumptions", a.to_json()}};
}

const std::vector<std::string>& fpga_arch_names() {
  static const std::vector<std::string> n = {"resnet18", "resnet50", "minilm-l6", "bert-base"};
  return n;
}

namespace {

FpgaLayer conv(const std::string& name, int64_t cout, int64_t cin, int64_t k, int64_t hin, int64_t stride) {
  const int64_t hout = hin / stride;
  return {name, cout, cin * k * k, hout * hout, false, cin * hin * hin, cout * hout * hout};
}

std::vector<FpgaLayer> resnet(bool bottleneck) {
  std::vector<FpgaLayer> L;
  L.push_back(conv("conv1", 64, 3, 7, 224, 2));  // then 3x3/2 max pooling: 112 -> 56
  const int64_t widths[4] = {64, 128, 256, 512};
  const int64_t blocks[4] = {bottleneck ? 3 : 2, bottleneck ? 4 : 2, bottleneck ? 6 : 2, bottleneck ? 3 : 2};
  int64_t in = 64, h = 56;
  for (int s = 0; s < 4; ++s)
    for (int64_t b = 0; b < blocks[s]; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1, w = widths[s];
      const std::string p = "layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".";
      if (bottleneck) {  // torchvision v1.5: the stride sits on the 3x3
        L.push_back(conv(p + "conv1", w, in, 1, h, 1));
        L.push_back(conv(p + "conv2", w, w, 3, h, stride));
        L.push_back(conv(p + "conv3", 4 * w, w, 1, h / stride, 1));
        if (b == 0) L.push_back(conv(p + "downsample", 4 * w, in, 1, h, stride));
        in = 4 * w;
      } else {
        L.push_back(conv(p + "conv1", w, in, 3, h, stride));
        L.push_back(conv(p + "conv2", w, w, 3, h / stride, 1));
        if (b == 0 && (stride != 1 || in != w)) L.push_back(conv(p + "downsample", w, in, 1, h, stride));
        in = w;
      }
      h /= stride;
    }
  L.push_back({"fc", 1000, in, 1, false, in, 1000});
  return L;
}

std::vector<FpgaLayer> bert(int64_t layers, int64_t H, int64_t F, int64_t seq) {
  std::vector<FpgaLayer> L;
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "encoder." + std::to_string(l) + ".";
    for (const char* n : {"q", "k", "v"}) L.push_back({p + n, H, H, seq, false, H * seq, H * seq});
    L.push_back({p + "attention (QK^T, PV)", 0, 0, 2 * seq * seq * H, true, 3 * H * seq, H * seq});
    L.push_back({p + "attn_out", H, H, seq, false, H * seq, H * seq});
    L.push_back({p + "ffn_in", F, H, seq, false, H * seq, F * seq});
    L.push_back({p + "ffn_out", H, F, seq, false, F * seq, H * seq});
  }
  return L;
}

}  // namespace

std::vector<FpgaLayer> fpga_arch_layers(const std::string& arch, int64_t seq) {
  RMSMP_CHECK(seq >= 1 && seq <= 4096, ErrorCode::InvalidArgument, "--seq " << seq << " outside [1, 4096]");
  if (arch == "resnet18") return resnet(false);
  if (arch == "resnet50") return resnet(true);
  if (arch == "minilm-l6") return bert(6, 384, 1536, seq);
  if (arch == "bert-base") return bert(12, 768, 3072, seq);
  RMSMP_FAIL(ErrorCode::InvalidArgument, "unknown architecture '" << arch << "' (known: resnet18, resnet50, minilm-l6, bert-base)");
  return {};
}

std::vector<FpgaLayer> fpga_model_file_layers(const std::string& path, int64_t seq) {
  return fpga_model_layers(ModelFile::open(path)->header(), seq);
}

std::vector<FpgaLayer> fpga_model_layers(const nlohmann::json& h, int64_t seq) {
  RMSMP_CHECK(h.contains("linears") && h.contains("architecture"), ErrorCode::InvalidFile, "model header has no linears");
  const auto& arch = h["architecture"];
  std::vector<FpgaLayer> L;
  if (arch.value("type", "") == "cnn") {  // the engine's schema (models/cnn_schema.h) reads the graph
    const CnnSchema g = cnn_schema_from_json(arch, "model header");
    for (const CnnNode& n : g.nodes) {
      if (n.op != CnnNode::Op::Conv) continue;
      const std::string& name = g.layer_names[size_t(n.layer)];
      const auto& lin = h["linears"].at(name);
      const CnnValue &vi = g.values[size_t(n.in)], &vo = g.values[size_t(n.out)];
      const int64_t rows = lin.at("rows").get<int64_t>(), cols = lin.at("cols").get<int64_t>();
      const int64_t pos = vo.h * vo.w;
      L.push_back({name, rows, cols, pos, false, vi.h * vi.w * vi.c, rows * pos});
    }
    return L;
  }
  const int64_t H = arch.at("hidden_size").get<int64_t>(), layers = arch.at("num_layers").get<int64_t>();
  for (int64_t l = 0; l < layers; ++l)
    for (const char* n : {"q", "k", "v", "attention", "attn_out", "ffn_in", "ffn_out"}) {
      const std::string name = enc::linear(l, n);
      if (std::string(n) == "attention") {
        L.push_back({name + " (QK^T, PV)", 0, 0, 2 * seq * seq * H, true, 3 * H * seq, H * seq});
        continue;
      }
      RMSMP_CHECK(h["linears"].contains(name), ErrorCode::InvalidFile, "model header has no linear " << name);
      const auto& lin = h["linears"][name];
      const int64_t rows = lin.at("rows").get<int64_t>(), cols = lin.at("cols").get<int64_t>();
      L.push_back({name, rows, cols, seq, false, cols * seq, rows * seq});
    }
  return L;
}

FpgaPrediction fpga_predict(const FpgaDevice& d, const FpgaAssumptions& a, const Ratios& r,
                            const std::vector<FpgaLayer>& layers) {
  const FpgaCores c = fpga_cores(d, a);
  const double bytes_per_cycle = d.ddr_gbps * 1e9 * a.ddr_efficiency / (d.clock_mhz * 1e6);
  const double bram_bytes = double(d.bram36) * 36864 / 8;
  FpgaPrediction p;
  // Weights: each row's scheme's storage bits (the scheme table), plus a 32-bit scale per row; the baseline is
  // Fixed-4 throughout.
  const int bp = quant_scheme(QuantKind::Pow2x4).bits, b4 = quant_scheme(QuantKind::Fixed4).bits,
            b8 = quant_scheme(QuantKind::Fixed8).bits;
  std::vector<std::array<int64_t, 3>> counts;
  for (const auto& l : layers) {
    int64_t n8 = 0, n4 = 0, np = 0;
    if (!l.act_act) ratio_counts(r, l.rows, n8, n4, np);
    counts.push_back({np, n4, n8});
    p.weight_bytes += double(l.cols) * double(bp * np + b4 * n4 + b8 * n8) / 8 + 4.0 * double(l.rows);
    p.baseline_weight_bytes += double(l.cols) * double(l.rows) * b4 / 8 + 4.0 * double(l.rows);
  }
  p.weights_on_chip = p.weight_bytes <= a.bram_weight_share * bram_bytes;
  p.baseline_weights_on_chip = p.baseline_weight_bytes <= a.bram_weight_share * bram_bytes;
  const double act_bram = (1 - a.bram_weight_share) * bram_bytes;
  for (size_t i = 0; i < layers.size(); ++i) {
    const FpgaLayer& l = layers[i];
    FpgaLayerPrediction lp;
    lp.name = l.name;
    const double per_row = double(l.cols) * double(l.positions);
    lp.pot4_rows = counts[i][0], lp.fixed4_rows = counts[i][1], lp.fixed8_rows = counts[i][2];
    // Activations spill to DDR when a layer's input and output do not fit the activation buffers.
    const double act_bytes = double(l.act_in + l.act_out) * a.act_bits / 8;
    const double act_mem = act_bytes > act_bram ? act_bytes / bytes_per_cycle : 0;
    if (l.act_act) {  // attention products: both operands are activations, on the DSP core at 8 bits
      lp.macs = l.positions;
      lp.dsp_cycles = int64_t(std::ceil(double(l.positions) / c.f8_rate));
      lp.mem_cycles = int64_t(std::ceil(act_mem));
      lp.cycles = std::max(lp.dsp_cycles, lp.mem_cycles);
      lp.baseline_cycles = lp.cycles;
    } else {
      lp.macs = l.rows * l.cols * l.positions;
      lp.lut_cycles = int64_t(std::ceil(double(lp.pot4_rows) * per_row / double(c.pot4_lanes)));
      lp.dsp_cycles = int64_t(std::ceil(double(lp.fixed4_rows) * per_row / c.f4_rate) +
                              std::ceil(double(lp.fixed8_rows) * per_row / c.f8_rate));
      const double wbytes = double(l.cols) * double(4 * lp.pot4_rows + 4 * lp.fixed4_rows + 8 * lp.fixed8_rows) / 8;
      const double bbytes = double(l.cols) * double(l.rows) * 4 / 8;
      lp.mem_cycles = int64_t(std::ceil((p.weights_on_chip ? 0 : wbytes / bytes_per_cycle) + act_mem));
      lp.cycles = std::max({lp.lut_cycles, lp.dsp_cycles, lp.mem_cycles});
      const int64_t base_compute = int64_t(std::ceil(double(l.rows) * per_row / c.f4_rate));
      const int64_t base_mem = int64_t(std::ceil((p.baseline_weights_on_chip ? 0 : bbytes / bytes_per_cycle) + act_mem));
      lp.baseline_cycles = std::max(base_compute, base_mem);
    }
    p.cycles += lp.cycles;
    p.baseline_cycles += lp.baseline_cycles;
    p.macs += lp.macs;
    p.layers.push_back(lp);
  }
  p.latency_ms = double(p.cycles) / (d.clock_mhz * 1e3);
  p.baseline_latency_ms = double(p.baseline_cycles) / (d.clock_mhz * 1e3);
  p.speedup = p.cycles > 0 ? double(p.baseline_cycles) / double(p.cycles) : 0;
  return p;
}

}  // namespace rmsmp
