// The safetensors reader refuses malformed headers, out-of-range offsets and non-finite weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "rmsmp/error.h"
#include "safetensors.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {
std::string make(const std::string& header, const std::string& data) {
  const std::string p = test::temp_dir() + "/st_" + std::to_string(std::hash<std::string>()(header + data)) + ".safetensors";
  std::ofstream f(p, std::ios::binary);
  uint64_t n = header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << header << data;
  return p;
}
std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}
void expect_error(const std::string& path, const std::string& what) {
  try {
    SafetensorsFile f(path);
    for (const auto& e : f.entries()) f.read_f32(e.name);
    FAIL() << what;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(Safetensors, ReadsF32AndF16) {
  // 1.0 and -2.0 as float16: 0x3C00, 0xC000.
  std::string h16("\x00\x3C\x00\xC0", 4);
  SafetensorsFile f(make(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]}})",
                         floats({0.5f, 3.f}) + h16));
  EXPECT_EQ(f.read_f32("a"), (std::vector<float>{0.5f, 3.f}));
  EXPECT_EQ(f.read_f32("b"), (std::vector<float>{1.f, -2.f}));
}

TEST(Safetensors, RejectsMalformedInput) {
  expect_error(make("{not json", ""), "not valid JSON");
  expect_error(make(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", floats({1, 2})), "outside the data section");
  expect_error(make(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", floats({1, 2})), "shape needs");
  expect_error(make(R"({"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}})", floats({1})), "unknown dtype");
  expect_error(make(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", floats({1, NAN})), "NaN or Inf");
  expect_error(make(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", floats({1})), "negative");
}

TEST(Safetensors, RejectsHeaderLongerThanTheFile) {
  const std::string p = test::temp_dir() + "/st_long.safetensors";
  std::ofstream f(p, std::ios::binary);
  uint64_t n = 1000;
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << "{}";
  f.close();
  expect_error(p, "header length 1000 is invalid");
}

}  // namespace rmsmp
