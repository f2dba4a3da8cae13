#include "ecom/io/gzip.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "ecom/core/error.hpp"

namespace ecom::io {

struct GzipReader::State {
  z_stream zs{};
  bool initialised = false;
};

GzipReader::GzipReader(std::string path, std::size_t chunk_bytes)
    : path_(std::move(path)), z_(std::make_unique<State>()), in_(chunk_bytes) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw InputError("input file " + path_ + ": cannot open: " + std::strerror(errno));
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  // 16 + MAX_WBITS: gzip wrapper only.
  if (inflateInit2(&z_->zs, 16 + MAX_WBITS) != Z_OK) {
    ::close(fd_);
    throw Error("zlib inflateInit2 failed");
  }
  z_->initialised = true;
}

GzipReader::~GzipReader() {
  if (z_ && z_->initialised) inflateEnd(&z_->zs);
  if (fd_ >= 0) ::close(fd_);
}

void GzipReader::corrupt(const std::string& detail) const {
  throw InputError("input file " + path_ + ": corrupt gzip data (" + detail + ")");
}

bool GzipReader::refill() {
  if (eof_) return false;
  ssize_t got;
  do {
    got = ::read(fd_, in_.data(), in_.size());
  } while (got < 0 && errno == EINTR);
  if (got < 0) throw InputError("input file " + path_ + ": read error: " + std::strerror(errno));
  if (got == 0) {
    eof_ = true;
    return false;
  }
  compressed_read_ += static_cast<std::uint64_t>(got);
  z_->zs.next_in = in_.data();
  z_->zs.avail_in = static_cast<uInt>(got);
  return true;
}

std::size_t GzipReader::read(char* out, std::size_t n) {
  if (done_ || n == 0) return 0;
  z_stream& zs = z_->zs;
  zs.next_out = reinterpret_cast<Bytef*>(out);
  zs.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
  const uInt want = zs.avail_out;
  while (zs.avail_out > 0) {
    if (zs.avail_in == 0 && !refill()) {
      // End of the compressed input: fine only between members (and not for an empty file).
      if (member_end_ && compressed_read_ > 0) {
        done_ = true;
        break;
      }
      if (compressed_read_ == 0) break;  // empty file: no data (the caller reports "empty")
      throw InputError("input file " + path_ + ": truncated gzip data");
    }
    if (member_end_) {
      // Another member follows (multi-member gzip): it must start with the gzip magic.
      if (zs.next_in[0] != 0x1f) {
        // Trailing zero padding (as left by some tools) is ignored, like gzip does.
        bool zeros = true;
        for (uInt i = 0; i < zs.avail_in; ++i)
          if (zs.next_in[i] != 0) zeros = false;
        if (zeros) {
          zs.avail_in = 0;
          continue;
        }
        corrupt("trailing garbage after a gzip member");
      }
      if (inflateReset(&zs) != Z_OK) corrupt("inflateReset failed");
      member_end_ = false;
    }
    const int rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      member_end_ = true;
    } else if (rc == Z_BUF_ERROR) {
      // No progress possible: needs more input (handled above) — loop again.
      if (zs.avail_in != 0) corrupt("no progress");
    } else if (rc != Z_OK) {
      corrupt(zs.msg != nullptr ? zs.msg : ("zlib error " + std::to_string(rc)));
    }
  }
  return want - zs.avail_out;
}

}  // namespace ecom::io
