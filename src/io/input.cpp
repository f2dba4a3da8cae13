#include "ecom/io/input.hpp"

#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "ecom/core/error.hpp"
#include "ecom/core/uint128.hpp"
#include "ecom/io/read_plan.hpp"

namespace ecom::io {

bool is_gzip_name(std::string_view path) {
  return path.size() >= 3 && path.substr(path.size() - 3) == ".gz";
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& p) {
    if (seen.insert(p).second) out.push_back(p);
  };
  for (const auto& pattern : patterns) {
    if (pattern.find_first_of("*?[") == std::string::npos) {
      add(pattern);
      continue;
    }
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
    if (rc == GLOB_NOMATCH) {
      ::globfree(&g);
      throw UserError("input pattern " + pattern + " matches no file");
    }
    if (rc != 0) {
      ::globfree(&g);
      throw UserError("input pattern " + pattern + ": cannot expand");
    }
    std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    ::globfree(&g);
    std::sort(matches.begin(), matches.end());
    for (const auto& m : matches) add(m);
  }
  return out;
}

std::vector<ByteRange> split_bytes(std::span<const std::uint64_t> sizes, int ranks, int rank) {
  const std::uint64_t total = std::accumulate(sizes.begin(), sizes.end(), std::uint64_t{0});
  const auto p = static_cast<std::uint64_t>(ranks);
  std::vector<std::uint64_t> shares(p);
  for (std::uint64_t r = 0; r < p; ++r)
    shares[r] = static_cast<std::uint64_t>(static_cast<u128>(total) * (r + 1) / p -
                                           static_cast<u128>(total) * r / p);
  return split_by_shares(sizes, shares, rank);
}

std::vector<int> assign_whole_files(std::span<const std::uint64_t> sizes, int ranks) {
  std::vector<std::uint64_t> load(static_cast<std::size_t>(ranks), 0);
  std::vector<std::size_t> count(static_cast<std::size_t>(ranks), 0);
  return assign_greedy(sizes, load, count);
}

// ---- sources --------------------------------------------------------------------------------

FileRangeSource::FileRangeSource(const std::string& path, std::uint64_t begin, std::uint64_t end)
    : path_(path), begin_(begin), pos_(begin), end_(end) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw InputError("input file " + path + ": cannot open: " + std::strerror(errno));
  ::posix_fadvise(fd_, static_cast<off_t>(begin), 0, POSIX_FADV_SEQUENTIAL);
}

FileRangeSource::~FileRangeSource() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t FileRangeSource::read(char* out, std::size_t n) {
  if (pos_ >= end_) return 0;
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, end_ - pos_));
  ssize_t got;
  do {
    got = ::pread(fd_, out, n, static_cast<off_t>(pos_));
  } while (got < 0 && errno == EINTR);
  if (got < 0) throw InputError("input file " + path_ + ": read error: " + std::strerror(errno));
  pos_ += static_cast<std::uint64_t>(got);
  if (got == 0) end_ = pos_;  // the file is shorter than expected
  return static_cast<std::size_t>(got);
}

// ---- gzip, decoded ahead ------------------------------------------------------------------

struct GzipSource::Shared {
  static constexpr std::size_t kBlocks = 3;
  struct Block {
    std::vector<char> bytes;
    std::size_t size = 0;  // valid bytes; 0 with `last` = end of the data
    bool last = false;
  };
  GzipReader gz;
  std::mutex mutex;
  std::condition_variable changed;
  std::array<Block, kBlocks> blocks;
  std::size_t filled = 0;    // blocks ready for the reader
  std::size_t produce = 0;   // next block the decoder fills
  std::size_t consume = 0;   // block the reader is reading
  std::size_t offset = 0;    // read position in blocks[consume]
  std::exception_ptr error;  // decoding error, after the blocks filled before it
  std::atomic<std::uint64_t> compressed{0};
  bool stop = false;
  std::thread decoder;

  Shared(const std::string& path, std::size_t chunk) : gz(path, chunk) {
    for (auto& b : blocks) b.bytes.resize(std::max<std::size_t>(chunk, 16));
  }

  void run() {
    while (true) {
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return stop || filled < kBlocks; });
        if (stop) return;
      }
      Block& b = blocks[produce];  // free: only this thread touches it until published
      bool last = false;
      std::exception_ptr failure;
      try {
        b.size = gz.read(b.bytes.data(), b.bytes.size());
        last = b.size == 0;
      } catch (...) {
        failure = std::current_exception();
      }
      compressed.store(gz.compressed_bytes_read(), std::memory_order_relaxed);
      std::lock_guard lock(mutex);
      if (failure) {
        error = failure;
        changed.notify_all();
        return;
      }
      b.last = last;
      produce = (produce + 1) % kBlocks;
      ++filled;
      changed.notify_all();
      if (last) return;
    }
  }
};

GzipSource::GzipSource(const std::string& path, std::size_t chunk_bytes)
    : shared_(std::make_unique<Shared>(path, chunk_bytes)) {
  shared_->decoder = std::thread([s = shared_.get()] { s->run(); });
}

GzipSource::~GzipSource() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stop = true;
  }
  shared_->changed.notify_all();
  if (shared_->decoder.joinable()) shared_->decoder.join();
}

std::size_t GzipSource::read(char* out, std::size_t n) {
  Shared& s = *shared_;
  std::unique_lock lock(s.mutex);
  while (true) {
    s.changed.wait(lock, [&] { return s.filled > 0 || s.error; });
    if (s.filled == 0) std::rethrow_exception(s.error);  // every block before it is read
    Shared::Block& b = s.blocks[s.consume];
    if (b.last) return 0;
    if (s.offset < b.size) {
      const std::size_t k = std::min(n, b.size - s.offset);
      std::memcpy(out, b.bytes.data() + s.offset, k);
      s.offset += k;
      return k;
    }
    // This block is used up: hand it back to the decoder.
    s.offset = 0;
    s.consume = (s.consume + 1) % Shared::kBlocks;
    --s.filled;
    s.changed.notify_all();
  }
}

std::uint64_t GzipSource::file_bytes_read() const {
  return shared_->compressed.load(std::memory_order_relaxed);
}

std::size_t StringSource::read(char* out, std::size_t n) {
  if (pos_ >= end_) return 0;
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, end_ - pos_));
  std::memcpy(out, bytes_.data() + pos_, n);
  pos_ += n;
  read_ += n;
  return n;
}

// ---- lines ----------------------------------------------------------------------------------

LineReader::LineReader(std::unique_ptr<ByteSource> source, std::size_t chunk_bytes,
                       bool skip_partial, std::uint64_t start_limit)
    : source_(std::move(source)),
      buf_(std::max<std::size_t>(chunk_bytes, 16)),
      chunk_(std::max<std::size_t>(chunk_bytes, 16)),
      start_limit_(start_limit),
      skip_partial_(skip_partial) {}

bool LineReader::fill() {
  if (eof_) return false;
  // Move the unread tail to the front; grow when one line fills the whole buffer.
  if (head_ > 0) {
    std::memmove(buf_.data(), buf_.data() + head_, tail_ - head_);
    buf_stream_pos_ += head_;
    tail_ -= head_;
    head_ = 0;
  }
  if (buf_.size() - tail_ < chunk_ / 2) buf_.resize(std::max(buf_.size() * 2, tail_ + chunk_));
  const std::size_t got = source_->read(buf_.data() + tail_, buf_.size() - tail_);
  if (got == 0) {
    eof_ = true;
    return false;
  }
  tail_ += got;
  return true;
}

bool LineReader::next(std::string_view& line) {
  if (skip_partial_) {
    // Drop everything through the first '\n' (that line belongs to the previous range).
    while (true) {
      const void* nl = std::memchr(buf_.data() + head_, '\n', tail_ - head_);
      if (nl != nullptr) {
        head_ = static_cast<std::size_t>(static_cast<const char*>(nl) - buf_.data()) + 1;
        break;
      }
      head_ = tail_;
      if (!fill()) return false;
    }
    skip_partial_ = false;
    consumed_ = buf_stream_pos_ + head_;
  }
  const std::uint64_t start = buf_stream_pos_ + head_;
  if (start >= start_limit_) return false;
  std::size_t scan = head_;
  while (true) {
    const void* nl = std::memchr(buf_.data() + scan, '\n', tail_ - scan);
    if (nl != nullptr) {
      const auto end = static_cast<std::size_t>(static_cast<const char*>(nl) - buf_.data());
      std::size_t len = end - head_;
      if (len > 0 && buf_[head_ + len - 1] == '\r') --len;
      line = std::string_view(buf_.data() + head_, len);
      head_ = end + 1;
      consumed_ = buf_stream_pos_ + head_;
      ++lines_;
      return true;
    }
    const std::size_t scanned = tail_ - head_;
    if (!fill()) {
      // End of the source: a last line without '\n', if any.
      if (tail_ == head_) return false;
      std::size_t len = tail_ - head_;
      if (buf_[head_ + len - 1] == '\r') --len;
      line = std::string_view(buf_.data() + head_, len);
      head_ = tail_;
      consumed_ = buf_stream_pos_ + head_;
      ++lines_;
      return true;
    }
    scan = head_ + scanned;  // fill() moved the data to the front (head_ == 0 now)
  }
}

std::unique_ptr<LineReader> open_range(const std::string& path, const ByteRange& range,
                                       std::size_t chunk_bytes) {
  const std::uint64_t source_start = range.begin > 0 ? range.begin - 1 : 0;
  auto source = std::make_unique<FileRangeSource>(path, source_start, UINT64_MAX);
  return std::make_unique<LineReader>(std::move(source), chunk_bytes, range.begin > 0,
                                      range.end - source_start);
}

std::unique_ptr<LineReader> open_gzip(const std::string& path, std::size_t chunk_bytes) {
  return std::make_unique<LineReader>(std::make_unique<GzipSource>(path, chunk_bytes), chunk_bytes);
}

}  // namespace ecom::io
