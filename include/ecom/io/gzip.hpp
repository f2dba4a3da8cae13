#pragma once
// Streaming gzip decompression, multi-member aware. Errors are InputErrors naming the file.
// Decoder: ISA-L's igzip when available (see gzip_backend()), else zlib; same results and
// messages either way.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ecom::io {

// "isa-l" or "zlib": the decoder GzipReader uses now. ISA-L is used when libisal-dev was found
// at build time and libisal.so.2 loads; ECOM_GZIP=zlib in the environment forces zlib.
std::string_view gzip_backend();

class GzipReader {
 public:
  // Opens `path` (InputError if it cannot be opened). `chunk_bytes` of compressed input are read
  // at a time.
  explicit GzipReader(std::string path, std::size_t chunk_bytes = 1 << 20);
  ~GzipReader();
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Decompresses up to `n` bytes into `out`; returns the number written, 0 only at the end of
  // the data. Concatenated gzip members are read as one stream. Throws InputError
  // ("input file P: truncated gzip data" / "input file P: corrupt gzip data (...)").
  std::size_t read(char* out, std::size_t n);
  // Compressed bytes consumed so far (for progress).
  std::uint64_t compressed_bytes_read() const { return compressed_read_; }
  const std::string& path() const { return path_; }

 private:
  bool refill();
  void step();         // one decoding call
  void next_member();  // resets the decoder for the next gzip member
  [[noreturn]] void corrupt(const std::string& detail) const;

  std::string path_;
  int fd_ = -1;
  struct State;
  std::unique_ptr<State> z_;
  std::vector<unsigned char> in_;
  std::uint64_t compressed_read_ = 0;
  bool eof_ = false;         // no more compressed input
  bool member_end_ = false;  // the last member ended (Z_STREAM_END) and no new one started yet
  bool done_ = false;
};

}  // namespace ecom::io
