// ModelWriter: lays out tensors at 64-byte offsets, computes the checksum, writes temp file + rename.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "io/model_format.h"
#include "rmsmp/error.h"

namespace rmsmp {

ModelWriter::ModelWriter() : header_(std::make_unique<nlohmann::json>(nlohmann::json::object())) {}
ModelWriter::~ModelWriter() = default;
nlohmann::json& ModelWriter::header() { return *header_; }

const std::string& ModelWriter::add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                           const void* data) {
  Pending p;
  p.info.name = name;
  p.info.dtype = dtype;
  uint64_t elems = 1;
  for (int64_t d : shape) elems *= uint64_t(d);
  p.info.shape = std::move(shape);
  p.info.bytes = elems * dtype_bytes(dtype);
  p.data.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + p.info.bytes);
  for (const auto& t : tensors_)
    RMSMP_CHECK(t.info.name != name, ErrorCode::Internal, "duplicate tensor name '" << name << "'");
  tensors_.push_back(std::move(p));
  return tensors_.back().info.name;
}

namespace {
void put_u32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i)); }
void put_u64(uint8_t* p, uint64_t v) { for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i)); }
uint64_t align_up(uint64_t v) { return (v + kTensorAlign - 1) / kTensorAlign * kTensorAlign; }
}  // namespace

std::vector<uint8_t> ModelWriter::bytes() const {
  nlohmann::json h = *header_;
  h["format"] = "rmsmp";
  h["format_version"] = kFormatVersion;
  nlohmann::json tj = nlohmann::json::object();
  uint64_t off = 0;
  std::vector<uint64_t> offsets;
  for (const auto& t : tensors_) {
    offsets.push_back(off);
    tj[t.info.name] = {{"dtype", dtype_name(t.info.dtype)}, {"shape", t.info.shape}, {"offset", off}, {"bytes", t.info.bytes}};
    off = align_up(off + t.info.bytes);
  }
  const uint64_t data_bytes = off;
  h["tensors"] = std::move(tj);
  const std::string js = h.dump();
  const uint64_t data_offset = align_up(kPreambleBytes + js.size());

  // Preamble, then the body (everything after it) assembled once, so the checksum and the write see the same
  // bytes.
  std::vector<uint8_t> out(data_offset + data_bytes, 0);
  uint8_t* body = out.data() + kPreambleBytes;
  std::memcpy(body, js.data(), js.size());
  for (size_t i = 0; i < tensors_.size(); ++i)
    std::memcpy(out.data() + data_offset + offsets[i], tensors_[i].data.data(), tensors_[i].data.size());
  uint8_t* pre = out.data();
  std::memcpy(pre, kModelMagic, 8);
  put_u32(pre + 8, kFormatVersion);
  put_u32(pre + 12, kPreambleBytes);
  put_u64(pre + 16, js.size());
  put_u64(pre + 24, data_offset);
  put_u64(pre + 32, data_bytes);
  put_u64(pre + 40, fnv1a64(body, out.size() - kPreambleBytes));
  return out;
}

void ModelWriter::write(const std::string& path) const {
  const std::vector<uint8_t> all = bytes();
  // Temp file beside the target so rename() is atomic; a failed write leaves no partial output.
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(std::random_device{}() % 100000);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  RMSMP_CHECK(f, ErrorCode::IoError, path << ": cannot write: " << std::strerror(errno));
  bool ok = std::fwrite(all.data(), 1, all.size(), f) == all.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    RMSMP_FAIL(ErrorCode::IoError, path << ": write failed: " << std::strerror(e));
  }
}

}  // namespace rmsmp
