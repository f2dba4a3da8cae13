#pragma once
// The MPI layer: a RAII communicator with typed, checked collectives. Every MPI call of the
// program lives in par/. Errors are returned (MPI_ERRORS_RETURN) and turned into ecom::MpiError
// carrying the function name and MPI_Error_string.
#include <mpi.h>

#include <algorithm>
#include <complex>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/par/exact_sum.hpp"
#include "ecom/par/observer.hpp"

namespace ecom::par {

// Throws MpiError("MPI_<fn>: <MPI_Error_string>") unless rc == MPI_SUCCESS.
void check(int rc, const char* fn);

template <class T>
concept Trivial = std::is_trivially_copyable_v<T>;

template <class T>
concept Arithmetic = std::is_arithmetic_v<T>;

template <Arithmetic T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, bool>)
    return MPI_CXX_BOOL;
  else if constexpr (std::is_same_v<T, char>)
    return MPI_CHAR;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 1)
    return MPI_INT8_T;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 2)
    return MPI_INT16_T;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 4)
    return MPI_INT32_T;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 8)
    return MPI_INT64_T;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 1)
    return MPI_UINT8_T;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 2)
    return MPI_UINT16_T;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 4)
    return MPI_UINT32_T;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 8)
    return MPI_UINT64_T;
  else
    static_assert(sizeof(T) == 0, "no MPI type for T");
}

// A committed contiguous datatype of `bytes` bytes (one record), freed on destruction.
class RecordType {
 public:
  explicit RecordType(std::size_t bytes);
  ~RecordType();
  RecordType(const RecordType&) = delete;
  RecordType& operator=(const RecordType&) = delete;
  MPI_Datatype get() const { return type_; }

 private:
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
};

class Comm {
 public:
  // MPI_COMM_WORLD, borrowed (never freed), with MPI_ERRORS_RETURN set.
  static Comm world();
  // An owned duplicate (freed on destruction).
  Comm dup() const;

  Comm(Comm&& other) noexcept;
  Comm& operator=(Comm&& other) noexcept;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  ~Comm();

  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm native() const { return comm_; }

  void barrier() const;
  [[noreturn]] void abort(int code) const;

  // ---- traffic accounting -------------------------------------------------------------
  // The observer (owned by a Context) that transfers are reported to; none: nothing is counted.
  // A dup() starts without one.
  void attach(TrafficObserver* observer) { observer_ = observer; }
  TrafficObserver* observer() const { return observer_; }
  void count_traffic(std::uint64_t sent, std::uint64_t received) {
    if (observer_ != nullptr) observer_->count(sent, received);
  }

  // ---- reductions (plain floating point: for reporting, not for model sums) ------------
  template <Arithmetic T>
  void allreduce_sum(std::span<T> values) {
    allreduce(values, MPI_SUM);
  }
  template <Arithmetic T>
  void allreduce_min(std::span<T> values) {
    allreduce(values, MPI_MIN);
  }
  template <Arithmetic T>
  void allreduce_max(std::span<T> values) {
    allreduce(values, MPI_MAX);
  }
  template <Arithmetic T>
  T allreduce_sum(T v) {
    allreduce(std::span<T>(&v, 1), MPI_SUM);
    return v;
  }
  template <Arithmetic T>
  T allreduce_min(T v) {
    allreduce(std::span<T>(&v, 1), MPI_MIN);
    return v;
  }
  template <Arithmetic T>
  T allreduce_max(T v) {
    allreduce(std::span<T>(&v, 1), MPI_MAX);
    return v;
  }
  // allreduce_max that lets a rank use the time it would spend waiting for slower ranks: while
  // the reduction is in flight, calls idle() between tests of its completion until idle()
  // returns false (nothing left to do), then waits. An exception from idle() is rethrown once
  // the reduction is complete (every rank still finishes the collective).
  template <Arithmetic T, class Idle>
  void allreduce_max_while(std::span<T> values, Idle&& idle) {
    if (values.empty()) return;
    MPI_Request req = MPI_REQUEST_NULL;
    check(MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()),
                         mpi_type<T>(), MPI_MAX, comm_, &req),
          "MPI_Iallreduce");
    std::exception_ptr failure;
    for (bool busy = true; busy;) {
      int done = 0;
      check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done != 0) break;
      try {
        busy = idle();
      } catch (...) {
        failure = std::current_exception();
        busy = false;
      }
      if (!busy) check(MPI_Wait(&req, MPI_STATUS_IGNORE), "MPI_Wait");
    }
    count_traffic(values.size_bytes(), values.size_bytes());
    if (failure) std::rethrow_exception(failure);
  }
  // True on every rank iff `ok` is true on every rank. Use before a collective that must not
  // start when one rank has failed.
  bool all_ok(bool ok);

  // Exclusive prefix sum over ranks (rank 0 gets 0).
  template <Arithmetic T>
  T exscan_sum(T v) {
    T out{};
    check(MPI_Exscan(&v, &out, 1, mpi_type<T>(), MPI_SUM, comm_), "MPI_Exscan");
    if (rank_ == 0) out = T{};
    count_traffic(sizeof(T), sizeof(T));
    return out;
  }

  // ---- exact sums (bit-identical for any number of ranks) -----------------------------
  // Sums one term per rank per index exactly.
  std::vector<double> exact_sum(std::span<const double> local);
  // Combines accumulators across ranks exactly and returns the rounded sums.
  std::vector<double> exact_sum(const ExactVector& local);
  ExactVector exact_combine(const ExactVector& local);

  // ---- gathers and broadcasts ---------------------------------------------------------
  template <Trivial T>
  std::vector<T> allgather(const T& v) {
    std::vector<T> out(static_cast<std::size_t>(size_));
    check(MPI_Allgather(&v, sizeof(T), MPI_BYTE, out.data(), sizeof(T), MPI_BYTE, comm_),
          "MPI_Allgather");
    count_traffic(sizeof(T), sizeof(T) * static_cast<std::uint64_t>(size_));
    return out;
  }
  // Concatenation of every rank's `local` in rank order (total must stay below 2^31 records).
  template <Trivial T>
  std::vector<T> allgatherv(std::span<const T> local) {
    auto counts = allgather<long long>(static_cast<long long>(local.size()));
    std::vector<int> rc(counts.size()), displ(counts.size());
    long long total = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      displ[i] = static_cast<int>(total);
      rc[i] = static_cast<int>(counts[i]);
      total += counts[i];
    }
    if (total >= (1LL << 31)) throw MpiError("allgatherv: more than 2^31 records");
    std::vector<T> out(static_cast<std::size_t>(total));
    RecordType rt(sizeof(T));
    check(MPI_Allgatherv(local.data(), static_cast<int>(local.size()), rt.get(), out.data(),
                         rc.data(), displ.data(), rt.get(), comm_),
          "MPI_Allgatherv");
    count_traffic(local.size_bytes(), static_cast<std::uint64_t>(total) * sizeof(T));
    return out;
  }
  template <Trivial T>
  void bcast(std::span<T> values, int root) {
    if (values.empty()) return;
    RecordType rt(sizeof(T));
    check(MPI_Bcast(values.data(), static_cast<int>(values.size()), rt.get(), root, comm_),
          "MPI_Bcast");
    count_traffic(rank_ == root ? values.size_bytes() : 0, rank_ == root ? 0 : values.size_bytes());
  }
  template <Trivial T>
  void bcast(T& value, int root) {
    bcast(std::span<T>(&value, 1), root);
  }
  void bcast(std::string& s, int root);
  template <Trivial T>
  void bcast(std::vector<T>& v, int root) {
    std::uint64_t n = v.size();
    bcast(n, root);
    v.resize(n);
    bcast(std::span<T>(v), root);
  }

  // ---- all-to-all ---------------------------------------------------------------------
  // One MPI_Alltoall of one value per destination.
  template <Trivial T>
  std::vector<T> alltoall(std::span<const T> per_dest) {
    std::vector<T> out(static_cast<std::size_t>(size_));
    check(
        MPI_Alltoall(per_dest.data(), sizeof(T), MPI_BYTE, out.data(), sizeof(T), MPI_BYTE, comm_),
        "MPI_Alltoall");
    count_traffic(per_dest.size_bytes(), out.size() * sizeof(T));
    return out;
  }

  // Chunked all-to-all for fixed-size records. `records` must be grouped by destination rank
  // (all records for rank 0 first, then rank 1, ...) with `counts[d]` records for rank d.
  // Runs in rounds: in each round this rank sends at most max(1, budget/(P*sizeof(T))) records
  // to each destination, so a round sends and receives at most about `budget_bytes`, and no
  // MPI count or displacement reaches 2^31. Every rank runs the same number of rounds.
  // Returns the records received, ordered by source rank, and within a source in send order.
  template <Trivial T>
  std::vector<T> exchange_grouped(std::span<const T> records, std::span<const std::uint64_t> counts,
                                  std::size_t budget_bytes) {
    std::vector<T> out;
    exchange_bytes(reinterpret_cast<const std::byte*>(records.data()), sizeof(T), counts, {},
                   budget_bytes, [&out](std::uint64_t total) {
                     out.resize(total);
                     return reinterpret_cast<std::byte*>(out.data());
                   });
    return out;
  }

  // exchange_grouped without copies on either side: the records for rank d are the counts[d]
  // records at base[displs[d]...] (in any layout), and what arrives is written to room(total),
  // which returns uninitialised room for the `total` records this rank receives (same order as
  // exchange_grouped).
  template <Trivial T, class Room>
  void exchange_into(const T* base, std::span<const std::uint64_t> counts,
                     std::span<const std::uint64_t> displs, std::size_t budget_bytes, Room&& room) {
    if (displs.size() != counts.size())
      throw Error("exchange_into: displs.size() != counts.size()");
    exchange_bytes(reinterpret_cast<const std::byte*>(base), sizeof(T), counts, displs,
                   budget_bytes,
                   [&](std::uint64_t total) { return reinterpret_cast<std::byte*>(room(total)); });
  }

  // Sends each record to rank dest_of(record) (0 <= dest < size()) via exchange_grouped.
  // Records keep their relative order per (source, destination).
  template <Trivial T, class DestOf>
  std::vector<T> exchange(std::span<const T> records, DestOf&& dest_of, std::size_t budget_bytes) {
    const auto p = static_cast<std::size_t>(size_);
    std::vector<std::uint64_t> counts(p, 0);
    std::vector<int> dest(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      const int d = dest_of(records[i]);
      dest[i] = d;
      ++counts[static_cast<std::size_t>(d)];
    }
    std::vector<std::uint64_t> pos(p, 0);
    for (std::size_t d = 1; d < p; ++d) pos[d] = pos[d - 1] + counts[d - 1];
    std::vector<T> grouped(records.size());
    for (std::size_t i = 0; i < records.size(); ++i)
      grouped[pos[static_cast<std::size_t>(dest[i])]++] = records[i];
    return exchange_grouped<T>(grouped, counts, budget_bytes);
  }

 private:
  Comm(MPI_Comm c, bool owned);
  template <Arithmetic T>
  void allreduce(std::span<T> values, MPI_Op op) {
    if (values.empty()) return;
    check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), mpi_type<T>(),
                        op, comm_),
          "MPI_Allreduce");
    count_traffic(values.size_bytes(), values.size_bytes());
  }
  // One exchange along a plan built for it (par/exchange.hpp), with the alltoallv exchanger.
  // `displs` empty: the records are grouped back to back in destination order. room(total)
  // returns room for the `total` records this rank receives.
  void exchange_bytes(const std::byte* records, std::size_t record_bytes,
                      std::span<const std::uint64_t> counts, std::span<const std::uint64_t> displs,
                      std::size_t budget_bytes,
                      const std::function<std::byte*(std::uint64_t)>& room);

  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owned_ = false;
  int rank_ = 0;
  int size_ = 1;
  TrafficObserver* observer_ = nullptr;
};

}  // namespace ecom::par

namespace ecom::par {
// Collective. If any rank passes a non-empty `local_error`, every rank throws the same
// ecom::Error (message of the lowest such rank, its exit code, marked collective), so a user
// error found on one rank (e.g. a missing file) ends the job cleanly with one line.
void agree(Comm& comm, const std::string& local_error, ExitCode code = ExitCode::input);
}  // namespace ecom::par
