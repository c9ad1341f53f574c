// The command-line tools end to end: outputs, and the bad-input table (clear message naming the file and the
// problem, non-zero exit, no partial output file).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "rmsmp/devices.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

namespace fs = std::filesystem;

std::string run(const std::string& args, int* rc) {
  std::string out;
  *rc = test::run_cmd(test::bin_dir() + "/" + args, &out);
  return out;
}
// With environment assignments ("A=1 B=2") before the tool.
std::string run_env(const std::string& env, const std::string& args, int* rc) {
  std::string out;
  *rc = test::run_cmd(env + " " + test::bin_dir() + "/" + args, &out);
  return out;
}
// stdout only (progress and warnings go to stderr).
std::string run_stdout(const std::string& args, int* rc) {
  std::string out;
  std::string cmd = test::bin_dir();  // not "(" + ...: GCC 12 -Wrestrict false positive
  cmd.insert(cmd.begin(), '(');
  *rc = test::run_cmd(cmd + "/" + args + " 2>/dev/null)", &out);
  return out;
}
std::string tiny_fp32() {
  static std::string p = [] {
    const std::string dir = test::make_tiny_checkpoint("tiny_cli");
    const std::string out = test::temp_dir() + "/tiny_cli.rmsmp";
    int rc;
    std::string log = run("rmsmp-convert --quiet --scheme fp32 --in " + dir + " --out " + out, &rc);
    EXPECT_EQ(rc, 0) << log;
    return out;
  }();
  return p;
}
std::string write(const std::string& name, const std::string& content) {
  const std::string p = test::temp_dir() + "/" + name;
  std::ofstream(p, std::ios::binary) << content;
  return p;
}
void expect_fails(const std::string& args, const std::vector<std::string>& must_contain) {
  int rc;
  const std::string out = run(args, &rc);
  EXPECT_NE(rc, 0) << args << "\n" << out;
  for (const auto& s : must_contain) EXPECT_NE(out.find(s), std::string::npos) << "'" << s << "' not in: " << out;
}

}  // namespace

// `tokenize --tokenizer X.model --raw` prints exactly the spm_encode ids of the golden file, line by line.
TEST(Cli, TokenizeRawSentencePieceMatchesSpmEncodeGoldens) {
  for (const std::string name : {"albert_30k_clean", "llama2_32k_bpe"}) {
    std::ifstream g(test::data_dir() + "/sentencepiece/" + name + ".golden.tsv", std::ios::binary);
    std::string texts, want;
    for (std::string line; std::getline(g, line);) {
      const size_t tab = line.rfind('\t');
      texts += line.substr(0, tab) + "\n";
      want += line.substr(tab + 1) + "\n";
    }
    const std::string in = write(name + "_sentences.txt", texts);
    int rc;
    std::string cmd = "rmsmp-run tokenize --raw --tokenizer " + test::data_dir() + "/sentencepiece/" + name;
    cmd += ".model --input " + in;
    const std::string out = run(cmd, &rc);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_EQ(out, want) << name;
  }
  int rc;
  const std::string out = run("rmsmp-run tokenize --raw --model " + tiny_fp32() + " --text 'the movie'", &rc);
  EXPECT_EQ(out, "5 7\n");  // no [CLS]/[SEP]
  expect_fails("rmsmp-run tokenize --tokenizer /nonexistent.model --text hi", {"/nonexistent.model", "no such"});
  const std::string junk = write("junk.model", "definitely not a protobuf");
  expect_fails("rmsmp-run tokenize --tokenizer " + junk + " --text hi", {junk, "not a valid SentencePiece model"});
}

TEST(Cli, TokenizeAndEmbedOutputs) {
  int rc;
  std::string out = run("rmsmp-run tokenize --model " + tiny_fp32() + " --text 'the movie was good !'", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "2 5 7 8 9 13 3\n");  // [CLS] the movie was good ! [SEP] in the tiny vocabulary
  const std::string in = write("two.txt", "the movie\nnot fun !\n");
  out = run("rmsmp-run embed --model " + tiny_fp32() + " --input " + in, &rc);
  ASSERT_EQ(rc, 0) << out;
  std::istringstream is(out);
  std::string line;
  int n = 0;
  while (std::getline(is, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["index"], n++);
    EXPECT_EQ(j["embedding"].size(), 32u);
  }
  EXPECT_EQ(n, 2);
}

// GNU-style --key=value means --key value in every tool (one parser); a switch given a value is a usage error.
TEST(Cli, OptionsAcceptKeyEqualsValue) {
  int rc;
  const std::string spaced = run("rmsmp-run tokenize --model " + tiny_fp32() + " --text 'the movie'", &rc);
  ASSERT_EQ(rc, 0) << spaced;
  const std::string eq = run("rmsmp-run tokenize --model=" + tiny_fp32() + " '--text=the movie'", &rc);
  ASSERT_EQ(rc, 0) << eq;
  EXPECT_EQ(eq, spaced);
  EXPECT_EQ(eq, "2 5 7 3\n");
  // The last of a repeated option wins.
  EXPECT_EQ(run("rmsmp-run tokenize --model " + tiny_fp32() + " --text nothing --text='the movie'", &rc), spaced);
  run("rmsmp-run tokenize --model=" + tiny_fp32() + " --text=hi --raw=yes", &rc);
  EXPECT_EQ(rc, 2);
  expect_fails("rmsmp-run tokenize --model=" + tiny_fp32() + " --text=hi --raw=yes", {"--raw is a switch and takes no value"});
  expect_fails("rmsmp-run tokenize --model= --text=hi", {"--model= needs a value"});
  expect_fails("rmsmp-run tokenize --nonsense=1", {"unknown option --nonsense"});
}

TEST(Cli, OverlongTextIsTruncatedAndReported) {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "good ";  // tiny model: max_seq_length 40
  int rc;
  const std::string out = run("rmsmp-run embed --model " + tiny_fp32() + " --text '" + text + "'", &rc);
  ASSERT_EQ(rc, 0) << out;
  // Tokenization stops once the text passes the 38 tokens it can keep (60 words would be 62 tokens): 39 + 2 so far.
  EXPECT_NE(out.find("truncated from at least 41 to 40 tokens"), std::string::npos) << out;
  EXPECT_NE(out.find("\"truncated\":true"), std::string::npos);
}

TEST(Cli, BadInputTable) {
  const std::string m = tiny_fp32();
  // Missing files.
  expect_fails("rmsmp-run embed --model /nonexistent.rmsmp --text hi", {"/nonexistent.rmsmp", "cannot open"});
  expect_fails("rmsmp-run embed --model " + m + " --input /nonexistent.txt", {"/nonexistent.txt", "cannot open"});
  // Truncated and garbage model files.
  std::ifstream f(m, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  const std::string trunc = write("trunc.rmsmp", bytes.substr(0, bytes.size() / 3));
  expect_fails("rmsmp-run embed --model " + trunc + " --text hi", {trunc, "truncated"});
  const std::string junk = write("junk.rmsmp", std::string(200, 'z'));
  expect_fails("rmsmp-run tokenize --model " + junk + " --text hi", {junk, "bad magic"});
  // Invalid UTF-8 and empty text.
  const std::string bad = write("bad_utf8.txt", "fine line\nbroken \xff\xfe line\n");
  expect_fails("rmsmp-run embed --model " + m + " --input " + bad, {bad + ":2", "invalid UTF-8"});
  expect_fails("rmsmp-run embed --model " + m + " --text ''", {"empty text"});
  // Server limits are validated before anything is loaded or started (100000 threads crashed libgomp, and
  // --max-inflight 2000000000 aborted creating its worker pool).
  expect_fails("rmsmp-serve --model " + m + " --threads 100000", {"--threads 100000 outside 0..1024"});
  expect_fails("rmsmp-serve --model " + m + " --max-inflight 2000000000", {"--max-inflight 2000000000 outside"});
  expect_fails("rmsmp-serve --model " + m + " --slots 0", {"--slots 0 outside"});
  expect_fails("rmsmp-serve --model " + m + " --port 80x", {"--port"});
  const std::string empty = write("empty_line.txt", "one\n\nthree\n");
  expect_fails("rmsmp-run embed --model " + m + " --input " + empty, {empty + ":2", "empty line"});
  // Usage errors exit with 2.
  int rc;
  run("rmsmp-run embed --model " + m, &rc);
  EXPECT_EQ(rc, 2);
  run("rmsmp-convert --in x", &rc);
  EXPECT_EQ(rc, 2);
  // Bad TSV.
  const std::string tsv = write("bad.tsv", "text\tlabel\nhello\t1\n");
  expect_fails("rmsmp-run fit-head --model " + m + " --train " + tsv + " --out " + test::temp_dir() + "/h.json",
               {tsv, "header must be"});
  // Checkpoint with a shape that contradicts config.json.
  const std::string ck = test::make_tiny_checkpoint("tiny_badcfg");
  {
    std::ifstream cin(ck + "/config.json");
    auto cfg = nlohmann::json::parse(cin);
    cfg["intermediate_size"] = 50;
    std::ofstream(ck + "/config.json") << cfg.dump();
  }
  const std::string out = test::temp_dir() + "/never.rmsmp";
  expect_fails("rmsmp-convert --quiet --scheme fp32 --in " + ck + " --out " + out, {"model.safetensors", "contradicts config.json"});
  EXPECT_FALSE(fs::exists(out));
  // An output that names an input (issue 22): refused before anything is written, the input left intact.
  const std::string good = test::make_tiny_checkpoint("tiny_outs");
  const auto before = fs::file_size(good + "/model.safetensors");
  expect_fails("rmsmp-convert --quiet --scheme fp32 --in " + good + " --out " + good + "/./model.safetensors",
               {"would overwrite the input", "model.safetensors"});
  EXPECT_EQ(fs::file_size(good + "/model.safetensors"), before);
  expect_fails("rmsmp-convert --quiet --scheme fp32 --in " + good + " --out " + good + "/m.rmsmp --report " + good + "/m.rmsmp",
               {"--report and --out name the same file"});
  const std::string pth = test::data_dir() + "/pth/tiny_zip.pth";
  expect_fails("rmsmp-convert --quiet --scheme fp32 --in " + pth + " --out " + pth, {"would overwrite the input --in"});
}

TEST(Cli, UnwritableOutputLeavesNoPartialFile) {
  const std::string tsv = write("train.tsv", "sentence\tlabel\nthe movie was good\t1\nnot fun\t0\ngreat plot\t1\ndull\t0\n");
  const std::string out = "/nonexistent_dir/head.json";
  expect_fails("rmsmp-run fit-head --model " + tiny_fp32() + " --train " + tsv + " --out " + out, {out, "cannot write"});
  EXPECT_FALSE(fs::exists(out));
  const std::string ck = test::make_tiny_checkpoint("tiny_cli");
  const std::string mout = "/proc/no_such/out.rmsmp";
  expect_fails("rmsmp-convert --quiet --scheme fp32 --in " + ck + " --out " + mout, {mout});
}

TEST(Cli, FitHeadAndEvalProduceTheDocumentedJson) {
  const std::string tsv = write("fit.tsv",
                                "sentence\tlabel\nthe movie was good\t1\nnot fun\t0\ngreat plot\t1\ndull\t0\n"
                                "very good play\t1\nbad plot\t0\n");
  const std::string head = test::temp_dir() + "/head.json";
  int rc;
  std::string out = run("rmsmp-run fit-head --model " + tiny_fp32() + " --train " + tsv + " --out " + head, &rc);
  ASSERT_EQ(rc, 0) << out;
  // Only stdout: progress goes to stderr.
  std::string cmd = test::bin_dir();  // built in steps: GCC 12 -Wrestrict false positive on "(" + std::string
  cmd.insert(cmd.begin(), '(');
  cmd += "/rmsmp-run eval --model " + tiny_fp32() + " --head " + head + " --data " + tsv;
  cmd += " --reference " + tiny_fp32() + " 2>/dev/null)";
  rc = test::run_cmd(cmd, &out);
  ASSERT_EQ(rc, 0) << out;
  auto j = nlohmann::json::parse(out);
  for (const char* k : {"accuracy", "n", "avg_weight_bits", "model_bytes", "seconds", "reference_accuracy", "cosine_mean", "cosine_min"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["n"], 6);
  EXPECT_EQ(j["accuracy"], j["reference_accuracy"]);
  EXPECT_NEAR(j["cosine_min"].get<double>(), 1.0, 1e-6);
}

}  // namespace rmsmp

namespace rmsmp {

// `rmsmp-run glue` end to end on the tiny model: the JSON's accuracy agrees with the written predictions
// counted here against the file's labels; the same model as reference gives identical metrics and cosine 1;
// fit-head --task then --head; test files and mismatched heads are refused.
TEST(Cli, GlueCrossValidationHeadsAndPredictions) {
  std::string rte = "index\tsentence1\tsentence2\tlabel\n";
  const char* s1[] = {"the movie was good", "it is not fun", "a very dull plot", "great play !", "the plot was bad"};
  const char* s2[] = {"it was great", "the movie is dull", "not good", "a fun movie", "very bad ."};
  std::vector<std::string> gold;
  for (int i = 0; i < 30; ++i) {
    gold.push_back((i * 7 + i / 3) % 2 ? "entailment" : "not_entailment");
    rte += std::to_string(i) + "\t" + s1[i % 5] + "\t" + s2[(i / 5) % 5] + "\t" + gold.back() + "\n";
  }
  const std::string data = write("rte_dev.tsv", rte), pred = test::temp_dir() + "/rte_pred.tsv";
  int rc;
  std::string out = run_stdout("rmsmp-run glue --task rte --data " + data + " --model " + tiny_fp32() + " --reference " +
                            tiny_fp32() + " --cv 3 --predictions " + pred,
                        &rc);
  ASSERT_EQ(rc, 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["task"], "rte");
  EXPECT_EQ(j["n"], 30);
  EXPECT_EQ(j["protocol"]["type"], "cross-validation");
  EXPECT_EQ(j["protocol"]["folds"], 3);
  EXPECT_EQ(j["reference"]["metrics"], j["metrics"]);
  EXPECT_NEAR(j["cosine_mean"].get<double>(), 1.0, 1e-6);
  std::ifstream p(pred);
  std::string line;
  std::getline(p, line);
  EXPECT_EQ(line, "index\tprediction");
  int n = 0, ok = 0;
  while (std::getline(p, line)) {
    EXPECT_EQ(line.substr(0, line.find('\t')), std::to_string(n));
    ok += line.substr(line.find('\t') + 1) == gold[size_t(n)];
    ++n;
  }
  EXPECT_EQ(n, 30);
  EXPECT_DOUBLE_EQ(j["metrics"]["accuracy"].get<double>(), ok / 30.0);

  const std::string head = test::temp_dir() + "/rte_head.json";
  out = run_stdout("rmsmp-run fit-head --task rte --pairs bi --model " + tiny_fp32() + " --train " + data + " --out " + head, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["classes"], 2);
  out = run_stdout("rmsmp-run glue --task rte --data " + data + " --model " + tiny_fp32() + " --head " + head + " --pairs bi", &rc);
  ASSERT_EQ(rc, 0) << out;
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["protocol"]["type"], "fixed head");
  ASSERT_TRUE(j["metrics"]["accuracy"].is_number());
  // A bi-encoder head (64 features) on cross-encoded inputs (32) is refused with the reason.
  expect_fails("rmsmp-run glue --task rte --data " + data + " --model " + tiny_fp32() + " --head " + head,
               {"head expects 64-d"});

  const std::string test_file = write("rte_test.tsv", "index\tsentence1\tsentence2\n0\tthe movie\tit was good\n");
  expect_fails("rmsmp-run glue --task rte --data " + test_file + " --model " + tiny_fp32() + " --cv 2", {test_file, "no labels"});
  expect_fails("rmsmp-run glue --task stsb --data " + data + " --model " + tiny_fp32() + " --head " + head,
               {"no 'score' label column", "not the 9 of a stsb test file"});
  const std::string sts = write("sts.tsv", "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\t"
                                           "sentence2\tscore\n0\tg\tf\ty\t1\tn\tn\tthe movie\tgood\t3.5\n");
  expect_fails("rmsmp-run glue --task stsb --data " + sts + " --model " + tiny_fp32() + " --head " + head,
               {head, "does not fit stsb"});
  expect_fails("rmsmp-run glue --task rte --data " + data + " --model " + tiny_fp32(), {"--head", "--cv"});

  // glue-table over a folder of models: each row equals `glue --reference fp32` with the same folds and pairs.
  const std::string models = test::temp_dir() + "/table_models", gdata = test::temp_dir() + "/table_data";
  fs::create_directories(models);
  fs::create_directories(gdata + "/RTE");
  fs::copy_file(tiny_fp32(), models + "/fp32.rmsmp", fs::copy_options::overwrite_existing);
  fs::copy_file(data, gdata + "/RTE/dev.tsv", fs::copy_options::overwrite_existing);
  out = run("rmsmp-convert --quiet --scheme fixed4 --in " + test::make_tiny_checkpoint("tiny_cli") + " --out " + models +
                "/fixed4.rmsmp",
            &rc);
  ASSERT_EQ(rc, 0) << out;
  out = run("rmsmp-run glue-table --models " + models + " --data " + gdata + " --cv 3 --out " + test::temp_dir() + "/gt", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("| fixed4 |"), std::string::npos) << out;
  std::ifstream tj(test::temp_dir() + "/gt/results.json");
  const auto table = nlohmann::json::parse(tj);
  ASSERT_EQ(table["tasks"].size(), 1u);
  const auto& rows = table["tasks"][0]["rows"];
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["model"], "fp32");
  EXPECT_NEAR(rows[0]["cosine_mean"].get<double>(), 1.0, 1e-9);
  out = run_stdout("rmsmp-run glue --task rte --pairs bi --cv 3 --data " + data + " --model " + models +
                       "/fixed4.rmsmp --reference " + models + "/fp32.rmsmp",
                   &rc);
  ASSERT_EQ(rc, 0) << out;
  j = nlohmann::json::parse(out);
  EXPECT_EQ(rows[1]["metrics"], j["metrics"]);
  EXPECT_EQ(rows[0]["metrics"], j["reference"]["metrics"]);
  EXPECT_NEAR(rows[1]["cosine_mean"].get<double>(), j["cosine_mean"].get<double>(), 1e-12);
}

}  // namespace rmsmp

namespace rmsmp {

// With no --head/--cv, `glue` uses the model's own classification head: its predictions are the argmax of
// transformers' logits (tiny_classifier goldens), mapped by index onto MNLI's three labels.
TEST(Cli, GlueWithTheCheckpointsOwnHead) {
  std::ifstream gf(test::data_dir() + "/tiny_classifier/golden_logits.json");
  const auto g = nlohmann::json::parse(gf);
  const std::string model = test::temp_dir() + "/tiny_cls_cli.rmsmp";
  int rc;
  std::string out = run("rmsmp-convert --quiet --scheme fp32 --in " + test::data_dir() + "/tiny_classifier --out " + model, &rc);
  ASSERT_EQ(rc, 0) << out;
  const std::vector<std::string> nli = {"contradiction", "entailment", "neutral"};
  std::string mnli = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
                     "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n";
  std::vector<std::string> want;
  int row = 0;
  for (const auto& c : g["cases"]) {
    if (c["b"].is_null()) continue;
    const auto l = c["logits"].get<std::vector<float>>();
    const size_t best = size_t(std::max_element(l.begin(), l.end()) - l.begin());
    want.push_back(nli[best]);
    mnli += std::to_string(row++) + "\t1\t1n\tslate\t(x)\t(y)\t(X)\t(Y)\t" + c["a"].get<std::string>() + "\t" +
            c["b"].get<std::string>() + "\tneutral\tneutral\n";
  }
  const std::string data = write("mnli_dev.tsv", mnli), pred = test::temp_dir() + "/mnli_pred.tsv";
  out = run_stdout("rmsmp-run glue --task mnli --data " + data + " --model " + model + " --predictions " + pred, &rc);
  ASSERT_EQ(rc, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["protocol"]["type"], "checkpoint head");
  std::ifstream p(pred);
  std::string line;
  std::getline(p, line);
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_TRUE(std::getline(p, line));
    EXPECT_EQ(line, std::to_string(i) + "\t" + want[i]);
  }
  const std::string sst = write("sst_small.tsv", "sentence\tlabel\nthe movie was good\t1\n");
  expect_fails("rmsmp-run glue --task sst2 --data " + sst + " --model " + model, {"has 3 labels, sst2 has 2"});
  expect_fails("rmsmp-run glue --task sst2 --data " + sst + " --model " + tiny_fp32(), {"has no classification head"});
}

}  // namespace rmsmp

namespace rmsmp {

// `devices` lists the backend table and the OpenCL device CI has (PoCL); `--device opencl` runs a subcommand end to end with the
// same output as the reference backend for an fp32 model (within float rounding); bad devices are named.
TEST(Cli, DevicesAndOpenClDevice) {
  int rc;
  std::string out = run_stdout("rmsmp-run devices", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("cpu = cpu:"), std::string::npos) << out;
  // Every backend of the table, with whether it runs here.
  for (const auto& b : list_backends()) EXPECT_NE(out.find(b.name + " "), std::string::npos) << b.name << "\n" << out;
  if (!opencl_built()) {  // a CPU-only build (RMSMP_WITH_OPENCL=OFF) names the reason for the OpenCL backends
    expect_fails("rmsmp-run embed --model " + tiny_fp32() + " --text hi --device opencl", {"no OpenCL", "RMSMP_WITH_OPENCL=OFF"});
    return;
  }
  EXPECT_NE(out.find("opencl:0:0"), std::string::npos) << out;
  const std::string ocl = run_stdout("rmsmp-run embed --model " + tiny_fp32() + " --text 'the movie' --device opencl", &rc);
  ASSERT_EQ(rc, 0) << ocl;
  const std::string ref = run_stdout("rmsmp-run embed --model " + tiny_fp32() + " --text 'the movie' --device reference", &rc);
  ASSERT_EQ(rc, 0) << ref;
  const auto a = nlohmann::json::parse(ocl)["embedding"].get<std::vector<float>>();
  const auto b = nlohmann::json::parse(ref)["embedding"].get<std::vector<float>>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f);
  expect_fails("rmsmp-run embed --model " + tiny_fp32() + " --text hi --device opencl:5:0", {"platform 5 does not exist"});
  expect_fails("rmsmp-run embed --model " + tiny_fp32() + " --text hi --device opencl --backend cpu", {"synonyms"});
}

}  // namespace rmsmp

namespace rmsmp {

// RMSMP_VERBOSE=dispatch: at load, every backend says which kernel runs each layer's rows (one line per layer
// and scheme), from its own kernel table.
TEST(Cli, VerboseDispatchNamesEachLayersKernelOnEveryBackend) {
  const std::string dir = test::make_tiny_checkpoint("tiny_dispatch"), m = test::temp_dir() + "/tiny_dispatch.rmsmp";
  int rc;
  const std::string log = run("rmsmp-convert --quiet --scheme pot4 --in " + dir + " --out " + m, &rc);
  ASSERT_EQ(rc, 0) << log;
  std::vector<std::pair<std::string, std::string>> want = {{"reference", "-> reference loops (pot4 dot_row)"},
                                                           {"cpu", "-> gemm_s8_"}};
  if (opencl_built()) {
    want.push_back({"opencl", "-> gemm_pot4 (NDRange)"});
    want.push_back({"opencl-fpga", "-> fpga_pot4_core (queue 1) + fpga_scale"});
  }
  for (const auto& [be, kernel] : want) {
    const std::string out = run_env("RMSMP_VERBOSE=dispatch", "rmsmp-run embed --model " + m + " --text hi --device " + be, &rc);
    ASSERT_EQ(rc, 0) << out;
    size_t lines = 0;
    for (size_t at = 0; (at = out.find("[rmsmp] dispatch " + be, at)) != std::string::npos; ++at) {
      ++lines;
      const std::string line = out.substr(at, out.find('\n', at) - at);
      EXPECT_NE(line.find("pot4 x "), std::string::npos) << line;
      EXPECT_NE(line.find(kernel), std::string::npos) << kernel << " not in: " << line;
    }
    EXPECT_EQ(lines, 12u) << be << ": one line per linear layer (2 layers x 6)\n" << out;
  }
}

}  // namespace rmsmp

namespace rmsmp {
namespace {

// `rmsmp-convert --in X --out Y` needs no flags: the default scheme calibrates on the shipped text
// (data/calib/text.txt) and rounds with GPTQ; the header names the file. --calib still overrides it.
TEST(Cli, DefaultConversionCalibratesOnTheShippedText) {
  const std::string dir = test::temp_dir(), ck = std::string(RMSMP_TEST_DATA_DIR) + "/tiny_classifier";
  int rc = 0;
  const std::string log = run("rmsmp-convert --quiet --in " + ck + " --out " + dir + "/m.rmsmp --report " + dir + "/r.json", &rc);
  ASSERT_EQ(rc, 0) << log;
  std::ifstream f(dir + "/r.json");
  const nlohmann::json r = nlohmann::json::parse(f);
  EXPECT_NE(r["provenance"]["calibration"]["source"].get<std::string>().find("data/calib/text.txt (default)"),
            std::string::npos) << r["provenance"].dump();
  EXPECT_EQ(r["provenance"]["calibration"]["sentences"].get<int>(), 1000);
  EXPECT_EQ(r["quantization"]["rounding"].get<std::string>().rfind("gptq", 0), 0u) << r["quantization"].dump();
  // A missing default is a clear usage error, not a silent uncalibrated model.
  std::string bad;
  rc = test::run_cmd("RMSMP_DEFAULT_CALIB=/nonexistent/calib.txt " + test::bin_dir() + "/rmsmp-convert --quiet --in " +
                         ck + " --out " + dir + "/n.rmsmp",
                     &bad);
  EXPECT_EQ(rc, 2) << bad;
  EXPECT_NE(bad.find("needs calibration text"), std::string::npos) << bad;
  EXPECT_FALSE(fs::exists(dir + "/n.rmsmp"));
}

}  // namespace
}  // namespace rmsmp

namespace rmsmp {
namespace {

// embed --input streams: the embeddings of the chunks before a bad line are already out when it is reached
// (it used to read the whole file first: a 100 MB input printed nothing for minutes and grew past 700 MB).
TEST(Cli, EmbedStreamsItsInput) {
  const std::string dir = test::temp_dir(), ck = std::string(RMSMP_TEST_DATA_DIR) + "/tiny_classifier";
  int rc = 0;
  run("rmsmp-convert --quiet --scheme fp32 --in " + ck + " --out " + dir + "/m.rmsmp", &rc);
  ASSERT_EQ(rc, 0);
  {
    std::ofstream f(dir + "/in.txt", std::ios::binary);
    for (int i = 0; i < 600; ++i) f << (i == 549 ? std::string("bad \xff byte") : "the movie was good") << "\n";
  }
  const std::string out = run_stdout("rmsmp-run embed --model " + dir + "/m.rmsmp --input " + dir + "/in.txt", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 512) << "the first two chunks of 256 lines should be out";
  std::string err;
  std::string cmd = test::bin_dir();  // stderr only: (cmd 2>&1 >/dev/null)
  cmd.insert(cmd.begin(), '(');
  test::run_cmd(cmd + "/rmsmp-run embed --model " + dir + "/m.rmsmp --input " + dir + "/in.txt 2>&1 >/dev/null)", &err);
  EXPECT_NE(err.find("in.txt:550:"), std::string::npos) << err;
}

// Standard input, skipped blank lines (index = the line number), raw float32 output equal to the JSON values,
// and the progress summary.
TEST(Cli, EmbedReadsStdinSkipsBlankLinesAndWritesFloat32) {
  const std::string dir = test::temp_dir(), ck = std::string(RMSMP_TEST_DATA_DIR) + "/tiny_classifier";
  int rc = 0;
  run("rmsmp-convert --quiet --scheme fp32 --in " + ck + " --out " + dir + "/m2.rmsmp", &rc);
  ASSERT_EQ(rc, 0);
  const std::string model = dir + "/m2.rmsmp", bin = test::bin_dir() + "/rmsmp-run";
  std::string out;
  rc = test::run_cmd("(printf 'a good film\\n\\n  \\nbad\\n' | " + bin + " embed --model " + model +
                         " --input - --skip-empty --progress) 2>&1",
                     &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("{\"index\":0,"), std::string::npos) << out;
  EXPECT_NE(out.find("{\"index\":3,"), std::string::npos) << out;  // line 4: two blank lines left out
  EXPECT_EQ(std::count(out.begin(), out.end(), '{'), 2) << out;
  EXPECT_NE(out.find("skipped 2 empty line(s) of -"), std::string::npos) << out;
  EXPECT_NE(out.find("embed: 2 texts in "), std::string::npos) << out;
  // Without --skip-empty a blank line is still an error naming the line.
  rc = test::run_cmd("(printf 'a\\n\\nb\\n' | " + bin + " embed --model " + model + " --input -) 2>&1", &out);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("<stdin>:2: empty line"), std::string::npos) << out;
  // --format f32: the same values, as little-endian float32 rows.
  { std::ofstream(dir + "/two.txt") << "a good film\nbad\n"; }
  const std::string json = run_stdout("rmsmp-run embed --model " + model + " --input " + dir + "/two.txt", &rc);
  ASSERT_EQ(rc, 0);
  rc = test::run_cmd(bin + " embed --model " + model + " --input " + dir + "/two.txt --format f32 > " + dir + "/two.f32",
                     &out);
  ASSERT_EQ(rc, 0) << out;
  std::ifstream f(dir + "/two.f32", std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(f)), {});
  std::vector<float> got(raw.size() / 4);
  std::memcpy(got.data(), raw.data(), got.size() * 4);
  std::vector<float> want;
  std::istringstream lines(json);
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);  // named: a temporary's member would dangle in the loop
    for (float v : j.at("embedding")) want.push_back(v);
  }
  ASSERT_EQ(raw.size() % 4, 0u);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace rmsmp

namespace rmsmp {
TEST(Cli, EveryToolPrintsItsVersion) {
  for (const std::string tool : {"rmsmp-run", "rmsmp-convert", "rmsmp-serve", "rmsmp-bench", "rmsmp-fpga"}) {
    std::string out;
    ASSERT_EQ(test::run_cmd(test::bin_dir() + "/" + tool + " --version", &out), 0) << tool << ": " << out;
    EXPECT_EQ(out, tool + " " + RMSMP_VERSION + "\n");
  }
}
}  // namespace rmsmp
