// rmsmp-bench's own plumbing: records carry the documented fields, separate processes are merged to the lowest
// median with their spread, --merge combines runs, and bad options are refused. (Timings themselves are never
// asserted: they belong to the benchmark, not to tests.)
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "safetensors.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream is(out);
  for (std::string l; std::getline(is, l);)
    if (!l.empty() && l[0] == '{') v.push_back(nlohmann::json::parse(l));
  return v;
}

TEST(BenchCli, GemmRecordsHaveTheDocumentedFields) {
  std::string out;
  const std::string cmd = test::bin_dir() + "/rmsmp-bench --suite peak,gemm --engines rmsmp-mix,onednn-int8 "
                          "--gemm-shapes 8x64x40,3x130x33 --processes 2 --repeats 2 --threads 1 --json 2>/dev/null";
  ASSERT_EQ(test::run_cmd(cmd, &out), 0) << out;
  const auto recs = json_lines(out);
  int gemm = 0, peak = 0;
  for (const auto& r : recs) {
    for (const char* k : {"engine", "suite", "threads", "median_ms", "processes", "spread", "git_sha", "cpu"})
      EXPECT_TRUE(r.contains(k)) << k << " missing in " << r.dump();
    EXPECT_EQ(r["processes"], 2) << r.dump();
    EXPECT_GE(r["spread"].get<double>(), 1.0);
    if (r["suite"] == "gemm") {
      ++gemm;
      EXPECT_TRUE(r.contains("gops") && r.contains("fraction_of_peak") && r.contains("shape")) << r.dump();
      EXPECT_GT(r["gops"].get<double>(), 0);
    } else if (r["suite"] == "peak") {
      ++peak;
    }
  }
  EXPECT_EQ(gemm, 4);  // 2 engines x 2 shapes, each merged from 2 processes
  EXPECT_EQ(peak, 2);
}

TEST(BenchCli, MergeKeepsTheLowestMedianOfEachCase) {
  const std::string in = test::temp_dir() + "/runs.jsonl";
  std::ofstream(in) << R"({"suite":"e2e","engine":"x","model":"m","batch":1,"seq":16,"threads":2,"median_ms":5.0,"process":0})" "\n"
                    << R"({"suite":"e2e","engine":"x","model":"m","batch":1,"seq":16,"threads":2,"median_ms":4.0,"process":1})" "\n"
                    << R"({"suite":"e2e","engine":"x","model":"m","batch":1,"seq":128,"threads":2,"median_ms":9.0,"process":0})" "\n";
  std::string out;
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-bench --merge " + in + " --json", &out), 0) << out;
  const auto recs = json_lines(out);
  ASSERT_EQ(recs.size(), 2u) << out;
  EXPECT_EQ(recs[0]["median_ms"], 4.0);
  EXPECT_EQ(recs[0]["processes"], 2);
  EXPECT_DOUBLE_EQ(recs[0]["spread"].get<double>(), 1.25);
  EXPECT_EQ(recs[1]["median_ms"], 9.0);
}

TEST(BenchCli, BadOptionsAreRefused) {
  std::string out;
  EXPECT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-bench --engines tensorrt", &out), 2) << out;
  EXPECT_NE(out.find("--engines: unknown 'tensorrt'"), std::string::npos) << out;
  EXPECT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-bench --gemm-shapes 8x8", &out), 2) << out;
  EXPECT_NE(out.find("is not MxKxN"), std::string::npos) << out;
  EXPECT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-bench --seq 1000", &out), 2) << out;
  EXPECT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-bench --threads two", &out), 2) << out;
  EXPECT_NE(out.find("'two' is not an integer"), std::string::npos) << out;
}

TEST(BenchCli, SafetensorsWriterRoundTripsAndMaxSeqLengthOverride) {
  const std::string p = test::temp_dir() + "/w.safetensors";
  F32TensorMap t;
  t["a"] = {{2, 3}, {1, 2, 3, 4, 5, 6}};
  t["b"] = {{1}, {-0.5f}};
  write_safetensors_f32(p, t);
  SafetensorsFile f(p);
  EXPECT_EQ(f.read_f32("a"), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(f.entry("a").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.read_f32("b"), std::vector<float>{-0.5f});
  // rmsmp-convert --max-seq-length: recorded in the architecture, bounded by max_position_embeddings (40 here).
  const std::string ck = test::make_tiny_checkpoint("tiny_msl");
  const std::string m = test::temp_dir() + "/tiny_msl.rmsmp";
  std::string out;
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-convert --quiet --scheme fp32 --max-seq-length 24 --in " + ck +
                              " --out " + m + " --report " + m + ".json", &out), 0) << out;
  EXPECT_NE(out.find("\"scheme\":\"fp32\""), std::string::npos) << out;
  std::ifstream rf(m + ".json");
  const auto rep = nlohmann::json::parse(rf);
  EXPECT_NE(rep["provenance"]["notes"].dump().find("overridden to 24"), std::string::npos) << rep["provenance"].dump();
  EXPECT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-convert --quiet --scheme fp32 --max-seq-length 41 --in " + ck +
                              " --out " + m, &out), 2) << out;
  EXPECT_NE(out.find("outside [3, 40]"), std::string::npos) << out;
}

}  // namespace
}  // namespace rmsmp
