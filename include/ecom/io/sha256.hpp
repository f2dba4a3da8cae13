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

}  // namespace ecom::io
