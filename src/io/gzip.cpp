#include "ecom/io/gzip.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "ecom/core/error.hpp"

// ISA-L's inflate (igzip) decodes gzip 3-5x faster than zlib. It is used when its header was
// found at build time (Debian: libisal-dev) and libisal.so.2 loads at run time; otherwise, or
// with ECOM_GZIP=zlib in the environment, zlib. Loading it at run time keeps it optional
// without a build-system dependency.
#if __has_include(<isa-l/igzip_lib.h>) && __has_include(<dlfcn.h>)
#define ECOM_HAVE_ISAL 1
#include <dlfcn.h>
#include <isa-l/igzip_lib.h>
#else
#define ECOM_HAVE_ISAL 0
#endif

namespace ecom::io {

namespace {
#if ECOM_HAVE_ISAL
struct IsalApi {
  void (*init)(inflate_state*) = nullptr;
  void (*reset)(inflate_state*) = nullptr;
  int (*inflate)(inflate_state*) = nullptr;
};

// Function pointers from dlsym without an object-to-function pointer cast (-Wpedantic).
template <class F>
bool load_symbol(void* lib, const char* name, F& out) {
  void* p = ::dlsym(lib, name);
  if (p == nullptr) return false;
  static_assert(sizeof(F) == sizeof(void*));
  std::memcpy(&out, &p, sizeof(F));
  return true;
}

const IsalApi* isal_api() {
  static const IsalApi* api = []() -> const IsalApi* {
    void* lib = ::dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return nullptr;
    static IsalApi a;
    if (!load_symbol(lib, "isal_inflate_init", a.init) ||
        !load_symbol(lib, "isal_inflate_reset", a.reset) ||
        !load_symbol(lib, "isal_inflate", a.inflate))
      return nullptr;
    return &a;
  }();
  return api;
}
#endif

bool want_isal() {
#if ECOM_HAVE_ISAL
  const char* env = std::getenv("ECOM_GZIP");
  if (env != nullptr && std::string_view(env) == "zlib") return false;
  return isal_api() != nullptr;
#else
  return false;
#endif
}
}  // namespace

std::string_view gzip_backend() { return want_isal() ? "isa-l" : "zlib"; }

struct GzipReader::State {
  bool isal = false;
  z_stream zs{};
  bool zs_initialised = false;
#if ECOM_HAVE_ISAL
  std::unique_ptr<inflate_state> is;
#endif

  // The common view of both decoders.
  const unsigned char* next_in() const {
#if ECOM_HAVE_ISAL
    if (isal) return is->next_in;
#endif
    return zs.next_in;
  }
  std::size_t avail_in() const {
#if ECOM_HAVE_ISAL
    if (isal) return is->avail_in;
#endif
    return zs.avail_in;
  }
  void set_in(unsigned char* p, std::size_t n) {
#if ECOM_HAVE_ISAL
    if (isal) {
      is->next_in = p;
      is->avail_in = static_cast<std::uint32_t>(n);
      return;
    }
#endif
    zs.next_in = p;
    zs.avail_in = static_cast<uInt>(n);
  }
  void set_out(char* p, std::size_t n) {
#if ECOM_HAVE_ISAL
    if (isal) {
      is->next_out = reinterpret_cast<std::uint8_t*>(p);
      is->avail_out = static_cast<std::uint32_t>(n);
      return;
    }
#endif
    zs.next_out = reinterpret_cast<Bytef*>(p);
    zs.avail_out = static_cast<uInt>(n);
  }
  std::size_t avail_out() const {
#if ECOM_HAVE_ISAL
    if (isal) return is->avail_out;
#endif
    return zs.avail_out;
  }
};

GzipReader::GzipReader(std::string path, std::size_t chunk_bytes)
    : path_(std::move(path)), z_(std::make_unique<State>()), in_(chunk_bytes) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw InputError("input file " + path_ + ": cannot open: " + std::strerror(errno));
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#if ECOM_HAVE_ISAL
  if (want_isal()) {
    z_->isal = true;
    z_->is = std::make_unique<inflate_state>();
    isal_api()->init(z_->is.get());
    z_->is->crc_flag = ISAL_GZIP;  // gzip wrapper: header parsed, CRC-32 and size checked
    return;
  }
#endif
  // 16 + MAX_WBITS: gzip wrapper only.
  if (inflateInit2(&z_->zs, 16 + MAX_WBITS) != Z_OK) {
    ::close(fd_);
    throw Error("zlib inflateInit2 failed");
  }
  z_->zs_initialised = true;
}

GzipReader::~GzipReader() {
  if (z_ && z_->zs_initialised) inflateEnd(&z_->zs);
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
  z_->set_in(in_.data(), static_cast<std::size_t>(got));
  return true;
}

// One decoding step; sets member_end_ when a member (its trailer included) is complete.
void GzipReader::step() {
#if ECOM_HAVE_ISAL
  if (z_->isal) {
    inflate_state& s = *z_->is;
    const int rc = isal_api()->inflate(&s);
    if (rc < 0) {
      switch (rc) {
        case ISAL_INVALID_WRAPPER:
        case ISAL_UNSUPPORTED_METHOD:
          corrupt("incorrect header check");
        case ISAL_INCORRECT_CHECKSUM:
          corrupt("incorrect data check");
        case ISAL_INVALID_BLOCK:
          corrupt("invalid block type");
        case ISAL_INVALID_SYMBOL:
          corrupt("invalid code");
        case ISAL_INVALID_LOOKBACK:
          corrupt("invalid distance too far back");
        default:
          corrupt("isa-l error " + std::to_string(rc));
      }
    }
    if (s.block_state == ISAL_BLOCK_FINISH) member_end_ = true;
    return;
  }
#endif
  z_stream& zs = z_->zs;
  const int rc = inflate(&zs, Z_NO_FLUSH);
  if (rc == Z_STREAM_END) {
    member_end_ = true;
  } else if (rc == Z_BUF_ERROR) {
    // No progress possible: needs more input (handled by the caller) — loop again.
    if (zs.avail_in != 0) corrupt("no progress");
  } else if (rc != Z_OK) {
    corrupt(zs.msg != nullptr ? zs.msg : ("zlib error " + std::to_string(rc)));
  }
}

void GzipReader::next_member() {
#if ECOM_HAVE_ISAL
  if (z_->isal) {
    inflate_state& s = *z_->is;
    std::uint8_t* in = s.next_in;
    const std::uint32_t avail_in = s.avail_in;
    std::uint8_t* out = s.next_out;
    const std::uint32_t avail_out = s.avail_out;
    isal_api()->reset(&s);
    s.crc_flag = ISAL_GZIP;
    s.next_in = in;
    s.avail_in = avail_in;
    s.next_out = out;
    s.avail_out = avail_out;
    return;
  }
#endif
  if (inflateReset(&z_->zs) != Z_OK) corrupt("inflateReset failed");
}

std::size_t GzipReader::read(char* out, std::size_t n) {
  if (done_ || n == 0) return 0;
  State& z = *z_;
  const std::size_t want = std::min<std::size_t>(n, 1u << 30);
  z.set_out(out, want);
  while (z.avail_out() > 0) {
    if (z.avail_in() == 0 && !refill()) {
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
      if (z.next_in()[0] != 0x1f) {
        // Trailing zero padding (as left by some tools) is ignored, like gzip does.
        bool zeros = true;
        for (std::size_t i = 0; i < z.avail_in(); ++i)
          if (z.next_in()[i] != 0) zeros = false;
        if (zeros) {
          z.set_in(in_.data(), 0);
          continue;
        }
        corrupt("trailing garbage after a gzip member");
      }
      next_member();
      member_end_ = false;
    }
    const std::size_t in_before = z.avail_in(), out_before = z.avail_out();
    step();
    // ISA-L consumes all the input it is given before asking for more; no progress with input
    // left and room for output means a decoder that cannot go on.
    if (z.isal && !member_end_ && z.avail_in() == in_before && z.avail_out() == out_before &&
        in_before > 0)
      corrupt("no progress");
  }
  return want - z.avail_out();
}

}  // namespace ecom::io
