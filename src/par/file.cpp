#include "ecom/par/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>

namespace ecom::par {

namespace {
unsigned g_output_mode = kDefaultOutputMode;  // read-only after start-up (set_output_mode)

constexpr std::array<int, 5> kWriteErrnos = {ENOSPC, EDQUOT, EFBIG, EIO, EROFS};

// par::check for file operations: the errno of a failed write (lost in MPI's error class) is
// put in front of MPI's text when it names the cause.
void check_io(int rc, const char* fn) {
  if (rc == MPI_SUCCESS) return;
  const std::string cause = write_errno_text(errno);
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
  std::string message = std::string(fn) + ": " + std::string(text, static_cast<std::size_t>(len));
  throw MpiError(cause.empty() ? message : cause + " (" + message + ")");
}

class File {
 public:
  File(Comm& comm, const std::string& path, int mode) {
    check_io(MPI_File_open(comm.native(), path.c_str(), mode, MPI_INFO_NULL, &fh_),
             ("MPI_File_open(" + path + ")").c_str());
    MPI_File_set_errhandler(fh_, MPI_ERRORS_RETURN);
  }
  // MPI_File_close is collective: while an error unwinds, the other ranks may be elsewhere, so
  // the handle is left to the end of the job (which that error brings) instead.
  ~File() {
    if (fh_ != MPI_FILE_NULL && std::uncaught_exceptions() == 0) MPI_File_close(&fh_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  void close() { check_io(MPI_File_close(&fh_), "MPI_File_close"); }
  MPI_File get() const { return fh_; }

 private:
  MPI_File fh_ = MPI_FILE_NULL;
};
}  // namespace

unsigned output_mode() { return g_output_mode; }
void set_output_mode(unsigned mode) { g_output_mode = mode & 0777u; }

unsigned parse_mode(const std::string& text) {
  std::size_t used = 0;
  unsigned long mode = 0;
  try {
    mode = std::stoul(text, &used, 8);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || mode > 0777)
    throw UserError("--output-mode " + text + ": not an octal mode between 000 and 777");
  return static_cast<unsigned>(mode);
}

std::string create_with_mode(const std::string& path, unsigned mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 0777u);
  if (fd < 0 || ::fchmod(fd, mode & 0777u) != 0) {
    const std::string error = "cannot create " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return error;
  }
  ::close(fd);
  return {};
}

std::string write_errno_text(int err) {
  for (const int e : kWriteErrnos)
    if (err == e) return std::strerror(err);
  return {};
}

Error write_error(const std::string& path, const std::string& detail) {
  const auto names = [&detail](int e) {
    return detail.find(std::strerror(e)) != std::string::npos;
  };
  std::string cause;
  if (names(ENOSPC) || names(EDQUOT)) cause = std::strerror(names(ENOSPC) ? ENOSPC : EDQUOT);
  if (cause.empty()) {  // a full disk may surface as another error (e.g. EIO from sendfile)
    const auto dir = std::filesystem::path(path).parent_path();
    struct statvfs fs {};
    if (::statvfs(dir.empty() ? "." : dir.c_str(), &fs) == 0 && fs.f_bavail == 0)
      cause = std::strerror(ENOSPC);
  }
  for (const int e : kWriteErrnos)
    if (cause.empty() && names(e)) cause = std::strerror(e);
  return Error(
      "cannot write " + path + ": " + (cause.empty() ? detail : cause + " (" + detail + ")"),
      ExitCode::comm);
}

void write_file(const std::string& path, std::string_view text, unsigned mode) {
  const std::string tmp = path + ".tmp";
  std::string error = create_with_mode(tmp, mode);
  if (error.empty()) {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CLOEXEC);
    std::size_t done = 0;
    while (fd >= 0 && done < text.size()) {
      const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    if (fd < 0 || done < text.size()) error = std::strerror(errno);
    if (fd >= 0 && ::close(fd) != 0 && error.empty()) error = std::strerror(errno);
    if (error.empty() && ::rename(tmp.c_str(), path.c_str()) != 0)
      error = "cannot rename " + tmp + ": " + std::strerror(errno);
  }
  if (error.empty()) return;
  ::unlink(tmp.c_str());
  throw write_error(path, error);
}

void write_ordered(Comm& comm, const std::string& path, std::string_view local,
                   std::string_view header, unsigned mode) {
  const std::string tmp = path + ".tmp";
  std::string error;
  ExitCode code = ExitCode::usage;
  if (comm.rank() == 0) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
      error = "cannot write " + path + ": directory " + dir.string() + " does not exist";
    } else if (error = create_with_mode(tmp, mode); !error.empty()) {
      error = write_error(path, error).what();  // created here so that its mode is exact
      code = ExitCode::comm;
    }
  }
  agree(comm, error, code);
  try {
    File f(comm, tmp, MPI_MODE_WRONLY);
    // Only rank 0's header counts (a caller may hold it on rank 0 alone, e.g. the quarantine of
    // earlier ingests): every rank must agree on its size, or the offsets and the collective
    // set_size differ between ranks (a hang).
    std::uint64_t head = comm.rank() == 0 ? header.size() : 0;
    comm.bcast(head, 0);
    const std::uint64_t mine = local.size();
    const std::uint64_t offset = head + comm.exscan_sum<std::uint64_t>(mine);
    const std::uint64_t total = head + comm.allreduce_sum<std::uint64_t>(mine);
    check_io(MPI_File_set_size(f.get(), static_cast<MPI_Offset>(total)), "MPI_File_set_size");
    // Collective writes in pieces below 2^31 bytes; every rank joins every round.
    constexpr std::uint64_t kPiece = 1u << 30;
    if (comm.rank() == 0)
      for (std::uint64_t lo = 0; lo < head; lo += kPiece)
        check_io(MPI_File_write_at(f.get(), static_cast<MPI_Offset>(lo), header.data() + lo,
                                   static_cast<int>(std::min(kPiece, head - lo)), MPI_BYTE,
                                   MPI_STATUS_IGNORE),
                 "MPI_File_write_at");
    const std::uint64_t my_rounds = (mine + kPiece - 1) / kPiece;
    const std::uint64_t rounds = comm.allreduce_max(my_rounds);
    for (std::uint64_t r = 0; r < rounds; ++r) {
      const std::uint64_t lo = std::min(mine, r * kPiece);
      const std::uint64_t len = std::min(kPiece, mine - lo);
      check_io(
          MPI_File_write_at_all(f.get(), static_cast<MPI_Offset>(offset + lo), local.data() + lo,
                                static_cast<int>(len), MPI_BYTE, MPI_STATUS_IGNORE),
          "MPI_File_write_at_all");
    }
    comm.count_traffic(mine, 0);
    f.close();
  } catch (const Error& e) {
    // This rank alone may have failed: no collective step from here (see write_ordered's
    // contract); the temporary file goes now.
    if (e.collective()) throw;
    ::unlink(tmp.c_str());
    throw write_error(path, e.what());
  }
  comm.barrier();
  if (comm.rank() == 0) {
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) error = "cannot rename " + tmp + " to " + path + ": " + ec.message();
  }
  agree(comm, error, ExitCode::comm);
}

}  // namespace ecom::par
