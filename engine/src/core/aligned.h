// Cache-line aligned storage for the buffers SIMD kernels stream: a 64-byte vector load from a 16-byte aligned
// std::vector (what malloc gives) spans two cache lines three times in four, and the split load costs an extra
// cycle or more on every AVX-512 load.
#pragma once
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace rmsmp {

inline constexpr std::size_t kCacheLine = 64;

// std::allocator with kCacheLine alignment (C++17 aligned new).
template <class T>
struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() = default;
  template <class U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kCacheLine)));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(kCacheLine)); }
  template <class U>
  bool operator==(const CacheAlignedAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const CacheAlignedAllocator<U>&) const noexcept { return false; }
};

template <class T>
using AlignedVector = std::vector<T, CacheAlignedAllocator<T>>;

// An uninitialised array of n trivially constructible T, cache-line aligned.
struct AlignedDelete {
  void operator()(void* p) const noexcept { ::operator delete[](p, std::align_val_t(kCacheLine)); }
};
template <class T>
using AlignedArray = std::unique_ptr<T[], AlignedDelete>;
template <class T>
AlignedArray<T> make_aligned_array(std::size_t n) {
  return AlignedArray<T>(static_cast<T*>(::operator new[](n * sizeof(T), std::align_val_t(kCacheLine))));
}

}  // namespace rmsmp
