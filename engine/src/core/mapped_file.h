// Read-only memory-mapped file (POSIX mmap). Errors name the file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rmsmp {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error{NotFound|IoError}
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Drops the whole pages inside [p, p + n) from this process's resident set (madvise MADV_DONTNEED): the
  // mapping is private and never written, so a later read faults the same bytes back in from the file. For
  // bytes a backend has copied into its own layout at load. A range outside the mapping is ignored.
  void release(const void* p, size_t n) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rmsmp
