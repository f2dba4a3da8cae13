#pragma once
// Streaming SHA-256 (OpenSSL EVP) of files: the identity of an ingested file in the manifest.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ecom::io {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t n);
  // 64 lower-case hex digits; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void* ctx_ = nullptr;  // EVP_MD_CTX
};

// SHA-256 of a string (tests) and of a whole file, read in `chunk_bytes` pieces. The file
// version throws InputError ("input file P: cannot open: ...") if it cannot be read.
std::string sha256_hex(std::string_view bytes);
std::string sha256_file(const std::string& path, std::size_t chunk_bytes = 1 << 20);

// The SHA-256 of one file computed in steps, so that a rank can fill the time it would spend
// waiting for others (ingest: while a collective is in flight). Errors as sha256_file.
class FileDigest {
 public:
  explicit FileDigest(std::string path, std::size_t chunk_bytes = 1 << 20);
  ~FileDigest();
  FileDigest(const FileDigest&) = delete;
  FileDigest& operator=(const FileDigest&) = delete;
  // Reads and hashes the next chunk; false once the whole file is hashed (then hex() is ready).
  bool step();
  bool done() const { return done_; }
  std::uint64_t bytes() const { return bytes_; }
  const std::string& path() const { return path_; }
  // 64 lower-case hex digits; only once done().
  const std::string& hex() const;

 private:
  std::string path_;
  std::size_t chunk_;
  int fd_ = -1;
  bool done_ = false;
  std::uint64_t bytes_ = 0;
  std::unique_ptr<Sha256> sha_;
  std::unique_ptr<char[]> buf_;
  std::string hex_;
};

}  // namespace ecom::io
