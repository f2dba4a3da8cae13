#include "ecom/par/file.hpp"

#include <cstdio>
#include <filesystem>
#include <limits>

namespace ecom::par {

namespace {
class File {
 public:
  File(Comm& comm, const std::string& path, int mode) {
    check(MPI_File_open(comm.native(), path.c_str(), mode, MPI_INFO_NULL, &fh_),
          ("MPI_File_open(" + path + ")").c_str());
    MPI_File_set_errhandler(fh_, MPI_ERRORS_RETURN);
  }
  ~File() {
    if (fh_ != MPI_FILE_NULL) MPI_File_close(&fh_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  void close() { check(MPI_File_close(&fh_), "MPI_File_close"); }
  MPI_File get() const { return fh_; }

 private:
  MPI_File fh_ = MPI_FILE_NULL;
};
}  // namespace

void write_ordered(Comm& comm, const std::string& path, std::string_view local,
                   std::string_view header) {
  const std::string tmp = path + ".tmp";
  std::string error;
  if (comm.rank() == 0) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
      error = "cannot write " + path + ": directory " + dir.string() + " does not exist";
  }
  agree(comm, error, ExitCode::usage);
  {
    File f(comm, tmp, MPI_MODE_CREATE | MPI_MODE_WRONLY);
    // Only rank 0's header counts (a caller may hold it on rank 0 alone, e.g. the quarantine of
    // earlier ingests): every rank must agree on its size, or the offsets and the collective
    // set_size differ between ranks (a hang).
    std::uint64_t head = comm.rank() == 0 ? header.size() : 0;
    comm.bcast(head, 0);
    const std::uint64_t mine = local.size();
    const std::uint64_t offset = head + comm.exscan_sum<std::uint64_t>(mine);
    const std::uint64_t total = head + comm.allreduce_sum<std::uint64_t>(mine);
    check(MPI_File_set_size(f.get(), static_cast<MPI_Offset>(total)), "MPI_File_set_size");
    // Collective writes in pieces below 2^31 bytes; every rank joins every round.
    constexpr std::uint64_t kPiece = 1u << 30;
    if (comm.rank() == 0)
      for (std::uint64_t lo = 0; lo < head; lo += kPiece)
        check(MPI_File_write_at(f.get(), static_cast<MPI_Offset>(lo), header.data() + lo,
                                static_cast<int>(std::min(kPiece, head - lo)), MPI_BYTE,
                                MPI_STATUS_IGNORE),
              "MPI_File_write_at");
    const std::uint64_t my_rounds = (mine + kPiece - 1) / kPiece;
    const std::uint64_t rounds = comm.allreduce_max(my_rounds);
    for (std::uint64_t r = 0; r < rounds; ++r) {
      const std::uint64_t lo = std::min(mine, r * kPiece);
      const std::uint64_t len = std::min(kPiece, mine - lo);
      check(MPI_File_write_at_all(f.get(), static_cast<MPI_Offset>(offset + lo), local.data() + lo,
                                  static_cast<int>(len), MPI_BYTE, MPI_STATUS_IGNORE),
            "MPI_File_write_at_all");
    }
    comm.count_traffic(mine, 0);
    f.close();
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
