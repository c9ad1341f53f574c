// Hashes: FNV-1a 64 (the model file checksum) and SHA-256 (checkpoint provenance).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rmsmp {

constexpr uint64_t kFnv1a64Init = 0xcbf29ce484222325ull;
// Continues an FNV-1a 64 hash `h` over `n` bytes (streamable: feed chunks in order).
uint64_t fnv1a64(const void* data, size_t n, uint64_t h = kFnv1a64Init);

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::string hex_digest();  // finalises; call once

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_file_hex(const std::string& path);

}  // namespace rmsmp
