#include "ecom/par/comm.hpp"

#include <cstring>
#include <limits>

namespace ecom::par {

void check(int rc, const char* fn) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
  throw MpiError(std::string(fn) + ": " + std::string(text, static_cast<std::size_t>(len)));
}

RecordType::RecordType(std::size_t bytes) {
  if (bytes == 0 || bytes > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw MpiError("RecordType: bad record size");
  check(MPI_Type_contiguous(static_cast<int>(bytes), MPI_BYTE, &type_), "MPI_Type_contiguous");
  check(MPI_Type_commit(&type_), "MPI_Type_commit");
}

RecordType::~RecordType() {
  if (type_ != MPI_DATATYPE_NULL) MPI_Type_free(&type_);
}

Comm::Comm(MPI_Comm c, bool owned) : comm_(c), owned_(owned) {
  check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

Comm Comm::world() { return Comm(MPI_COMM_WORLD, false); }

Comm Comm::dup() const {
  MPI_Comm c = MPI_COMM_NULL;
  check(MPI_Comm_dup(comm_, &c), "MPI_Comm_dup");
  return Comm(c, true);
}

Comm::Comm(Comm&& other) noexcept
    : comm_(other.comm_),
      owned_(other.owned_),
      rank_(other.rank_),
      size_(other.size_),
      observer_(other.observer_) {
  other.comm_ = MPI_COMM_NULL;
  other.owned_ = false;
}

Comm& Comm::operator=(Comm&& other) noexcept {
  if (this != &other) {
    if (owned_ && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    comm_ = other.comm_;
    owned_ = other.owned_;
    rank_ = other.rank_;
    size_ = other.size_;
    observer_ = other.observer_;
    other.comm_ = MPI_COMM_NULL;
    other.owned_ = false;
  }
  return *this;
}

Comm::~Comm() {
  if (owned_ && comm_ != MPI_COMM_NULL) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
}

void Comm::barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier"); }

void Comm::abort(int code) const {
  MPI_Abort(comm_, code);
  std::abort();
}

bool Comm::all_ok(bool ok) {
  int v = ok ? 1 : 0;
  check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LAND, comm_), "MPI_Allreduce");
  return v != 0;
}

void Comm::bcast(std::string& s, int root) {
  std::uint64_t n = s.size();
  bcast(n, root);
  s.resize(n);
  if (n > 0) {
    check(MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, comm_), "MPI_Bcast");
    count_traffic(rank_ == root ? n : 0, rank_ == root ? 0 : n);
  }
}

std::vector<double> Comm::exact_sum(std::span<const double> local) {
  ExactVector acc(local.size());
  acc.add(local);
  return exact_sum(acc);
}

std::vector<double> Comm::exact_sum(const ExactVector& local) {
  return exact_combine(local).values();
}

ExactVector Comm::exact_combine(const ExactVector& local) {
  constexpr int L = ExactAccumulator::kLimbs;
  const std::size_t n = local.size();
  std::vector<std::int64_t> limbs(n * L);
  for (std::size_t i = 0; i < n; ++i) {
    const auto norm = local[i].normalized();
    std::memcpy(&limbs[i * L], norm.data(), sizeof(std::int64_t) * L);
  }
  // Normalised limbs are < 2^32 in magnitude: the integer sum over < 2^31 ranks is exact.
  constexpr std::size_t kChunk = 1 << 24;
  for (std::size_t off = 0; off < limbs.size(); off += kChunk) {
    const std::size_t len = std::min(kChunk, limbs.size() - off);
    check(MPI_Allreduce(MPI_IN_PLACE, limbs.data() + off, static_cast<int>(len), MPI_INT64_T,
                        MPI_SUM, comm_),
          "MPI_Allreduce");
  }
  count_traffic(limbs.size() * 8, limbs.size() * 8);
  ExactVector out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = ExactAccumulator::from_limbs(std::span<const std::int64_t>(&limbs[i * L], L));
  return out;
}

void agree(Comm& comm, const std::string& local_error, ExitCode code) {
  const int mine = local_error.empty() ? comm.size() : comm.rank();
  const int first = comm.allreduce_min(mine);
  if (first == comm.size()) return;
  std::string message = local_error;
  int c = static_cast<int>(code);
  comm.bcast(message, first);
  comm.bcast(c, first);
  Error e(message, static_cast<ExitCode>(c));
  e.set_collective(true);
  throw e;
}

}  // namespace ecom::par
