// Read-only view of a whole regular file: memory-mapped (POSIX mmap), or copied into private memory. Errors name
// the file. Only regular files are accepted (a FIFO, device or directory is refused at once: opening a FIFO
// would block until a writer appeared).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rmsmp {

// Opens path read-only if it names a regular file: O_NONBLOCK so that a FIFO cannot block the open, then fstat.
// Returns the descriptor (the caller closes it); throws Error{NotFound|IoError} naming the file otherwise.
int open_regular_file(const std::string& path);

class MappedFile {
 public:
  // Mapped: the file's pages are shared with the page cache; the file must not be truncated or rewritten
  //   while the view lives (a read past a truncation is SIGBUS).
  // Copy: read whole into private anonymous memory at construction; later changes to the file (cp over it,
  //   truncation, deletion) cannot reach the view. A file that changes size while it is read is refused.
  enum class Mode { Mapped, Copy };
  explicit MappedFile(const std::string& path, Mode mode = Mode::Mapped);  // throws Error{NotFound|IoError}
  // Copy of n bytes from memory (no file: `name` stands for the path), in anonymous pages as Mode::Copy.
  MappedFile(const std::string& name, const uint8_t* bytes, size_t n);
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
