// MappedFile: open + fstat + mmap(PROT_READ, MAP_PRIVATE); an empty file maps to no memory.
#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "rmsmp/error.h"

namespace rmsmp {

int open_regular_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int e = errno;
    throw Error(e == ENOENT ? ErrorCode::NotFound : ErrorCode::IoError, path + ": cannot open: " + std::strerror(e));
  }
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    const int e = stat_ok ? 0 : errno;
    ::close(fd);
    throw Error(ErrorCode::IoError, path + ": not a regular file" +
                                        (e ? std::string(": ") + std::strerror(e)
                                           : S_ISFIFO(st.st_mode) ? std::string(" (a FIFO)")
                                           : S_ISDIR(st.st_mode)  ? std::string(" (a directory)")
                                                                  : std::string()));
  }
  return fd;
}

MappedFile::MappedFile(const std::string& path, Mode mode) : path_(path) {
  const int fd = open_regular_file(path);
  struct stat st {};
  ::fstat(fd, &st);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ == 0) {
    ::close(fd);
    return;
  }
  if (mode == Mode::Mapped) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    if (p == MAP_FAILED) throw Error(ErrorCode::IoError, path + ": mmap failed: " + std::strerror(e));
    data_ = static_cast<const uint8_t*>(p);
    return;
  }
  // Copy: anonymous pages (page aligned, and release() can drop them), filled by read().
  void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    throw Error(ErrorCode::IoError, path + ": cannot allocate " + std::to_string(size_) + " bytes: " + std::strerror(e));
  }
  data_ = static_cast<const uint8_t*>(p);
  size_t got = 0;
  while (got < size_) {
    const ssize_t r = ::read(fd, static_cast<uint8_t*>(p) + got, size_ - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      const int e = r < 0 ? errno : 0;
      ::close(fd);
      ::munmap(p, size_);
      data_ = nullptr;
      throw Error(ErrorCode::IoError, path + ": " + (e ? std::string("read failed: ") + std::strerror(e)
                                                       : "the file shrank while it was read (rewritten?)"));
    }
    got += size_t(r);
  }
  struct stat after {};
  const bool same = ::fstat(fd, &after) == 0 && after.st_size == st.st_size;
  ::close(fd);
  if (!same) {
    ::munmap(p, size_);
    data_ = nullptr;
    throw Error(ErrorCode::IoError, path + ": the file changed size while it was read (rewritten?)");
  }
  ::mprotect(p, size_, PROT_READ);  // read-only from here, as a mapping would be
}

MappedFile::MappedFile(const std::string& name, const uint8_t* bytes, size_t n) : path_(name), size_(n) {
  if (n == 0) return;
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw Error(ErrorCode::IoError, name + ": cannot allocate " + std::to_string(n) + " bytes: " + std::strerror(errno));
  std::memcpy(p, bytes, n);
  ::mprotect(p, n, PROT_READ);
  data_ = static_cast<const uint8_t*>(p);
}

void MappedFile::release(const void* p, size_t n) const {
  const auto* b = static_cast<const uint8_t*>(p);
  if (!data_ || b < data_ || n > size_ || b - data_ > std::ptrdiff_t(size_ - n)) return;
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t lo = (uintptr_t(b) + page - 1) / page * page, hi = (uintptr_t(b) + n) / page * page;
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);  // advisory: failure costs only RSS
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace rmsmp
