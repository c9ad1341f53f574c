// The .rmsmp file: round trip through the writer, and every validation the reader promises (bad magic,
// unknown version, truncation, checksum, out-of-range tensors, shapes that contradict the config).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "convert.h"
#include "core/hash.h"
#include "io/model_format.h"
#include "rmsmp/context.h"
#include "rmsmp/model.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_all(const std::string& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

const std::string& tiny_model() {
  static std::string path = [] {
    ConvertOptions o;
    o.in_dir = test::make_tiny_checkpoint("tiny_io");
    o.out_path = test::temp_dir() + "/tiny_io.rmsmp";
    o.scheme = "random";
    o.embeddings = "fp32";  // the tensor tests below break the fp32 "embeddings.word" tensor
    convert_checkpoint(o);
    return o.out_path;
  }();
  return path;
}

const std::string& tiny_model_with_table() {  // word embeddings in the "tables" section (fixed4)
  static std::string path = [] {
    ConvertOptions o;
    o.in_dir = test::make_tiny_checkpoint("tiny_io");
    o.out_path = test::temp_dir() + "/tiny_io_table.rmsmp";
    o.scheme = "random";
    o.embeddings = "fixed4";
    convert_checkpoint(o);
    return o.out_path;
  }();
  return path;
}

// Expects loading `bytes` to fail with InvalidFile and a message naming the file and containing `what`.
void expect_invalid(const std::string& bytes, const std::string& what, bool verify_checksum = true) {
  const std::string p = test::temp_dir() + "/broken.rmsmp";
  write_all(p, bytes);
  LoadOptions lo;
  lo.verify_checksum = verify_checksum;
  try {
    Model::load(p, lo);
    FAIL() << "loading must fail: " << what;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidFile) << e.what();
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

// Rewrites the JSON header of a valid file (keeping the preamble consistent and the checksum right).
std::string with_header(const std::string& good, const std::function<void(nlohmann::json&)>& edit) {
  uint64_t hb, doff;
  std::memcpy(&hb, good.data() + 16, 8);
  std::memcpy(&doff, good.data() + 24, 8);
  nlohmann::json h = nlohmann::json::parse(good.substr(64, hb));
  edit(h);
  std::string js = h.dump();
  // Tensor offsets are relative to the data section, so the data can move to fit a longer header.
  const uint64_t new_doff = (64 + js.size() + 63) / 64 * 64;
  std::string out = good.substr(0, 64) + js + std::string(new_doff - 64 - js.size(), '\0') + good.substr(doff);
  const uint64_t n = js.size();
  std::memcpy(out.data() + 16, &n, 8);
  std::memcpy(out.data() + 24, &new_doff, 8);
  const uint64_t cs = fnv1a64(out.data() + 64, out.size() - 64);
  std::memcpy(out.data() + 40, &cs, 8);
  return out;
}

}  // namespace

TEST(ModelFile, ValidFileLoadsAndTensorsAre64ByteAligned) {
  auto mf = ModelFile::open(tiny_model());
  const auto& t = mf->header()["tensors"];
  ASSERT_GT(t.size(), 10u);
  for (const auto& [name, e] : t.items()) EXPECT_EQ(e["offset"].get<uint64_t>() % 64, 0u) << name;
  EXPECT_EQ(mf->header()["format_version"], 1);
  EXPECT_EQ(mf->header()["provenance"]["source_sha256"].get<std::string>().size(), 64u);
  auto m = Model::load(tiny_model());
  EXPECT_EQ(m->info().hidden_size, 32);
}

// ModelWriter::bytes is the file write() writes, and ModelFile::from_bytes reads it with open()'s checks (the
// CNN calibration's fp32 model stays in memory this way).
TEST(ModelFile, BytesInMemoryAreTheFileAndLoadWithTheSameChecks) {
  ModelWriter mw;
  const std::vector<float> a = {1.f, -2.f, 3.5f};
  const std::vector<int32_t> b = {7, 8};
  mw.add_tensor("a", DType::F32, {3}, a.data());
  mw.add_tensor("b", DType::I32, {2}, b.data());
  mw.header()["note"] = "in memory";
  const std::vector<uint8_t> bytes = mw.bytes();
  const std::string p = test::temp_dir() + "/bytes.rmsmp";
  mw.write(p);
  std::ifstream f(p, std::ios::binary);
  const std::string on_disk((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_EQ(on_disk, std::string(bytes.begin(), bytes.end()));
  const auto m = ModelFile::from_bytes("calibration model", bytes);
  EXPECT_EQ(m->path(), "calibration model");
  EXPECT_EQ(m->header()["note"], "in memory");
  EXPECT_EQ(std::vector<float>(m->f32("a", {3}), m->f32("a", {3}) + 3), a);
  std::vector<uint8_t> bad = bytes;
  bad.back() ^= 1;  // a tensor byte: the checksum no longer matches
  try {
    ModelFile::from_bytes("calibration model", bad);
    FAIL() << "a corrupt byte must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidFile);
    EXPECT_NE(std::string(e.what()).find("calibration model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ModelFile::from_bytes("empty", {}), Error);
}

TEST(ModelFile, RejectsBadMagic) {
  std::string b = read_all(tiny_model());
  b[0] = 'X';
  expect_invalid(b, "bad magic");
}

TEST(ModelFile, RejectsUnknownVersionWithClearMessage) {
  std::string b = read_all(tiny_model());
  b[8] = 7;
  expect_invalid(b, "unsupported model format version 7");
}

TEST(ModelFile, RejectsTruncatedFiles) {
  const std::string b = read_all(tiny_model());
  expect_invalid(b.substr(0, 10), "shorter than the 64-byte preamble");
  expect_invalid(b.substr(0, b.size() - 100), "truncated");
  expect_invalid(b.substr(0, b.size() / 2), "truncated");
}

TEST(ModelFile, RejectsHeaderSizesBeyondTheFileOrTheLimit) {
  std::string b = read_all(tiny_model());
  const uint64_t huge = 1ull << 40;
  std::memcpy(b.data() + 16, &huge, 8);
  expect_invalid(b, "JSON header size 1099511627776 is out of range");
  std::string c = read_all(tiny_model());
  const uint64_t past_end = c.size() + 4096;
  std::memcpy(c.data() + 32, &past_end, 8);
  expect_invalid(c, "truncated: header promises");
}

TEST(ModelFile, RejectsCorruptDataByChecksum) {
  std::string b = read_all(tiny_model());
  b[b.size() - 5] ^= 0x40;
  expect_invalid(b, "checksum mismatch");
}

TEST(ModelFile, RejectsTrailingBytes) { expect_invalid(read_all(tiny_model()) + "junk", "trailing bytes"); }

TEST(ModelFile, RejectsTensorOutsideTheDataSection) {
  const std::string b = with_header(read_all(tiny_model()), [](nlohmann::json& h) {
    h["tensors"]["embeddings.word"]["offset"] = 1ull << 40;
  });
  expect_invalid(b, "outside the data section");
}

TEST(ModelFile, RejectsSizeThatContradictsShape) {
  const std::string b = with_header(read_all(tiny_model()), [](nlohmann::json& h) {
    h["tensors"]["embeddings.word"]["bytes"] = 12;
  });
  expect_invalid(b, "claims 12 bytes");
}

TEST(ModelFile, RejectsOverflowingShapeProducts) {
  const std::string b = with_header(read_all(tiny_model()), [](nlohmann::json& h) {
    h["tensors"]["embeddings.word"]["shape"] = {1ll << 40, 1ll << 40};
  });
  expect_invalid(b, "too large");
}

TEST(ModelFile, RejectsTensorShapesThatContradictTheConfig) {
  const std::string b = with_header(read_all(tiny_model()), [](nlohmann::json& h) {
    h["architecture"]["hidden_size"] = 16;  // tensors are 32 wide
    h["architecture"]["num_heads"] = 4;
  });
  expect_invalid(b, "requires f32[64, 16]");
}

TEST(ModelFile, RejectsBrokenWordTables) {
  const std::string good = read_all(tiny_model_with_table());
  expect_invalid(with_header(good, [](nlohmann::json& h) { h["tables"]["embeddings.word"]["rows"] = 63; }),
                 "table 'embeddings.word' is 63x32 but the architecture config requires 64x32");
  expect_invalid(with_header(good, [](nlohmann::json& h) { h["tables"]["embeddings.word"]["groups"][0]["scheme"] = "fp32"; }),
                 "tensor 'embeddings.word.g_fixed4.codes' is u8[64, 16] but the model config requires u8[64, 128]");
  expect_invalid(with_header(good, [](nlohmann::json& h) { h["tables"]["embeddings.word"].erase("perm"); }),
                 "table 'embeddings.word': malformed entry");
  auto m = Model::load(tiny_model_with_table());  // the unbroken file loads
  EXPECT_EQ(m->info().hidden_size, 32);
}

TEST(ModelFile, RejectsBrokenPermutation) {
  const std::string b = read_all(tiny_model());
  auto mf = ModelFile::open(tiny_model());
  const TensorInfo& ti = mf->tensor_info("encoder.0.q.perm");
  uint64_t doff;
  std::memcpy(&doff, b.data() + 24, 8);
  std::string c = b;
  const int32_t dup = 0;
  std::memcpy(c.data() + doff + ti.offset, &dup, 4);
  std::memcpy(c.data() + doff + ti.offset + 4, &dup, 4);
  expect_invalid(c, "row permutation is invalid", /*verify_checksum=*/false);
}

TEST(ModelFile, RejectsFixed8CodeOutsideTheScheme) {
  // -128 is not a Fixed-8 level; the AVX2/AVX-512 kernels' sign trick could not represent its negation.
  const std::string b = read_all(tiny_model());
  auto mf = ModelFile::open(tiny_model());
  const TensorInfo& ti = mf->tensor_info("encoder.0.q.g_fixed8.codes");
  uint64_t doff;
  std::memcpy(&doff, b.data() + 24, 8);
  std::string c = b;
  c[doff + ti.offset + 5] = static_cast<char>(0x80);
  expect_invalid(c, "fixed8 code -128 at byte 5", /*verify_checksum=*/false);
}

TEST(ModelFile, MissingFileIsNotFound) {
  try {
    Model::load("/nonexistent/dir/m.rmsmp");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/m.rmsmp"), std::string::npos);
  }
}

TEST(ModelFile, WriterLeavesNoPartialFileWhenTheFolderIsMissing) {
  ModelWriter w;
  float x = 1.f;
  w.add_tensor("x", DType::F32, {1}, &x);
  EXPECT_THROW(w.write("/nonexistent/dir/out.rmsmp"), Error);
  EXPECT_FALSE(std::filesystem::exists("/nonexistent/dir/out.rmsmp"));
}

}  // namespace rmsmp

namespace rmsmp {

// A loaded model does not read its file again: the file replaced in place by another model (as `cp other.rmsmp
// served.rmsmp` does), then truncated, then deleted, leaves every later call's results unchanged. With a
// mapping, the replaced bytes reached the next request (SIGSEGV) and the truncation SIGBUS.
TEST(ModelFile, ALoadedModelIsImmuneToItsFileChanging) {
  const std::string p = test::temp_dir() + "/served.rmsmp";
  std::filesystem::copy_file(tiny_model(), p, std::filesystem::copy_options::overwrite_existing);
  for (const char* backend : {"cpu", "reference"}) {
    LoadOptions lo;
    lo.backend = backend;
    auto m = Model::load(p, lo);
    Context ctx(m);
    const std::vector<std::string> texts = {"the file under a served model", "changes"};
    const auto before = ctx.embed_texts(texts);
    {  // rewritten in place (same inode), with other bytes of another size
      std::ofstream f(p, std::ios::binary | std::ios::trunc);
      f << read_all(tiny_model_with_table());
    }
    EXPECT_EQ(ctx.embed_texts(texts), before) << backend;
    std::filesystem::resize_file(p, 100);
    EXPECT_EQ(ctx.embed_texts(texts), before) << backend;
    std::filesystem::remove(p);
    EXPECT_EQ(ctx.embed_texts(texts), before) << backend;
    std::filesystem::copy_file(tiny_model(), p);
  }
}

// Only regular files are read: a FIFO named as a model is refused at once (opening it used to block until a
// writer came, forever), and so is a folder.
TEST(ModelFile, FifosAndFoldersAreRefusedWithoutBlocking) {
  const std::string fifo = test::temp_dir() + "/model.fifo";
  std::filesystem::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& p : {fifo, test::temp_dir()}) {
    try {
      Model::load(p);
      FAIL() << p << " loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p + ": not a regular file"), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove(fifo);
}

}  // namespace rmsmp
