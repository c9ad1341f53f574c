// rmsmp-convert's argument handling as a library call (convert_command.h).
#include "convert_command.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "common/cli.h"
#include "convert.h"
#include "fpga_model.h"
#include "layer_plan.h"
#include "rmsmp/error.h"
#include "vision_convert.h"

namespace rmsmp {

nlohmann::json convert_command(int argc, char** argv) {
    cli::Args a(argc, argv, 1,
                {"in", "out", "scheme", "ratios", "calib", "calib-n", "act-bits", "clip", "scheme-rule", "allocation", "seed", "report",
                 "rounding", "max-seq-length", "fpga-part", "device", "embeddings", "plan", "export-plan",
                 "arch", "calib-images", "labels", "pin-first-last", "bias-correction", "act-range"},
                {"quiet"});
    RMSMP_CHECK(a.positional().empty(), ErrorCode::InvalidArgument, "unexpected argument '" << a.positional()[0] << "'");
    ConvertOptions o;
    o.in_dir = a.require("in");
    o.out_path = a.require("out");
    o.scheme = a.get_or("scheme", "rmsmp");
    if (auto r = a.get("ratios"); r && *r == "auto") {
      const auto dev = cli::fpga_part(a);
      RMSMP_CHECK(dev.has_value(), ErrorCode::InvalidArgument,
                  "--ratios auto needs --fpga-part NAME (an FPGA: see rmsmp-fpga --list-devices)");
      const FpgaDevice& d = fpga_device(*dev);
      const FpgaAssumptions as;
      const RatioDerivation der = derive_ratio(d, as);
      o.ratios = der.ratios;
      o.ratio_provenance = der.to_json(d, as);
    } else if (r) {
      RMSMP_CHECK(!cli::fpga_part(a), ErrorCode::InvalidArgument, "--fpga-part is only used with --ratios auto");
      o.ratios = parse_ratios(*r);
    } else {
      RMSMP_CHECK(!cli::fpga_part(a), ErrorCode::InvalidArgument, "--fpga-part is only used with --ratios auto");
    }
    const std::string clip = a.get_or("clip", "mse");
    RMSMP_CHECK(clip == "max" || clip == "mse" || clip == "hessian", ErrorCode::InvalidArgument,
                "--clip must be max, mse or hessian");
    o.clip = clip == "max" ? ClipMode::MaxAbs : ClipMode::Mse;
    o.clip_hessian = clip == "hessian";
    const std::string rule = a.get_or("scheme-rule", "variance");
    if (rule == "variance") o.rule = SchemeRule::Variance;
    else if (rule == "variance-inverted") o.rule = SchemeRule::VarianceInverted;
    else if (rule == "hessian") o.rule = SchemeRule::Hessian;
    else RMSMP_FAIL(ErrorCode::InvalidArgument, "--scheme-rule must be variance, variance-inverted or hessian");
    const std::string alloc = a.get_or("allocation", "uniform");
    RMSMP_CHECK(alloc == "uniform" || alloc == "global", ErrorCode::InvalidArgument, "--allocation must be uniform or global");
    o.global_allocation = alloc == "global";
    const std::string ab = a.get_or("act-bits", "8");
    RMSMP_CHECK(ab == "8" || ab == "4", ErrorCode::InvalidArgument, "--act-bits must be 8 or 4");
    o.act_bits = std::stoi(ab);
    if (auto s = a.get("seed")) o.seed = std::stoull(*s);
    if (auto m = a.get("max-seq-length")) o.max_seq_length = cli::parse_int(*m, "--max-seq-length");
    o.embeddings = a.get_or("embeddings", "");
    o.plan_path = a.get_or("plan", "");
    o.export_plan_path = a.get_or("export-plan", "");
    RMSMP_CHECK(o.plan_path.empty() || (!a.get("calib") && !a.get("rounding") && !a.get("ratios") && !a.get("embeddings")),
                ErrorCode::InvalidArgument, "--plan fixes every row: it takes no --calib, --rounding, --ratios or --embeddings");
    RMSMP_CHECK(o.plan_path.empty() || o.act_bits == 8, ErrorCode::InvalidArgument,
                "--plan packs models with 8-bit dynamic activations (the trainer simulates those): drop --act-bits 4");
    if (auto c = a.get("calib")) {
      std::vector<std::string> first = cli::read_lines(*c, true);
      o.calib_sentences = (!first.empty() && first[0] == "sentence\tlabel") ? cli::read_labeled_tsv(*c).sentences
                                                                            : cli::read_lines(*c);
      o.calib_source = *c;
    }
    bool calibrated = a.get("calib").has_value();
    if (!calibrated && o.plan_path.empty() && !is_vision_checkpoint(o.in_dir) && !a.get("arch") &&
        check_convert_options(o).need_calib) {
      // The scheme needs calibration text and none was given: the shipped default (data/calib/text.txt).
      const char* env = std::getenv("RMSMP_DEFAULT_CALIB");
      const std::string def = env ? env : std::string(RMSMP_SOURCE_DIR) + "/data/calib/text.txt";
      RMSMP_CHECK(std::filesystem::exists(def), ErrorCode::InvalidArgument,
                  "--scheme " << o.scheme << " needs calibration text: pass --calib TEXT_FILE (the default, " << def
                              << ", is not there)");
      o.calib_sentences = cli::read_lines(def);
      o.calib_source = def + " (default)";
      calibrated = true;
    }
    if (auto n = a.get("calib-n"); n && !o.calib_sentences.empty()) {  // either source: the first N sentences
      const size_t k = size_t(cli::parse_int(*n, "--calib-n"));
      if (o.calib_sentences.size() > k) o.calib_sentences.resize(k);
    }
    const std::string rounding = a.get_or("rounding", calibrated ? "gptq" : "nearest");
    RMSMP_CHECK(rounding == "gptq" || rounding == "nearest", ErrorCode::InvalidArgument, "--rounding must be gptq or nearest");
    o.gptq = rounding == "gptq";
    {
      std::vector<std::pair<std::string, std::string>> ins = {{"--in", o.in_dir}}, outs = {{"--out", o.out_path}};
      for (const char* f : {"calib", "plan", "calib-images", "labels"})
        if (auto v = a.get(f)) ins.push_back({std::string("--") + f, *v});
      for (const char* f : {"report", "export-plan"})
        if (auto v = a.get(f)) outs.push_back({std::string("--") + f, *v});
      cli::check_outputs_distinct(ins, outs,
                                  {"config.json", "model.safetensors", "pytorch_model.bin", "vocab.txt", "tokenizer.json",
                                   "tokenizer_config.json", "special_tokens_map.json", "sentence_bert_config.json",
                                   "modules.json", "spiece.model", "tokenizer.model", "sentencepiece.bpe.model"});
    }
    for (int i = 0; i < argc; ++i) {
      if (i) o.command_line += ' ';
      o.command_line += argv[i];
    }
    const bool quiet = a.flag("quiet");
    auto log = [&](const std::string& m) {
      if (!quiet) std::cerr << "[convert] " << m << "\n";
    };
    nlohmann::json rep;
    if (is_vision_checkpoint(o.in_dir) || a.get("arch")) {
      RMSMP_CHECK(!a.get("calib") && !a.get("max-seq-length") && !a.get("embeddings"), ErrorCode::InvalidArgument,
                  "--calib, --max-seq-length and --embeddings are for text models; a vision model takes --calib-images");
      RMSMP_CHECK(o.plan_path.empty() || (!a.get("calib-images") && !a.get("act-range") && !a.get("pin-first-last") &&
                                          !a.get("bias-correction") && !a.get("allocation") && !a.get("export-plan")),
                  ErrorCode::InvalidArgument,
                  "--plan fixes every row, bias and activation clip: it takes no --calib-images, --act-range, "
                  "--pin-first-last, --bias-correction, --allocation or --export-plan");
      VisionConvertOptions v;
      v.base = o;
      v.base.gptq = a.get("rounding").value_or(a.get("calib-images") ? "gptq" : "nearest") == "gptq";
      v.arch = a.get_or("arch", "");
      v.calib_images = a.get_or("calib-images", "");
      v.rounding_explicit = a.get("rounding").has_value();
      if (const char* e = std::getenv("RMSMP_DEFAULT_CALIB_IMAGES")) {  // set but empty: no default
        v.default_calib_images = e;
      } else {  // scripts/photos.sh's calibration photos, once that script has run
        const char* cache = std::getenv("RMSMP_CACHE");
        const char* home = std::getenv("HOME");
        const std::string dir = cache && *cache ? std::string(cache) + "/photos/calib"
                                : home && *home ? std::string(home) + "/.cache/rmsmp/photos/calib"
                                                : std::string();
        if (!dir.empty() && std::filesystem::is_directory(dir)) v.default_calib_images = dir;
      }
      if (auto n = a.get("calib-n")) v.calib_n = cli::parse_int(*n, "--calib-n");
      if (auto l = a.get("labels")) v.labels = cli::read_lines(*l), v.labels_source = *l;
      const std::string pin = a.get_or("pin-first-last", quant_scheme(QuantKind::Fixed8).name);
      const auto pk = quant_kind_from_name(pin);
      RMSMP_CHECK(pin == "none" || (pk && quant_is_integer(*pk)), ErrorCode::InvalidArgument,
                  "--pin-first-last must be none or an integer scheme (" << [] {
                    std::string n;
                    for (const std::string& s : uniform_baseline_schemes()) n += (n.empty() ? "" : ", ") + s;
                    return n;
                  }() << ")");
      v.pin = pin == "none" ? std::nullopt : pk;
      const std::string bc = a.get_or("bias-correction", "on");
      RMSMP_CHECK(bc == "on" || bc == "off", ErrorCode::InvalidArgument, "--bias-correction must be on or off");
      v.bias_correction = bc == "on";
      v.act_range = a.get_or("act-range", "");
      RMSMP_CHECK(v.act_range.empty() || v.act_range == "dynamic" || v.act_range == "static", ErrorCode::InvalidArgument,
                  "--act-range must be dynamic or static");
      rep = convert_vision_checkpoint(v, log);
    } else {
      RMSMP_CHECK(!a.get("calib-images") && !a.get("labels") && !a.get("pin-first-last") && !a.get("bias-correction") &&
                      !a.get("act-range"),
                  ErrorCode::InvalidArgument,
                  "--calib-images, --labels, --pin-first-last, --bias-correction and --act-range are for vision "
                  "checkpoints (.pth/.safetensors files)");
      rep = convert_checkpoint(o, log);
    }
    if (auto r = a.get("report")) cli::write_file_atomic(*r, rep.dump(2) + "\n");
  return rep;
}

}  // namespace rmsmp
