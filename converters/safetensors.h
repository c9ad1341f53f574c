// Bounds-checked safetensors reader (mmap; no pickle, no code execution). Converts F32/F16/BF16 to float.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rmsmp {

class MappedFile;

class SafetensorsFile {
 public:
  struct Entry {
    std::string name, dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;  // byte range within the data section
  };
  explicit SafetensorsFile(const std::string& path);  // validates header and every entry
  ~SafetensorsFile();

  const std::string& path() const;
  bool has(const std::string& name) const;
  const Entry& entry(const std::string& name) const;  // throws InvalidFile naming the file and tensor
  const std::vector<Entry>& entries() const { return entries_; }
  // Tensor as float32 (F32, F16, BF16 accepted); throws on other dtypes and on NaN/Inf values.
  std::vector<float> read_f32(const std::string& name) const;
  // The header's "__metadata__" (string to string, as the format defines it); empty when absent.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::unique_ptr<MappedFile> map_;
  std::vector<Entry> entries_;
  uint64_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
};

// name -> (shape, fp32 values). Written F32, names in map order, header padded to 8 bytes; to a temp file in
// the same folder, then renamed. For synthetic checkpoints (benchmarks, tests) and QAT plans (qat_plan.h);
// `metadata` becomes "__metadata__". Throws Error{IoError}.
using F32TensorMap = std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>;
void write_safetensors_f32(const std::string& path, const F32TensorMap& tensors,
                           const std::map<std::string, std::string>& metadata = {});

}  // namespace rmsmp
