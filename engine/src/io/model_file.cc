// ModelFile: mmap + validation of every field of the .rmsmp layout before any pointer is handed out.
#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "core/mapped_file.h"
#include "io/model_format.h"
#include "rmsmp/error.h"

namespace rmsmp {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::I32: return "i32";
    case DType::U8: return "u8";
  }
  return "?";
}
size_t dtype_bytes(DType t) { return t == DType::U8 ? 1 : 4; }

namespace {

uint64_t read_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint32_t read_u32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

DType parse_dtype(const std::string& path, const std::string& tname, const std::string& s) {
  if (s == "f32") return DType::F32;
  if (s == "i32") return DType::I32;
  if (s == "u8") return DType::U8;
  RMSMP_FAIL(ErrorCode::InvalidFile, path << ": tensor '" << tname << "' has unknown dtype '" << s << "'");
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

ModelFile::~ModelFile() = default;
const std::string& ModelFile::path() const { return map_->path(); }
uint64_t ModelFile::file_bytes() const { return map_->size(); }
void ModelFile::release(const void* p, size_t n) const { map_->release(p, n); }

std::shared_ptr<const ModelFile> ModelFile::open(const std::string& path, const Options& opts) {
  // Copied, not mapped: a served model file replaced or truncated on disk (cp over it, a deploy) must not
  // reach the loaded model (with a mapping, the next request read the new bytes through offsets validated
  // for the old ones, or died of SIGBUS past a truncation). Resident memory is the same as a fully read
  // mapping, and a backend's prepared layout still releases the copied codes.
  return validate(std::make_unique<MappedFile>(path, MappedFile::Mode::Copy), opts);
}

std::shared_ptr<const ModelFile> ModelFile::from_bytes(const std::string& name, const std::vector<uint8_t>& bytes) {
  return validate(std::make_unique<MappedFile>(name, bytes.data(), bytes.size()), Options{});
}

std::shared_ptr<const ModelFile> ModelFile::validate(std::unique_ptr<MappedFile> map, const Options& opts) {
  std::shared_ptr<ModelFile> mf(new ModelFile());
  mf->map_ = std::move(map);
  const std::string& path = mf->map_->path();
  const uint8_t* p = mf->map_->data();
  const uint64_t size = mf->map_->size();

  RMSMP_CHECK(size >= kPreambleBytes, ErrorCode::InvalidFile,
              path << ": not an rmsmp model (file is " << size << " bytes, shorter than the 64-byte preamble)");
  RMSMP_CHECK(std::memcmp(p, kModelMagic, 8) == 0, ErrorCode::InvalidFile,
              path << ": not an rmsmp model (bad magic; expected \"RMSMPMDL\")");
  const uint32_t version = read_u32(p + 8);
  RMSMP_CHECK(version == kFormatVersion, ErrorCode::InvalidFile,
              path << ": unsupported model format version " << version << " (this build reads version "
                   << kFormatVersion << "; convert the checkpoint again with this rmsmp-convert)");
  RMSMP_CHECK(read_u32(p + 12) == kPreambleBytes, ErrorCode::InvalidFile, path << ": bad preamble size field");
  const uint64_t header_bytes = read_u64(p + 16), data_offset = read_u64(p + 24), data_bytes = read_u64(p + 32);
  const uint64_t checksum = read_u64(p + 40);
  RMSMP_CHECK(header_bytes > 0 && header_bytes <= kMaxHeaderBytes, ErrorCode::InvalidFile,
              path << ": JSON header size " << header_bytes << " is out of range");
  RMSMP_CHECK(data_offset % kTensorAlign == 0 && data_offset >= kPreambleBytes + header_bytes, ErrorCode::InvalidFile,
              path << ": data offset " << data_offset << " is not 64-aligned or overlaps the header");
  RMSMP_CHECK(data_offset <= size && data_bytes <= size - data_offset, ErrorCode::InvalidFile,
              path << ": truncated: header promises " << data_offset << " + " << data_bytes
                   << " bytes but the file has " << size);
  RMSMP_CHECK(data_offset + data_bytes == size, ErrorCode::InvalidFile,
              path << ": " << size - data_offset - data_bytes << " unexpected trailing bytes after the tensor data");
  if (opts.verify_checksum) {
    uint64_t h = fnv1a64(p + kPreambleBytes, size - kPreambleBytes);
    RMSMP_CHECK(h == checksum, ErrorCode::InvalidFile,
                path << ": checksum mismatch (file is corrupt or was modified after conversion)");
  }
  mf->data_offset_ = data_offset;

  try {
    mf->header_ = std::make_unique<nlohmann::json>(
        nlohmann::json::parse(p + kPreambleBytes, p + kPreambleBytes + header_bytes));
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, path << ": JSON header does not parse: " << e.what());
  }
  const nlohmann::json& h = *mf->header_;
  RMSMP_CHECK(h.is_object() && h.value("format", "") == "rmsmp", ErrorCode::InvalidFile,
              path << ": JSON header lacks \"format\": \"rmsmp\"");
  RMSMP_CHECK(h.contains("tensors") && h["tensors"].is_object(), ErrorCode::InvalidFile,
              path << ": JSON header lacks the \"tensors\" table");

  for (const auto& [name, t] : h["tensors"].items()) {
    TensorInfo ti;
    ti.name = name;
    try {
      ti.dtype = parse_dtype(path, name, t.at("dtype").get<std::string>());
      ti.shape = t.at("shape").get<std::vector<int64_t>>();
      ti.offset = t.at("offset").get<uint64_t>();
      ti.bytes = t.at("bytes").get<uint64_t>();
    } catch (const nlohmann::json::exception& e) {
      RMSMP_FAIL(ErrorCode::InvalidFile, path << ": tensor '" << name << "': malformed entry: " << e.what());
    }
    // Overflow-safe product of the shape (each dim bounded; product bounded by the data size).
    uint64_t elems = 1;
    for (int64_t d : ti.shape) {
      RMSMP_CHECK(d >= 0 && (d == 0 || elems <= data_bytes / uint64_t(d)), ErrorCode::InvalidFile,
                  path << ": tensor '" << name << "' shape " << shape_str(ti.shape) << " is negative or too large");
      elems *= uint64_t(d);
    }
    RMSMP_CHECK(elems * dtype_bytes(ti.dtype) == ti.bytes, ErrorCode::InvalidFile,
                path << ": tensor '" << name << "' claims " << ti.bytes << " bytes but shape "
                     << shape_str(ti.shape) << " of " << dtype_name(ti.dtype) << " needs "
                     << elems * dtype_bytes(ti.dtype));
    RMSMP_CHECK(ti.offset % kTensorAlign == 0, ErrorCode::InvalidFile,
                path << ": tensor '" << name << "' offset " << ti.offset << " is not 64-byte aligned");
    RMSMP_CHECK(ti.offset <= data_bytes && ti.bytes <= data_bytes - ti.offset, ErrorCode::InvalidFile,
                path << ": tensor '" << name << "' [" << ti.offset << ", +" << ti.bytes
                     << ") lies outside the data section of " << data_bytes << " bytes");
    mf->tensors_.push_back(std::move(ti));
  }
  std::sort(mf->tensors_.begin(), mf->tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return mf;
}

const TensorInfo& ModelFile::tensor_info(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, const std::string& n) { return t.name < n; });
  RMSMP_CHECK(it != tensors_.end() && it->name == name, ErrorCode::InvalidFile,
              path() << ": missing tensor '" << name << "'");
  return *it;
}

const void* ModelFile::tensor_data(const std::string& name, DType dtype, const std::vector<int64_t>& shape) const {
  const TensorInfo& t = tensor_info(name);
  RMSMP_CHECK(t.dtype == dtype && t.shape == shape, ErrorCode::InvalidFile,
              path() << ": tensor '" << name << "' is " << dtype_name(t.dtype) << shape_str(t.shape)
                     << " but the model config requires " << dtype_name(dtype) << shape_str(shape));
  return map_->data() + data_offset_ + t.offset;
}

}  // namespace rmsmp
