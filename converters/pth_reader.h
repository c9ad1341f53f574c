// Restricted reader for PyTorch checkpoints (.pth / .pt state dicts), never executing code.
//
// Two containers:
//   zip (torch >= 1.6): "<dir>/data.pkl" plus one stored (uncompressed) entry "<dir>/data/<key>" per storage;
//   legacy (torch < 1.6): five concatenated pickles-and-blobs: magic number, protocol version, system info, the
//     object pickle, the list of storage keys, then per key an int64 element count and the raw elements.
// The object pickle is run by a small pickle machine that knows the opcodes state dicts use and accepts only
// these globals: collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter, and the
// torch.*Storage types (as persistent ids). Anything else (os.system, builtins.eval, ...) is refused with an
// error naming it. Every count, size, offset and stride is checked against the file before it is used.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rmsmp {

class MappedFile;

class PthFile {
 public:
  struct Tensor {
    std::string dtype;  // "F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"
    std::vector<int64_t> shape, stride;
    int64_t storage_offset = 0;  // in elements
    std::string storage_key;
  };
  explicit PthFile(const std::string& path);  // throws InvalidFile / NotFound naming the file and what is wrong
  ~PthFile();

  const std::string& path() const;
  const std::string& format() const { return format_; }  // "zip" | "legacy"
  // Tensors of the state dict in file order ("module." prefixes and nesting kept as dotted names).
  const std::vector<std::string>& names() const { return names_; }
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  const Tensor& tensor(const std::string& name) const;  // InvalidFile naming the tensor if missing
  // Values as float32 in row-major order of `shape` (strides honoured); F32/F64/F16/BF16 only; no NaN/Inf.
  std::vector<float> read_f32(const std::string& name) const;

 private:
  struct Storage {
    std::string dtype;
    uint64_t offset = 0, bytes = 0;  // within the mapped file
  };
  std::unique_ptr<MappedFile> map_;
  std::string format_;
  std::vector<std::string> names_;
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, Storage> storages_;
};

}  // namespace rmsmp
