// rmsmp-fpga: derives the PoT:Fixed row ratio that balances RMSMP's LUT and DSP cores on an FPGA, and predicts
// per-layer and end-to-end cycles and latency against a DSP-only Fixed-W4A4 design (converters/fpga_model.h).
#include <cstdio>
#include <iostream>
#include <sstream>

#include "common/cli.h"
#include "fpga_model.h"
#include "rmsmp/error.h"

using namespace rmsmp;
using nlohmann::json;

namespace {

const char* kHelp = R"(rmsmp-fpga: hardware-informative RMSMP ratios and latency on an FPGA (a cost model, not a measurement).

usage: rmsmp-fpga --fpga-part NAME (--model FILE.rmsmp | --arch NAME) [options]
       rmsmp-fpga --list-devices
       rmsmp-fpga --paper-table

  --fpga-part NAME    xc7z020 | xc7z045 | xczu9eg (resources, clock and DDR: --list-devices); --device NAME is
                      its older name
  --model FILE        layer shapes from a converted model: a BERT's linears (attention products added) or a
                      CNN's convs at their output sizes
  --arch NAME         resnet18 | resnet50 (224x224) | minilm-l6 | bert-base (batch 1, --seq tokens)
  --seq N             tokens for BERT-family models (default 128)
  --ratios R          evaluate this ratio (pot4=..,fixed4=..,fixed8=..) instead of the derived one
  --fixed8 F          8-bit row share, carved from the DSP side (default 0.05)
  --lut-budget U      LUT share for the PoT-4 core (default 0.60)
  --dsp-budget U      DSP share for the Fixed core (default 0.90)
  --k4 N              Fixed-4 MACs per DSP per cycle (default 2: operand packing); --k8 N for Fixed-8 (default 1)
  --json              one JSON object: device, ratio, cycles, latency_ms, baseline_latency_ms, speedup, cores,
                      assumptions, memory, layers
  --paper-table       derived ratios and ResNet-18 speedups for XC7Z020 / XC7Z045 beside the paper's (Markdown)

The PoT-4 core runs p of each layer's rows on shift-add LUT lanes; the Fixed core runs the Fixed-4 and Fixed-8
rows on DSP slices; both at once, so p is chosen to make them finish together. A layer takes
max(LUT core, DSP core, memory) cycles; memory counts DDR traffic for weights that do not fit the BRAM share and
for activations that do not fit the buffers. Attention products (activation x activation) run on the DSP core
at 8 bits in both designs.
)";

std::string pct(const Ratios& r) {
  char b[64];
  std::snprintf(b, sizeof b, "%.0f:%.0f:%.0f", r[QuantKind::Pow2x4] * 100, r[QuantKind::Fixed4] * 100,
                r[QuantKind::Fixed8] * 100);
  return b;
}

json prediction_json(const FpgaDevice& d, const FpgaAssumptions& a, const RatioDerivation& der, const Ratios& r,
                     const FpgaPrediction& p, const std::string& model) {
  json layers = json::array();
  for (const auto& l : p.layers)
    layers.push_back({{"name", l.name}, {"macs", l.macs}, {"rows", {{"pot4", l.pot4_rows}, {"fixed4", l.fixed4_rows},
                                                                    {"fixed8", l.fixed8_rows}}},
                      {"lut_cycles", l.lut_cycles}, {"dsp_cycles", l.dsp_cycles}, {"mem_cycles", l.mem_cycles},
                      {"cycles", l.cycles}, {"baseline_cycles", l.baseline_cycles}});
  return {{"device", d.name},
          {"model", model},
          {"ratio", ratios_json(r)},
          {"derived_ratio", der.to_json(d, a)},
          {"clock_mhz", d.clock_mhz},
          {"macs", p.macs},
          {"cycles", p.cycles},
          {"latency_ms", p.latency_ms},
          {"baseline", "DSP-only Fixed-W4A4, same DSP budget and packing"},
          {"baseline_cycles", p.baseline_cycles},
          {"baseline_latency_ms", p.baseline_latency_ms},
          {"speedup", p.speedup},
          {"memory", {{"weight_bytes", p.weight_bytes}, {"weights_on_chip", p.weights_on_chip},
                      {"baseline_weight_bytes", p.baseline_weight_bytes},
                      {"baseline_weights_on_chip", p.baseline_weights_on_chip},
                      {"bram_bytes", double(d.bram36) * 36864 / 8}, {"ddr_gbps", d.ddr_gbps}, {"ddr", d.ddr_note}}},
          {"layers", layers}};
}

void paper_table(const FpgaAssumptions& base) {
  struct Row {
    const char* dev;
    const char* paper_ratio;
    double paper_speedup;
  };
  std::cout << "| device | derived ratio (PoT-4:Fixed-4:Fixed-8) | paper | ResNet-18 speedup (derived ratio) | paper |"
               " speedup with 1 Fixed-4 MAC per DSP |\n|---|---|---|---:|---:|---:|\n";
  for (const Row& row : {Row{"xc7z020", "60:35:5", 3.01}, Row{"xc7z045", "65:30:5", 3.65}}) {
    const FpgaDevice& d = fpga_device(row.dev);
    const RatioDerivation der = derive_ratio(d, base);
    const FpgaPrediction p = fpga_predict(d, base, der.ratios, fpga_arch_layers("resnet18", 128));
    FpgaAssumptions k1 = base;
    k1.fixed4_macs_per_dsp = 1;
    const RatioDerivation der1 = derive_ratio(d, k1);
    const FpgaPrediction p1 = fpga_predict(d, k1, der1.ratios, fpga_arch_layers("resnet18", 128));
    char line[512];
    std::snprintf(line, sizeof line, "| %s | %s | %s | %.2fx | %.2fx | %.2fx (ratio %s) |\n", d.name,
                  pct(der.ratios).c_str(), row.paper_ratio, p.speedup, row.paper_speedup, p1.speedup,
                  pct(der1.ratios).c_str());
    std::cout << line;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (rmsmp::cli::version_requested(argc, argv, "rmsmp-fpga")) return 0;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kHelp;
    return argc < 2 ? 2 : 0;
  }
  try {
    cli::Args a(argc, argv, 1, {"fpga-part", "device", "model", "arch", "seq", "ratios", "fixed8", "lut-budget", "dsp-budget", "k4", "k8"},
                {"json", "list-devices", "paper-table"});
    RMSMP_CHECK(a.positional().empty(), ErrorCode::InvalidArgument, "unexpected argument '" << a.positional()[0] << "'");
    FpgaAssumptions as;
    if (auto v = a.get("fixed8")) as.fixed8_share = cli::parse_double(*v, "--fixed8");
    if (auto v = a.get("lut-budget")) as.lut_budget = cli::parse_double(*v, "--lut-budget");
    if (auto v = a.get("dsp-budget")) as.dsp_budget = cli::parse_double(*v, "--dsp-budget");
    if (auto v = a.get("k4")) as.fixed4_macs_per_dsp = cli::parse_double(*v, "--k4");
    if (auto v = a.get("k8")) as.fixed8_macs_per_dsp = cli::parse_double(*v, "--k8");
    RMSMP_CHECK(as.fixed4_macs_per_dsp > 0 && as.fixed8_macs_per_dsp > 0, ErrorCode::InvalidArgument, "--k4/--k8 must be > 0");
    if (a.flag("list-devices")) {
      for (const auto& d : fpga_devices())
        std::printf("%-8s %-17s LUT %7lld  FF %7lld  DSP %5lld  BRAM36 %4lld  clock %.0f MHz (assumed)  DDR %.1f GB/s: %s\n",
                    d.name, d.family, (long long)d.luts, (long long)d.ffs, (long long)d.dsps, (long long)d.bram36,
                    d.clock_mhz, d.ddr_gbps, d.ddr_note);
      return 0;
    }
    if (a.flag("paper-table")) {
      paper_table(as);
      return 0;
    }
    const auto part = cli::fpga_part(a);
    RMSMP_CHECK(part.has_value(), ErrorCode::InvalidArgument, "missing required option --fpga-part (see --help)");
    const FpgaDevice& d = fpga_device(*part);
    RMSMP_CHECK(a.get("model").has_value() != a.get("arch").has_value(), ErrorCode::InvalidArgument,
                "give exactly one of --model FILE and --arch NAME");
    const int64_t seq = cli::parse_int(a.get_or("seq", "128"), "--seq");
    std::vector<FpgaLayer> layers;
    std::string model;
    if (auto m = a.get("model")) {
      // Only the header is read (BERT or CNN); no weights are bound and no kernels run.
      layers = fpga_model_file_layers(*m, seq);
      model = *m;
    } else {
      layers = fpga_arch_layers(*a.get("arch"), seq);
      model = *a.get("arch");
    }
    const RatioDerivation der = derive_ratio(d, as);
    const Ratios r = a.get("ratios") ? parse_ratios(*a.get("ratios")) : der.ratios;
    check_ratios(r, "--ratios");
    const FpgaPrediction p = fpga_predict(d, as, r, layers);
    const json j = prediction_json(d, as, der, r, p, model);
    if (a.flag("json")) {
      std::cout << j.dump() << "\n";
      return 0;
    }
    std::printf("device  %s (%s): %lld LUT, %lld DSP, %lld BRAM36, %.0f MHz, DDR %.2f GB/s x %.2f\n", d.name, d.family,
                (long long)d.luts, (long long)d.dsps, (long long)d.bram36, d.clock_mhz, d.ddr_gbps, as.ddr_efficiency);
    std::printf("cores   PoT-4 LUT core: %lld lanes (%.0f%% of LUTs / %.1f LUT per lane); Fixed DSP core: %lld DSP "
                "(%.0f%%), %.0f Fixed-4 or %.0f Fixed-8 MAC/cycle\n",
                (long long)der.cores.pot4_lanes, as.lut_budget * 100, as.lut_per_pot4_lane, (long long)der.cores.dsps,
                as.dsp_budget * 100, der.cores.f4_rate, der.cores.f8_rate);
    std::printf("ratio   derived %s (PoT-4 exact %.3f)%s\n", pct(der.ratios).c_str(), der.pot4_exact,
                a.get("ratios") ? (", evaluating " + pct(r)).c_str() : "");
    std::printf("memory  weights %.2f MB (%s), baseline %.2f MB (%s); BRAM %.2f MB\n", p.weight_bytes / 1e6,
                p.weights_on_chip ? "on chip" : "streamed from DDR", p.baseline_weight_bytes / 1e6,
                p.baseline_weights_on_chip ? "on chip" : "streamed from DDR", double(d.bram36) * 36864 / 8 / 1e6);
    std::printf("\n%-34s %14s %12s %12s %12s %12s %12s\n", "layer", "MACs", "LUT cyc", "DSP cyc", "mem cyc", "cycles",
                "baseline");
    for (const auto& l : p.layers)
      std::printf("%-34s %14lld %12lld %12lld %12lld %12lld %12lld\n", l.name.c_str(), (long long)l.macs,
                  (long long)l.lut_cycles, (long long)l.dsp_cycles, (long long)l.mem_cycles, (long long)l.cycles,
                  (long long)l.baseline_cycles);
    std::printf("\ntotal   %lld MACs, %lld cycles = %.3f ms; DSP-only Fixed-W4A4 %lld cycles = %.3f ms; speedup %.2fx\n",
                (long long)p.macs, (long long)p.cycles, p.latency_ms, (long long)p.baseline_cycles,
                p.baseline_latency_ms, p.speedup);
    return 0;
  } catch (const Error& e) {
    std::cerr << "rmsmp-fpga: error: " << e.what() << "\n";
    return e.code() == ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "rmsmp-fpga: error: " << e.what() << "\n";
    return 1;
  }
}
