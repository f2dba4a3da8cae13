#pragma once
// A growable array of trivially copyable records in anonymous memory that grows with mremap:
// growing never copies the records and never holds old and new storage at once, so the peak
// resident memory is the records themselves (a std::vector briefly needs 3x when it doubles).
// Linux only (mremap).
#include <sys/mman.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>

namespace ecom::io {

template <class T>
class MappedArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  MappedArray() = default;
  ~MappedArray() { release(); }
  MappedArray(MappedArray&& o) noexcept : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
    o.data_ = nullptr;
    o.size_ = o.capacity_ = 0;
  }
  MappedArray& operator=(MappedArray&& o) noexcept {
    if (this != &o) {
      release();
      data_ = o.data_;
      size_ = o.size_;
      capacity_ = o.capacity_;
      o.data_ = nullptr;
      o.size_ = o.capacity_ = 0;
    }
    return *this;
  }
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  std::span<T> span() { return {data_, size_}; }
  std::span<const T> span() const { return {data_, size_}; }

  void append(std::span<const T> more) {
    if (more.empty()) return;
    reserve(size_ + more.size());
    std::memcpy(static_cast<void*>(data_ + size_), more.data(), more.size_bytes());
    size_ += more.size();
  }
  // Appends n records left uninitialised (the caller fills them); returns the first.
  T* extend(std::size_t n) {
    reserve(size_ + n);
    T* first = data_ + size_;
    size_ += n;
    return first;
  }
  void push_back(const T& v) {
    if (size_ == capacity_) reserve(size_ + 1);
    data_[size_++] = v;
  }
  // Keeps the first n records (n <= size()); returns the pages beyond them to the system.
  void truncate(std::size_t n) {
    if (n >= size_) return;
    size_ = n;
    const std::size_t keep = round_up(n * sizeof(T));
    const std::size_t have = capacity_ * sizeof(T);
    if (keep < have && data_ != nullptr)
      ::madvise(reinterpret_cast<char*>(data_) + keep, have - keep, MADV_DONTNEED);
  }
  void reserve(std::size_t n) {
    if (n <= capacity_) return;
    std::size_t want = capacity_ == 0 ? (std::size_t{1} << 20) / sizeof(T) + 1 : capacity_;
    while (want < n) want *= 2;
    const std::size_t bytes = round_up(want * sizeof(T));
    void* p;
    if (data_ == nullptr)
      p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    else
      p = ::mremap(data_, round_up(capacity_ * sizeof(T)), bytes, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
    capacity_ = bytes / sizeof(T);
  }

 private:
  static std::size_t round_up(std::size_t bytes) {
    constexpr std::size_t kPage = 4096;
    return (bytes + kPage - 1) / kPage * kPage;
  }
  void release() {
    if (data_ != nullptr) ::munmap(data_, round_up(capacity_ * sizeof(T)));
    data_ = nullptr;
    size_ = capacity_ = 0;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace ecom::io
