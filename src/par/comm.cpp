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
      stage_(std::move(other.stage_)),
      traffic_(std::move(other.traffic_)) {
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
    stage_ = std::move(other.stage_);
    traffic_ = std::move(other.traffic_);
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

void Comm::exchange_round_plan(std::span<const std::uint64_t> counts, std::size_t record_bytes,
                               std::size_t budget_bytes, std::vector<std::uint64_t>& recv_counts,
                               std::uint64_t& per_dest, std::uint64_t& rounds) {
  const auto p = static_cast<std::uint64_t>(size_);
  recv_counts = alltoall<std::uint64_t>(counts);
  // At most this many records to each destination per round; also keeps every count and
  // displacement of one round below 2^31.
  const std::uint64_t by_budget = budget_bytes / (p * record_bytes);
  const std::uint64_t by_int = static_cast<std::uint64_t>(std::numeric_limits<int>::max()) / p;
  per_dest = std::max<std::uint64_t>(1, std::min(by_budget, by_int));
  std::uint64_t my_rounds = 0;
  for (std::uint64_t d = 0; d < p; ++d)
    my_rounds = std::max(my_rounds, (counts[d] + per_dest - 1) / per_dest);
  // Receive side is covered too: a sender's rounds bound what it sends to us.
  rounds = allreduce_max<std::uint64_t>(my_rounds);
}

void Comm::alltoallv_records(const std::byte* send, const std::vector<int>& scounts,
                             const std::vector<int>& sdispl, std::byte* recv,
                             const std::vector<int>& rcounts, const std::vector<int>& rdispl,
                             std::size_t record_bytes) {
  RecordType rt(record_bytes);
  check(MPI_Alltoallv(send, scounts.data(), sdispl.data(), rt.get(), recv, rcounts.data(),
                      rdispl.data(), rt.get(), comm_),
        "MPI_Alltoallv");
  std::uint64_t s = 0, r = 0;
  for (std::size_t d = 0; d < scounts.size(); ++d) {
    s += static_cast<std::uint64_t>(scounts[d]);
    r += static_cast<std::uint64_t>(rcounts[d]);
  }
  count_traffic(s * record_bytes, r * record_bytes);
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

#include <chrono>
#include <cstdlib>
#include <thread>
#include <utility>

#include "ecom/core/signals.hpp"

namespace ecom::par {
namespace {
// Test hook: ECOM_TEST_STOP_PAUSE=S makes every rank sleep S seconds at each stop point, so that
// the checkpoint tests can signal a run in a known step however fast the machine is.
double stop_pause_seconds() {
  const char* env = std::getenv("ECOM_TEST_STOP_PAUSE");
  if (env == nullptr) return 0;
  char* end = nullptr;
  const double s = std::strtod(env, &end);
  return end != env && s > 0 && s < 60 ? s : 0;
}
}  // namespace

bool stop_requested(Comm& comm) {
  static const double pause = stop_pause_seconds();
  if (pause > 0) std::this_thread::sleep_for(std::chrono::duration<double>(pause));
  return !comm.all_ok(!stop_signalled());
}

void test_throw_point(int rank, const std::string& point) {
  // ECOM_TEST_THROW_ON_RANK=R[:POINT], read once; a malformed value is ignored (no rank -1).
  static const std::pair<int, std::string> target = [] {
    const char* env = std::getenv("ECOM_TEST_THROW_ON_RANK");
    if (env == nullptr) return std::pair<int, std::string>(-1, "");
    const std::string v(env);
    const auto colon = v.find(':');
    char* end = nullptr;
    const long r = std::strtol(v.c_str(), &end, 10);
    if (end == v.c_str() || r < 0 || (colon != std::string::npos && end != v.c_str() + colon) ||
        (colon == std::string::npos && *end != '\0'))
      return std::pair<int, std::string>(-1, "");
    return std::pair<int, std::string>(static_cast<int>(r),
                                       colon == std::string::npos ? "start" : v.substr(colon + 1));
  }();
  if (rank == target.first && point == target.second)
    throw Error("test hook ECOM_TEST_THROW_ON_RANK: rank " + std::to_string(rank) +
                " fails alone at '" + point + "'");
}

void Comm::set_stage(const std::string& stage) {
  stage_ = stage;
  test_throw_point(rank_, stage);
}
}  // namespace ecom::par
