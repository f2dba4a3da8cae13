#include "ecom/io/sha256.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "ecom/core/error.hpp"

namespace ecom::io {

Sha256::Sha256() {
  auto* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    throw Error("cannot create a SHA-256 context (OpenSSL)");
  }
  ctx_ = ctx;
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, std::size_t n) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n) != 1)
    throw Error("SHA-256 update failed (OpenSSL)");
}

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len) != 1 || len != 32)
    throw Error("SHA-256 final failed (OpenSSL)");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (unsigned i = 0; i < 32; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex_digest();
}

std::string sha256_file(const std::string& path, std::size_t chunk_bytes) {
  FileDigest d(path, chunk_bytes);
  while (d.step()) {
  }
  return d.hex();
}

FileDigest::FileDigest(std::string path, std::size_t chunk_bytes)
    : path_(std::move(path)), chunk_(std::max<std::size_t>(chunk_bytes, 1)) {}

FileDigest::~FileDigest() {
  if (fd_ >= 0) ::close(fd_);
}

bool FileDigest::step() {
  if (done_) return false;
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw InputError("input file " + path_ + ": cannot open: " + std::strerror(errno));
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    sha_ = std::make_unique<Sha256>();
    buf_ = std::make_unique_for_overwrite<char[]>(chunk_);
  }
  ssize_t got = 0;
  do {
    got = ::read(fd_, buf_.get(), chunk_);
  } while (got < 0 && errno == EINTR);
  if (got < 0) throw InputError("input file " + path_ + ": read error: " + std::strerror(errno));
  if (got == 0) {
    hex_ = sha_->hex_digest();
    sha_.reset();
    buf_.reset();
    ::close(fd_);
    fd_ = -1;
    done_ = true;
    return false;
  }
  sha_->update(buf_.get(), static_cast<std::size_t>(got));
  bytes_ += static_cast<std::uint64_t>(got);
  return true;
}

const std::string& FileDigest::hex() const {
  if (!done_) throw Error("FileDigest::hex: " + path_ + " is not hashed yet");
  return hex_;
}

}  // namespace ecom::io
