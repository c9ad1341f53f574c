// Safetensors layout: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {...}}, then the data section. Every range is checked.
#include "safetensors.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "float_formats.h"
#include "rmsmp/error.h"

namespace rmsmp {


SafetensorsFile::~SafetensorsFile() = default;
const std::string& SafetensorsFile::path() const { return map_->path(); }

SafetensorsFile::SafetensorsFile(const std::string& path) : map_(std::make_unique<MappedFile>(path)) {
  const uint8_t* p = map_->data();
  const uint64_t size = map_->size();
  RMSMP_CHECK(size >= 8, ErrorCode::InvalidFile, path << ": not a safetensors file (shorter than 8 bytes)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | p[i];
  RMSMP_CHECK(n >= 2 && n <= size - 8 && n <= (100ull << 20), ErrorCode::InvalidFile,
              path << ": safetensors header length " << n << " is invalid for a file of " << size << " bytes");
  data_start_ = 8 + n;
  const uint64_t data_bytes = size - data_start_;
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(p + 8, p + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, path << ": safetensors header is not valid JSON: " << e.what());
  }
  RMSMP_CHECK(h.is_object(), ErrorCode::InvalidFile, path << ": safetensors header is not a JSON object");
  for (const auto& [name, v] : h.items()) {
    if (name == "__metadata__") {
      RMSMP_CHECK(v.is_object(), ErrorCode::InvalidFile, path << ": __metadata__ is not a JSON object");
      for (const auto& [k, mv] : v.items()) {
        RMSMP_CHECK(mv.is_string(), ErrorCode::InvalidFile, path << ": __metadata__ value '" << k << "' is not a string");
        metadata_[k] = mv.get<std::string>();
      }
      continue;
    }
    Entry e;
    e.name = name;
    try {
      e.dtype = v.at("dtype").get<std::string>();
      e.shape = v.at("shape").get<std::vector<int64_t>>();
      auto off = v.at("data_offsets").get<std::vector<uint64_t>>();
      RMSMP_CHECK(off.size() == 2, ErrorCode::InvalidFile, path << ": tensor '" << name << "': bad data_offsets");
      e.begin = off[0], e.end = off[1];
    } catch (const nlohmann::json::exception& ex) {
      RMSMP_FAIL(ErrorCode::InvalidFile, path << ": tensor '" << name << "': malformed entry: " << ex.what());
    }
    const size_t es = dtype_name_size(e.dtype);
    RMSMP_CHECK(es > 0, ErrorCode::InvalidFile, path << ": tensor '" << name << "' has unknown dtype " << e.dtype);
    RMSMP_CHECK(e.begin <= e.end && e.end <= data_bytes, ErrorCode::InvalidFile,
                path << ": tensor '" << name << "' range [" << e.begin << ", " << e.end
                     << ") lies outside the data section (" << data_bytes << " bytes; file truncated?)");
    uint64_t elems = 1;
    for (int64_t d : e.shape) {
      RMSMP_CHECK(d >= 0 && (d == 0 || elems <= data_bytes / uint64_t(d)), ErrorCode::InvalidFile,
                  path << ": tensor '" << name << "' has a negative or overflowing shape");
      elems *= uint64_t(d);
    }
    RMSMP_CHECK(elems * es == e.end - e.begin, ErrorCode::InvalidFile,
                path << ": tensor '" << name << "' has " << (e.end - e.begin) << " bytes but its shape needs "
                     << elems * es);
    entries_.push_back(std::move(e));
  }
}

bool SafetensorsFile::has(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return true;
  return false;
}

const SafetensorsFile::Entry& SafetensorsFile::entry(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return e;
  RMSMP_FAIL(ErrorCode::InvalidFile, path() << ": missing tensor '" << name << "'");
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name) const {
  const Entry& e = entry(name);
  const uint8_t* src = map_->data() + data_start_ + e.begin;
  const size_t bytes = e.end - e.begin;
  std::vector<float> out;
  if (e.dtype == "F32") {
    out.resize(bytes / 4);
    std::memcpy(out.data(), src, bytes);
  } else if (e.dtype == "F16" || e.dtype == "BF16") {
    out.resize(bytes / 2);
    for (size_t i = 0; i < out.size(); ++i) {
      uint16_t h = uint16_t(src[2 * i] | (src[2 * i + 1] << 8));
      out[i] = e.dtype == "F16" ? half_to_float(h) : bf16_to_float(h);
    }
  } else {
    RMSMP_FAIL(ErrorCode::Unsupported, path() << ": tensor '" << name << "' has dtype " << e.dtype
                                              << "; weights must be F32, F16 or BF16");
  }
  for (size_t i = 0; i < out.size(); ++i)
    RMSMP_CHECK(std::isfinite(out[i]), ErrorCode::InvalidFile,
                path() << ": tensor '" << name << "' holds a NaN or Inf value at element " << i);
  return out;
}

void write_safetensors_f32(const std::string& path, const F32TensorMap& tensors,
                           const std::map<std::string, std::string>& metadata) {
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& [name, v] : tensors) {
    int64_t n = 1;
    for (int64_t d : v.first) n *= d;
    RMSMP_CHECK(n == int64_t(v.second.size()), ErrorCode::InvalidArgument,
                path << ": tensor " << name << " has " << v.second.size() << " values for its shape");
    h[name] = {{"dtype", "F32"}, {"shape", v.first}, {"data_offsets", {off, off + v.second.size() * 4}}};
    off += v.second.size() * 4;
  }
  std::string hs = h.dump();
  while (hs.size() % 8) hs += ' ';
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    RMSMP_CHECK(bool(f), ErrorCode::IoError, tmp << ": cannot create");
    const uint64_t n = hs.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f.write(hs.data(), std::streamsize(hs.size()));
    for (const auto& [name, v] : tensors)
      f.write(reinterpret_cast<const char*>(v.second.data()), std::streamsize(v.second.size() * 4));
    f.flush();
    RMSMP_CHECK(bool(f), ErrorCode::IoError, tmp << ": write failed (disk full?)");
  }
  RMSMP_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, ErrorCode::IoError, path << ": cannot rename " << tmp);
}

}  // namespace rmsmp
