// rmsmp-convert: argument parsing for the converter library (converters/convert.h).
#include <cstring>
#include <filesystem>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "common/cli.h"
#include "convert.h"
#include "layer_plan.h"
#include "fpga_model.h"
#include "vision_convert.h"
#include "rmsmp/error.h"

namespace {

const char* kHelp = R"(rmsmp-convert: convert a Hugging Face BERT checkpoint, or a torchvision-style CNN state dict,
into one packed .rmsmp model file.

usage: rmsmp-convert --in HF_DIR --out FILE [options]                 (BERT family)
       rmsmp-convert --in CHECKPOINT.pth|.safetensors --out FILE [options] [vision options]

  --in DIR            checkpoint folder: config.json, model.safetensors, vocab.txt and/or tokenizer.json
                      (sentence-transformers files, if present, set pooling, normalisation, max length)
  --out FILE          output model (written to a temp file, then renamed: no partial output on failure)
  --scheme S          rmsmp (default) | fp32 | fixed8 | fixed4 | pot4 | layerwise | random
                        rmsmp:     per-row Fixed-8 by Hessian score, Fixed-4 vs PoT-4 by --scheme-rule
                        layerwise: whole most-sensitive layers at Fixed-8 (rest Fixed-4), same 8-bit budget
                        random:    the --ratios counts per layer, rows drawn with a fixed seed
  --ratios R          pot4=0.65,fixed4=0.30,fixed8=0.05 (default; same ratio in every layer), or
                      auto with --device NAME: the ratio that balances the PoT-4 LUT core and the Fixed DSP core
                      on that FPGA (rmsmp-fpga's cost model; 5% Fixed-8), recorded in the file's provenance
  --device NAME       FPGA for --ratios auto: xc7z020 | xc7z045 | xczu9eg
  --calib FILE        calibration text: one sentence per line, or a 'sentence<TAB>label' TSV. Used by rmsmp,
                      layerwise, --act-bits 4 and gptq rounding; when those need it and --calib is absent, the
                      shipped data/calib/text.txt (1,000 UCI Yelp review sentences, CC BY 4.0; or the file in
                      $RMSMP_DEFAULT_CALIB). Must not overlap evaluation data.
  --calib-n N         use at most the first N calibration sentences (default: all)
  --act-bits 8|4      8: dynamic per-token int8 activations (default); 4: static per-layer clip (MSE) from
                      calibration, the paper's W4A4 setting
  --clip mse|max|hessian
                      per-row weight clip: MSE-optimal grid search (default), max|w| (paper-style), or hessian:
                      the MSE clip, then each row's step among 0.8-1.2x of it by the layer-output error e^T H e
                      of its rounding (needs gptq rounding; MiniLM SST-2 dev cosine 0.9608 vs mse's 0.9619)
  --scheme-rule R     variance (default, paper) | variance-inverted (ablation) | hessian
  --allocation A      uniform (default, paper): the --ratios in every layer, the hardware's one layout per layer;
                      global (rmsmp): the Fixed-8 rows ranked across all layers by 4-bit error per weight, same
                      total 8-bit budget, each layer's other rows split Fixed-4 : PoT-4 in the ratios' proportion
  --rounding R        gptq: error-compensated rounding through the calibration Hessian (GPTQ/OBQ); every
                            row keeps its scheme and step, so the packed layout is the same. Needs --calib.
                      nearest: each weight to its nearest level.
                      Default: gptq when --calib is given, nearest otherwise (the header records which)
  --seed N            seed of the random baseline (default 20211011)
  --embeddings E      word-embedding table: fixed4 | fixed8 | fp32. Rows are quantized per row with --clip
                      (one step each) and dequantized per token on lookup. Default: fixed4, fixed8 for
                      --scheme fixed8, fp32 for --scheme fp32 (which allows only fp32). MiniLM-L6's fp32 table
                      is 47 of its 90 MB; with fixed4 the default model is 13.1 MB.
  --max-seq-length N  longest input the model accepts, [CLS]/[SEP] included (default: the sentence-transformers
                      limit, else max_position_embeddings; at most max_position_embeddings)
  --export-plan P     also write the conversion's rows (scheme, step and value of every row, and the fp32
                      tensors) as a QAT plan: the starting point of converters/train/qat_encoder.py
  --plan P            take every row's scheme, step and value from a QAT plan (the trainer's output) and its
                      fp32 tensors over the checkpoint's; packs it bit-exactly, with no assignment, calibration
                      or rounding of its own (format: converters/qat_plan.h)
  --report FILE       write the conversion report (JSON): rows per scheme and score statistics per layer,
                      average bits, file bytes, converter seconds
  --quiet             no progress on stderr

vision options (when --in is a .pth/.pt/.safetensors file):
  --arch NAME         resnet18 | resnet34 | resnet50 | resnet20 | efficientnet-lite0 (default: inferred from the
                      tensor names and shapes; an explicit name is checked against them). BatchNorm is folded
                      into the preceding conv; a conv row is one output channel.
  --calib-images P    calibration images: a folder (.jpg/.png, recursive, sorted) or an IDX image file (.gz ok,
                      e.g. Fashion-MNIST's train-images-idx3-ubyte.gz). Needed by rmsmp, layerwise,
                      --act-bits 4, gptq rounding and bias correction. Default for RGB models: the 61 photos of
                      scripts/photos.sh's calib/ folder once it has run, or $RMSMP_DEFAULT_CALIB_IMAGES (set
                      and empty: none); then
                      gptq rounding is the default too. Must not overlap evaluation data.
  --calib-n N         use at most the first N calibration images (default 64)
  --labels FILE       class names, one per line in logit order (e.g. data/images/imagenet_classes.txt),
                      stored in the model for rmsmp-run classify
  --pin-first-last P  fixed8 (default): the stem conv and the classifier keep Fixed-8 weights and 8-bit
                      activations whatever the scheme; none: the scheme applies to them too
  --bias-correction B on (default): when --calib-images are given, each quantized conv's bias absorbs the
                      mean shift of its weight error, b -= (W_q - W) E[x], E[x] its mean input over those
                      images (EfficientNet-Lite0, 109 photos: top-1 agreement with fp32 40% -> 57%); off
  --act-bits 8|4      8: per-tensor dynamic int8 activations (default); 4: static per-layer clip (MSE) from the
                      calibration images; both use the unsigned grid where the input follows a ReLU
)";


}  // namespace

int main(int argc, char** argv) {
  if (rmsmp::cli::version_requested(argc, argv, "rmsmp-convert")) return 0;
  using namespace rmsmp;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::cout << kHelp;
    return argc < 2 ? 2 : 0;
  }
  try {
    cli::Args a(argc, argv, 1,
                {"in", "out", "scheme", "ratios", "calib", "calib-n", "act-bits", "clip", "scheme-rule", "allocation", "seed", "report",
                 "rounding", "max-seq-length", "device", "embeddings", "plan", "export-plan",
                 "arch", "calib-images", "labels", "pin-first-last", "bias-correction"},
                {"quiet"});
    RMSMP_CHECK(a.positional().empty(), ErrorCode::InvalidArgument, "unexpected argument '" << a.positional()[0] << "'");
    ConvertOptions o;
    o.in_dir = a.require("in");
    o.out_path = a.require("out");
    o.scheme = a.get_or("scheme", "rmsmp");
    if (auto r = a.get("ratios"); r && *r == "auto") {
      const auto dev = a.get("device");
      RMSMP_CHECK(dev.has_value(), ErrorCode::InvalidArgument,
                  "--ratios auto needs --device NAME (an FPGA: see rmsmp-fpga --list-devices)");
      const FpgaDevice& d = fpga_device(*dev);
      const FpgaAssumptions as;
      const RatioDerivation der = derive_ratio(d, as);
      o.ratios = der.ratios;
      o.ratio_provenance = der.to_json(d, as);
    } else if (r) {
      RMSMP_CHECK(!a.get("device"), ErrorCode::InvalidArgument, "--device is only used with --ratios auto");
      o.ratios = parse_ratios(*r);
    } else {
      RMSMP_CHECK(!a.get("device"), ErrorCode::InvalidArgument, "--device is only used with --ratios auto");
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
      RMSMP_CHECK(!a.get("calib") && !a.get("max-seq-length") && !a.get("embeddings") && !a.get("plan") &&
                      !a.get("export-plan"),
                  ErrorCode::InvalidArgument,
                  "--calib, --max-seq-length, --embeddings, --plan and --export-plan are for text models; a vision "
                  "model takes --calib-images");
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
      const std::string pin = a.get_or("pin-first-last", "fixed8");
      RMSMP_CHECK(pin == "fixed8" || pin == "none", ErrorCode::InvalidArgument, "--pin-first-last must be fixed8 or none");
      v.pin_first_last = pin == "fixed8";
      const std::string bc = a.get_or("bias-correction", "on");
      RMSMP_CHECK(bc == "on" || bc == "off", ErrorCode::InvalidArgument, "--bias-correction must be on or off");
      v.bias_correction = bc == "on";
      rep = convert_vision_checkpoint(v, log);
    } else {
      RMSMP_CHECK(!a.get("calib-images") && !a.get("labels") && !a.get("pin-first-last") && !a.get("bias-correction"),
                  ErrorCode::InvalidArgument,
                  "--calib-images, --labels, --pin-first-last and --bias-correction are for vision checkpoints "
                  "(.pth/.safetensors files)");
      rep = convert_checkpoint(o, log);
    }
    if (auto r = a.get("report")) cli::write_file_atomic(*r, rep.dump(2) + "\n");
    std::cout << rep["model"].dump() << "\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "rmsmp-convert: error: " << e.what() << "\n";
    return e.code() == ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "rmsmp-convert: error: " << e.what() << "\n";
    return 1;
  }
}
