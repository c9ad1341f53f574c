// rmsmp-bench: end-to-end and GEMM timings of our engines beside oneDNN and ONNX Runtime, measured in one run
// with the same thread count. Every (engine, model) is measured in --processes separate child processes,
// interleaved round-robin, and the lowest per-process median is kept (shared VMs switch between fast and slow
// phases for minutes; one process can sit in a slow one). Records: benchmarks/harness/bench_report.h.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "harness/bench_cases.h"
#include "harness/bench_report.h"
#include "common/cli.h"
#include "convert.h"
#include "rmsmp/error.h"
#include "synthetic.h"
#include "vision_convert.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace rmsmp;

namespace {

const char* kHelp = R"(rmsmp-bench: latency/throughput of rmsmp beside oneDNN and ONNX Runtime, side by side in one run.

usage: rmsmp-bench [options]

  --suite LIST        e2e,gemm,peak (default: these three), and vision: batch-1 CNN latency
                      (images/s) of --vision-models, our engines beside onnxruntime-fp32/int8
                      (benchmarks/ort_cnn_bench.py, which rebuilds the graph from our fp32 conversion)
  --engines LIST      rmsmp-fp32,rmsmp-fixed8,rmsmp-mix,onednn-fp32,onednn-int8 (default), and the ONNX Runtime
                      peers onnxruntime-fp32,onnxruntime-int8,onnxruntime-q4 (python3 benchmarks/ort_bench.py;
                      pip onnx onnxruntime, installed by scripts/bench.sh). e2e runs rmsmp-* and onnxruntime-*;
                      gemm runs rmsmp-* and onednn-*.
  --models LIST       minilm-l6,bert-base (default). minilm-l6 uses the real all-MiniLM-L6-v2 weights from
                      --checkpoint; bert-base uses random weights of bert-base-uncased's shapes (timing only).
  --checkpoint DIR    all-MiniLM-L6-v2 folder (default: $RMSMP_CHECKPOINT_DIR; without one, minilm-l6 runs on
                      random weights and its records say "weights": "random")
  --vision-models L   resnet18,resnet50,efficientnet-lite0 (default); the ResNets use random weights of
                      torchvision's shapes (timing only), EfficientNet-Lite0 the real weights from --effnet
  --effnet PTH        EfficientNet-Lite0 .pth (default: $RMSMP_EFFNET_PTH)
  --act-range R       CNN conversions' 8-bit activations, as rmsmp-convert's option: by default static for
                      rmsmp-mix (it calibrates: int8 handed from conv to conv) and dynamic for rmsmp-fixed8;
                      static: both (fixed8 then calibrates on the photos too); dynamic: neither. Static
                      conversions' files end in -static.rmsmp and their records say "act_range": "static"
  --calib-images DIR  calibration photos for the rmsmp-mix CNN conversions (default: $RMSMP_CALIB_IMAGES;
                      scripts/calib_images.sh)
  --batch LIST        batch sizes (default 1,8)
  --seq LIST          tokens per sequence, [CLS]/[SEP] included (default 16,128,384)
  --gemm-shapes LIST  MxKxN,... (default: M 128, every K, N in 384,768,1536,3072)
  --threads N         threads for every engine (default 2)
  --repeats N         timed calls per case after one warm-up (default 10)
  --processes N       separate processes per engine; the lowest median is kept, spread = max/min (default 3)
  --device LIST       our engines' backends, measured one after another: cpu (default) or any of
                      {BACKENDS}
  --work DIR          converted models and synthetic checkpoints are cached here (default out/bench)
  --out PREFIX        also write PREFIX.jsonl (records), PREFIX.md (tables) and PREFIX.json (machine stamp)
  --json              print one JSON object per line (one per case) instead of the Markdown tables
  --merge FILE.jsonl  measure nothing: merge the records of earlier runs (several processes or machines' rounds
                      of the same cases; lowest median kept) and print / --out them

Times are wall-clock medians in ms. e2e is the public API (tokens to pooled embeddings; tokenization not
included). gemm is one linear layer (prepared as a model's load prepares it): ours includes per-token activation
quantization and the epilogue; oneDNN int8 is the bare u8s8s32 GEMM (AMX where the CPU has it, as is ours on
--device cpu or cpu:amx). fraction_of_peak is against the register-only vpdpbusd/vpmaddubsw loops of --suite peak.
)";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');)
    if (!x.empty()) v.push_back(x);
  return v;
}
std::vector<int> split_ints(const std::string& s, const std::string& what) {
  std::vector<int> v;
  for (const auto& x : split(s)) {
    const int64_t n = cli::parse_int(x, what);
    RMSMP_CHECK(n >= 1 && n <= 65536, ErrorCode::InvalidArgument, what << ": " << n << " out of range");
    v.push_back(int(n));
  }
  return v;
}

std::string self_exe() { return fs::read_symlink("/proc/self/exe").string(); }

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a command, returns the JSON lines it printed (other lines go to our stderr). Throws on failure.
std::vector<json> run_child(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  RMSMP_CHECK(p, ErrorCode::Internal, "cannot start: " << cmd);
  std::vector<json> recs;
  std::string line;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) {
    line += buf;
    if (line.back() != '\n') continue;
    if (line[0] == '{') recs.push_back(json::parse(line));
    else std::cerr << line;
    line.clear();
  }
  const int st = ::pclose(p);
  RMSMP_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, ErrorCode::Internal, "benchmark process failed: " << cmd);
  return recs;
}

// Converted model for (model, scheme), cached in work/models. Returns the path.
std::string ensure_model(const std::string& work, const std::string& model, const std::string& scheme,
                         const std::string& ckpt_dir) {
  const std::string path = work + "/models/" + model + "-" + scheme + ".rmsmp";
  if (fs::exists(path)) return path;
  fs::create_directories(work + "/models");
  ConvertOptions o;
  o.in_dir = ckpt_dir;
  o.out_path = path;
  o.scheme = scheme;
  o.max_seq_length = 512;  // the benchmark's longest sequence (384) exceeds MiniLM's sentence-transformers 256
  if (scheme == "rmsmp") {
    o.calib_sentences = cli::read_labeled_tsv(bench::source_dir() + "/data/sst2/train_sample.tsv").sentences;
    o.calib_sentences.resize(std::min<size_t>(o.calib_sentences.size(), 64));
    o.calib_source = "data/sst2/train_sample.tsv (first 64)";
  }
  o.command_line = "rmsmp-bench";
  std::cerr << "[bench] converting " << model << " (" << scheme << ") -> " << path << "\n";
  convert_checkpoint(o);
  return path;
}

// Converted CNN for (model, scheme), cached in work/models.
// act_range: rmsmp-convert's --act-range. Empty: its default, static where the conversion calibrates (rmsmp),
// dynamic otherwise (fixed8 gets no photos); "static" calibrates fixed8 on the same photos too.
std::string ensure_vision_model(const std::string& work, const std::string& model, const std::string& scheme,
                                const std::string& ckpt, const std::string& calib, const std::string& act_range) {
  const bool st = scheme != "fp32" && (act_range == "static" || (act_range.empty() && scheme == "rmsmp"));
  const std::string path = work + "/models/" + model + "-" + scheme + (st ? "-static" : "") + ".rmsmp";
  if (fs::exists(path)) return path;
  fs::create_directories(work + "/models");
  VisionConvertOptions o;
  o.base.in_dir = ckpt;
  o.base.out_path = path;
  o.base.scheme = scheme;
  o.base.command_line = "rmsmp-bench";
  if (scheme == "rmsmp" || st) {
    RMSMP_CHECK(!calib.empty(), ErrorCode::InvalidArgument,
                "the rmsmp-mix CNN conversion and --act-range static need calibration photos: --calib-images DIR "
                "(scripts/calib_images.sh)");
    o.calib_images = calib;
    o.calib_n = 8;
    o.act_range = st ? "static" : "dynamic";
  }
  std::cerr << "[bench] converting " << model << " (" << scheme << ") -> " << path << "\n";
  convert_vision_checkpoint(o);
  return path;
}

struct Opts {
  std::vector<std::string> suites, engines, models, devices, vision_models;
  std::vector<int> batches, seqs;
  std::vector<bench::GemmShape> shapes;
  int threads = 2, repeats = 10, processes = 3;
  std::string work = "out/bench", checkpoint, effnet, calib_images;
  std::string act_range;  // empty: rmsmp-convert's default
};

std::vector<bench::GemmShape> parse_shapes(const std::string& s) {
  std::vector<bench::GemmShape> v;
  for (const auto& x : split(s)) {
    int64_t m = 0, k = 0, n = 0;
    char c1 = 0, c2 = 0;
    std::istringstream is(x);
    RMSMP_CHECK((is >> m >> c1 >> k >> c2 >> n) && c1 == 'x' && c2 == 'x' && is.peek() == EOF && m > 0 && k > 0 && n > 0,
                ErrorCode::InvalidArgument, "--gemm-shapes: '" << x << "' is not MxKxN");
    v.push_back({m, k, n});
  }
  return v;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Prints the records (--json) or the Markdown tables, and with --out writes PREFIX.jsonl / .md (and the run's
// stamp as PREFIX.json when given).
void emit(const std::vector<json>& merged, const json& stamp, const cli::Args& a, const json* run_stamp) {
  const std::string md = bench::markdown_table(merged, stamp);
  if (a.flag("json"))
    for (const auto& r : merged) std::cout << r.dump() << "\n";
  else
    std::cout << md;
  if (auto out = a.get("out")) {
    std::string jl;
    for (const auto& r : merged) jl += r.dump() + "\n";
    const fs::path parent = fs::path(*out).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    cli::write_file_atomic(*out + ".jsonl", jl);
    cli::write_file_atomic(*out + ".md", md);
    if (run_stamp) cli::write_file_atomic(*out + ".json", run_stamp->dump(2) + "\n");
  }
}

int child_main(const cli::Args& a) {
  const std::string suite = a.require("suite"), engine = a.get_or("engine", "");
  const int threads = int(cli::parse_int(a.require("threads"), "--threads"));
  const int repeats = int(cli::parse_int(a.require("repeats"), "--repeats"));
  std::vector<json> recs;
  if (suite == "peak") {
    recs = bench::run_peaks(threads, 5);
  } else if (suite == "gemm") {
    recs = bench::run_gemm(engine, a.get_or("device", "cpu"), parse_shapes(a.require("gemm-shapes")), threads, repeats,
                           std::stod(a.get_or("int8-peak", "0")), std::stod(a.get_or("fp32-peak", "0")));
  } else if (suite == "vision") {
    bench::E2eCase c{a.require("model"), a.require("model-path"), a.require("weights")};
    recs = bench::run_vision(engine, a.get_or("device", "cpu"), c, threads, repeats);
  } else {
    bench::E2eCase c{a.require("model"), a.require("model-path"), a.require("weights")};
    recs = bench::run_e2e(engine, a.get_or("device", "cpu"), c, split_ints(a.require("batch"), "--batch"),
                          split_ints(a.require("seq"), "--seq"), threads, repeats);
  }
  for (const auto& r : recs) std::cout << r.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (rmsmp::cli::version_requested(argc, argv, "rmsmp-bench")) return 0;
  if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << cli::with_table_names(kHelp);
    return 0;
  }
  try {
    cli::Args a(argc, argv, 1,
                {"suite", "engines", "engine", "models", "model", "model-path", "weights", "checkpoint", "batch", "seq",
                 "gemm-shapes", "threads", "repeats", "processes", "device", "work", "out", "int8-peak", "fp32-peak",
                 "merge", "vision-models", "effnet", "calib-images", "act-range"},
                {"json", "child"});
    RMSMP_CHECK(a.positional().empty(), ErrorCode::InvalidArgument, "unexpected argument '" << a.positional()[0] << "'");
    if (a.flag("child")) return child_main(a);
    if (auto m = a.get("merge")) {
      std::vector<json> recs;
      json stamp;
      for (const auto& line : cli::read_lines(*m, true)) {
        if (line.empty()) continue;
        json r = json::parse(line);
        stamp = {{"cpu", r.value("cpu", "?")}, {"git_sha", r.value("git_sha", "?")}};
        r.erase("processes"), r.erase("spread");
        recs.push_back(r);
      }
      // Records already merged once carry no process index; merging keeps the lowest median of each case.
      emit(bench::merge_processes(recs), stamp, a, nullptr);
      return 0;
    }
    Opts o;
    o.suites = split(a.get_or("suite", "e2e,gemm,peak"));
    for (const auto& s : o.suites)
      RMSMP_CHECK(s == "e2e" || s == "gemm" || s == "peak" || s == "vision", ErrorCode::InvalidArgument,
                  "--suite: unknown '" << s << "'");
    o.vision_models = split(a.get_or("vision-models", "resnet18,resnet50,efficientnet-lite0"));
    for (const auto& m : o.vision_models)
      RMSMP_CHECK(m == "resnet18" || m == "resnet34" || m == "resnet50" || m == "efficientnet-lite0",
                  ErrorCode::InvalidArgument, "--vision-models: unknown '" << m << "'");
    const char* env_eff = std::getenv("RMSMP_EFFNET_PTH");
    const char* env_cal = std::getenv("RMSMP_CALIB_IMAGES");
    o.effnet = a.get_or("effnet", env_eff ? env_eff : "");
    o.calib_images = a.get_or("calib-images", env_cal ? env_cal : "");
    o.act_range = a.get_or("act-range", "");
    RMSMP_CHECK(o.act_range.empty() || o.act_range == "dynamic" || o.act_range == "static", ErrorCode::InvalidArgument,
                "--act-range must be dynamic or static");
    o.engines = split(a.get_or("engines", "rmsmp-fp32,rmsmp-fixed8,rmsmp-mix,onednn-fp32,onednn-int8"));
    static const std::vector<std::string> known = {"rmsmp-fp32", "rmsmp-fixed8", "rmsmp-mix", "onednn-fp32", "onednn-int8",
                                                   "onnxruntime-fp32", "onnxruntime-int8", "onnxruntime-q4"};
    for (const auto& e : o.engines) RMSMP_CHECK(has(known, e), ErrorCode::InvalidArgument, "--engines: unknown '" << e << "'");
    o.models = split(a.get_or("models", "minilm-l6,bert-base"));
    for (const auto& m : o.models) bert_arch(m);  // validates
    o.devices = split(a.get_or("device", "cpu"));
    o.batches = split_ints(a.get_or("batch", "1,8"), "--batch");
    o.seqs = split_ints(a.get_or("seq", "16,128,384"), "--seq");
    for (int s : o.seqs) RMSMP_CHECK(s >= 3 && s <= 512, ErrorCode::InvalidArgument, "--seq " << s << " outside [3, 512]");
    o.shapes = a.get("gemm-shapes") ? parse_shapes(*a.get("gemm-shapes")) : cases::default_gemm_shapes();
    std::string shapes;  // for the child processes
    for (const auto& g : o.shapes)
      shapes += (shapes.empty() ? "" : ",") + std::to_string(g.m) + "x" + std::to_string(g.k) + "x" + std::to_string(g.n);
    o.threads = int(cli::parse_int(a.get_or("threads", "2"), "--threads"));
    o.repeats = int(cli::parse_int(a.get_or("repeats", "10"), "--repeats"));
    o.processes = int(cli::parse_int(a.get_or("processes", "3"), "--processes"));
    RMSMP_CHECK(o.threads >= 1 && o.repeats >= 1 && o.processes >= 1, ErrorCode::InvalidArgument,
                "--threads, --repeats and --processes must be >= 1");
    o.work = a.get_or("work", "out/bench");
    const char* env_ck = std::getenv("RMSMP_CHECKPOINT_DIR");
    o.checkpoint = a.get_or("checkpoint", env_ck ? env_ck : "");

    const json stamp = bench::machine_stamp();
    std::cerr << "[bench] " << stamp.dump() << "\n";
    const std::string self = quote(self_exe());
    const std::string common = " --child --threads " + std::to_string(o.threads) + " --repeats " + std::to_string(o.repeats);

    // Checkpoints and converted models (parent only, before any timing).
    std::map<std::string, std::pair<std::string, std::string>> ckpt;  // model -> (dir, "real"|"random")
    if (has(o.suites, "e2e"))
      for (const auto& m : o.models) {
        if (m == "minilm-l6" && !o.checkpoint.empty()) {
          ckpt[m] = {o.checkpoint, "real"};
          continue;
        }
        const std::string dir = o.work + "/checkpoints/" + m + "-random";
        if (!fs::exists(dir + "/model.safetensors")) {
          std::cerr << "[bench] writing a random-weight " << m << " checkpoint to " << dir << "\n";
          const std::string vocab = o.checkpoint.empty() ? "" : o.checkpoint + "/vocab.txt";
          write_random_bert_checkpoint(dir, bert_arch(m), 1, fs::exists(vocab) ? vocab : "");
        }
        ckpt[m] = {dir, "random"};
      }
    std::map<std::string, std::pair<std::string, std::string>> vckpt;  // vision model -> (file, weights)
    if (has(o.suites, "vision"))
      for (const auto& m : o.vision_models) {
        if (m == "efficientnet-lite0") {
          RMSMP_CHECK(!o.effnet.empty(), ErrorCode::InvalidArgument,
                      "efficientnet-lite0 needs its .pth: --effnet PTH or $RMSMP_EFFNET_PTH");
          vckpt[m] = {o.effnet, "real"};
          continue;
        }
        const std::string f = o.work + "/checkpoints/" + m + "-random.safetensors";
        if (!fs::exists(f)) {
          std::cerr << "[bench] writing a random-weight " << m << " checkpoint to " << f << "\n";
          fs::create_directories(o.work + "/checkpoints");
          write_random_resnet_checkpoint(f, m, 1);
        }
        vckpt[m] = {f, "random"};
      }
    // Our engines' conversions: rmsmp-mix is the RMSMP mix, rmsmp-NAME the table's scheme NAME uniform.
    auto scheme_of = [](const std::string& engine) { return engine == "rmsmp-mix" ? std::string("rmsmp") : engine.substr(6); };

    std::vector<json> all;
    double int8_peak = 0, fp32_peak = 0;
    for (int p = 0; p < o.processes; ++p) {
      std::cerr << "[bench] round " << p + 1 << "/" << o.processes << "\n";
      auto add = [&](std::vector<json> recs) {
        for (auto& r : recs) r["process"] = p, all.push_back(r);
      };
      if (has(o.suites, "peak") || has(o.suites, "gemm")) {
        auto pk = run_child(self + " --suite peak" + common);
        for (const auto& r : pk) {
          const double g = r["gmacs"].get<double>();
          if (r["engine"] == "peak-int8") int8_peak = std::max(int8_peak, g);
          else fp32_peak = std::max(fp32_peak, g);
        }
        if (has(o.suites, "peak")) add(pk);
      }
      if (has(o.suites, "gemm"))
        for (const auto& e : o.engines) {
          if (e.rfind("onnxruntime", 0) == 0) continue;
          const bool ours = e.rfind("rmsmp-", 0) == 0;
          for (const auto& dev : ours ? o.devices : std::vector<std::string>{"cpu"})
            add(run_child(self + " --suite gemm --engine " + e + " --device " + quote(dev) + " --gemm-shapes " + shapes +
                          common));
        }
      if (has(o.suites, "e2e"))
        for (const auto& m : o.models)
          for (const auto& e : o.engines) {
            const std::string bl = " --batch " + a.get_or("batch", "1,8") + " --seq " + a.get_or("seq", "16,128,384");
            if (e.rfind("onnxruntime", 0) == 0) {
              add(run_child("python3 " + quote(bench::source_dir() + "/benchmarks/ort_bench.py") + " --engine " +
                            e + " --model " + m + " --checkpoint " + quote(ckpt[m].first) + " --weights " +
                            ckpt[m].second + " --work " + quote(o.work) + bl + " --threads " + std::to_string(o.threads) +
                            " --repeats " + std::to_string(o.repeats)));
              continue;
            }
            if (e.rfind("rmsmp-", 0) != 0) continue;  // onednn-*: gemm only
            const std::string path = ensure_model(o.work, m, scheme_of(e), ckpt[m].first);
            for (const auto& dev : o.devices)
              add(run_child(self + " --suite e2e --engine " + e + " --device " + quote(dev) + " --model " + m +
                            " --model-path " + quote(path) + " --weights " + ckpt[m].second + bl + common));
          }
      if (has(o.suites, "vision"))
        for (const auto& m : o.vision_models)
          for (const auto& e : o.engines) {
            if (e.rfind("onnxruntime", 0) == 0) {
              if (e == "onnxruntime-q4") continue;  // MatMulNBits has no conv form
              const std::string fp32 = ensure_vision_model(o.work, m, "fp32", vckpt[m].first, o.calib_images, "");
              add(run_child("python3 " + quote(bench::source_dir() + "/benchmarks/ort_cnn_bench.py") + " --engine " + e +
                            " --model " + m + " --rmsmp " + quote(fp32) + " --weights " + vckpt[m].second + " --work " +
                            quote(o.work) + " --threads " + std::to_string(o.threads) + " --repeats " +
                            std::to_string(o.repeats)));
              continue;
            }
            if (e.rfind("rmsmp-", 0) != 0) continue;
            const std::string path = ensure_vision_model(o.work, m, scheme_of(e), vckpt[m].first, o.calib_images, o.act_range);
            for (const auto& dev : o.devices)
              add(run_child(self + " --suite vision --engine " + e + " --device " + quote(dev) + " --model " + m +
                            " --model-path " + quote(path) + " --weights " + vckpt[m].second + common));
          }
    }
    std::vector<json> merged = bench::merge_processes(all);
    // fraction_of_peak from the highest peak seen in any round (a gemm's own round may have been slow).
    for (auto& r : merged) {
      if (r["suite"] != "gemm") continue;
      const bool i8 = r["engine"] != "rmsmp-fp32" && r["engine"] != "onednn-fp32";
      const double pk = i8 ? int8_peak : fp32_peak;
      if (pk > 0) r["fraction_of_peak"] = r["gops"].get<double>() / (2 * pk);
    }
    for (auto& r : merged) r["git_sha"] = stamp["git_sha"], r["cpu"] = stamp["cpu"];
    json st = stamp;
    st["threads"] = o.threads, st["processes"] = o.processes, st["repeats"] = o.repeats;
    st["int8_peak_gmacs"] = int8_peak, st["fp32_peak_gmacs"] = fp32_peak;
    emit(merged, stamp, a, &st);
    return 0;
  } catch (const Error& e) {
    std::cerr << "rmsmp-bench: error: " << e.what() << "\n";
    return e.code() == ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "rmsmp-bench: error: " << e.what() << "\n";
    return 1;
  }
}
