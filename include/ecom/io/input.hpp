#pragma once
// Input files: which rank reads what (pure functions), and line readers over a plain byte range
// or a whole gzip file, in bounded chunks (memory: one chunk plus the longest line).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecom/io/gzip.hpp"

namespace ecom::io {

// True for names ending in ".gz".
bool is_gzip_name(std::string_view path);

// Expands shell-style patterns (*, ?, [...]) with glob(3), sorted; a name without pattern
// characters is kept as given (even if missing: the reader reports it). A pattern that matches
// nothing is a UserError. Repeated names are kept once (first occurrence).
std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns);

// A piece of one file: bytes [begin, end) of file `file` (an index into the caller's list).
struct ByteRange {
  std::size_t file = 0;
  std::uint64_t begin = 0, end = 0;
  bool operator==(const ByteRange&) const = default;
};

// Rank `rank` of `ranks` gets [rank*S/ranks, (rank+1)*S/ranks) of the concatenation of files
// with `sizes` (S = sum), cut at file boundaries. Empty pieces are left out.
std::vector<ByteRange> split_bytes(std::span<const std::uint64_t> sizes, int ranks, int rank);

// Whole files to ranks, largest first, each to the rank with the least bytes so far (ties: the
// lower rank; equal sizes: the lower file index first). Returns the rank of each file.
std::vector<int> assign_whole_files(std::span<const std::uint64_t> sizes, int ranks);

// A source of bytes read sequentially.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to n bytes into out; 0 at the end.
  virtual std::size_t read(char* out, std::size_t n) = 0;
  // Bytes of the underlying file consumed so far (compressed bytes for gzip).
  virtual std::uint64_t file_bytes_read() const = 0;
};

// Bytes [begin, end) of a plain file (end clamped to the file size). InputError if unreadable.
class FileRangeSource : public ByteSource {
 public:
  FileRangeSource(const std::string& path, std::uint64_t begin, std::uint64_t end);
  ~FileRangeSource() override;
  FileRangeSource(const FileRangeSource&) = delete;
  FileRangeSource& operator=(const FileRangeSource&) = delete;
  std::size_t read(char* out, std::size_t n) override;
  std::uint64_t file_bytes_read() const override { return pos_ - begin_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t begin_, pos_, end_;
};

// A whole gzip file, decoded ahead by a thread of its own into a few blocks of `chunk_bytes`, so
// that decoding overlaps with the caller's parsing (the rank that owns a .csv.gz file otherwise
// decodes and parses in turn). The thread calls no MPI. Errors (truncated or corrupt data) are
// rethrown by read() at the point of the stream where they occurred; opening errors by the
// constructor.
class GzipSource : public ByteSource {
 public:
  explicit GzipSource(const std::string& path, std::size_t chunk_bytes = 1 << 20);
  ~GzipSource() override;
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;
  std::size_t read(char* out, std::size_t n) override;
  std::uint64_t file_bytes_read() const override;

 private:
  struct Shared;
  std::unique_ptr<Shared> shared_;
};

// In-memory bytes (tests).
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string bytes, std::uint64_t begin = 0, std::uint64_t end = UINT64_MAX)
      : bytes_(std::move(bytes)), pos_(begin), end_(std::min<std::uint64_t>(end, bytes_.size())) {}
  std::size_t read(char* out, std::size_t n) override;
  std::uint64_t file_bytes_read() const override { return read_; }

 private:
  std::string bytes_;
  std::uint64_t pos_, end_, read_ = 0;
};

// Splits a byte stream into lines (without '\n' and without one trailing '\r').
//
// For a byte range [begin, end) of a file, construct the source from max(begin-1, 0) and pass
// `skip_partial = begin > 0` and `start_limit = end - source_start`: the reader then yields
// exactly the lines whose first byte lies in [begin, end) — each line of a file belongs to
// exactly one rank — reading past `end` only to finish the last one. The source must then
// extend to the end of the file. A final line without '\n' is yielded too.
class LineReader {
 public:
  LineReader(std::unique_ptr<ByteSource> source, std::size_t chunk_bytes, bool skip_partial = false,
             std::uint64_t start_limit = UINT64_MAX);
  // The next line; false at the end. The view stays valid until the next call.
  bool next(std::string_view& line);
  // Lines yielded so far.
  std::uint64_t lines() const { return lines_; }
  std::uint64_t file_bytes_read() const { return source_->file_bytes_read(); }
  // Total bytes of the stream seen so far (decompressed for gzip).
  std::uint64_t stream_bytes() const { return consumed_; }
  // Bytes of the line buffer: one chunk, more only while a line longer than that is read.
  std::size_t buffer_bytes() const { return buf_.size(); }

 private:
  bool fill();  // reads more; false at the end of the source

  std::unique_ptr<ByteSource> source_;
  std::vector<char> buf_;
  std::size_t chunk_;
  std::size_t head_ = 0, tail_ = 0;   // unread bytes are buf_[head_, tail_)
  std::uint64_t buf_stream_pos_ = 0;  // stream offset of buf_[0]
  std::uint64_t consumed_ = 0;        // stream offset after the last yielded line
  std::uint64_t start_limit_;
  std::uint64_t lines_ = 0;
  bool skip_partial_;
  bool eof_ = false;
};

// A line reader for one piece of input: a plain byte range, or a whole gzip file.
std::unique_ptr<LineReader> open_range(const std::string& path, const ByteRange& range,
                                       std::size_t chunk_bytes);
std::unique_ptr<LineReader> open_gzip(const std::string& path, std::size_t chunk_bytes);

}  // namespace ecom::io
