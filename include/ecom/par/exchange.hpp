#pragma once
// Plans and exchangers for all-to-all transfers of fixed-size records.
//
// An ExchangePlan says what one exchange moves: how many records go to and come from every rank,
// where they lie, in how many rounds, with which committed datatype. Building it is collective (an
// all-to-all of the counts, an allreduce of the rounds); a caller that repeats the same exchange
// (the ALS: every sweep sends the same rows to the same ranks) builds it once and runs it many
// times. An Exchanger moves the records along a plan:
//  - alltoallv: one MPI_Alltoallv per round over all ranks;
//  - sparse: per round, MPI_Isend/MPI_Irecv only with the ranks this rank sends to or receives
//    from (rank-local copies for itself), so ranks with nothing to say exchange no messages.
// Both write the same bytes to the same places: what arrives is ordered by source rank, and
// within a source in send order.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ecom/par/comm.hpp"

namespace ecom::par {

enum class ExchangeKind { alltoallv, sparse };
ExchangeKind parse_exchange_kind(const std::string& s);  // "alltoallv" | "sparse"
const char* name_of(ExchangeKind k);

class ExchangePlan {
 public:
  ExchangePlan() = default;
  // Collective. `counts[d]` records of `record_bytes` bytes go to rank d; they start at record
  // displs[d] of the send buffer, or (displs empty) lie back to back in rank order. A round moves
  // at most max(1, budget_bytes / (P * record_bytes)) records per destination, so no MPI count or
  // displacement reaches 2^31; every rank runs the same number of rounds.
  ExchangePlan(Comm& comm, std::span<const std::uint64_t> counts,
               std::span<const std::uint64_t> displs, std::size_t record_bytes,
               std::size_t budget_bytes);

  int ranks() const { return static_cast<int>(send_counts_.size()); }
  std::size_t record_bytes() const { return record_bytes_; }
  std::uint64_t send_count(int d) const { return send_counts_[static_cast<std::size_t>(d)]; }
  std::uint64_t recv_count(int s) const { return recv_counts_[static_cast<std::size_t>(s)]; }
  std::uint64_t send_displ(int d) const { return send_displs_[static_cast<std::size_t>(d)]; }
  std::uint64_t recv_displ(int s) const { return recv_displs_[static_cast<std::size_t>(s)]; }
  std::uint64_t recv_total() const { return recv_total_; }
  std::uint64_t per_dest() const { return per_dest_; }
  std::uint64_t rounds() const { return rounds_; }
  // Every send and receive offset fits an int: records move in place (no staging buffers).
  bool direct() const { return direct_; }
  MPI_Datatype type() const { return type_->get(); }
  // Records sent to (received from) rank d in round `round`.
  std::uint64_t send_in_round(int d, std::uint64_t round) const {
    return in_round(send_count(d), round);
  }
  std::uint64_t recv_in_round(int s, std::uint64_t round) const {
    return in_round(recv_count(s), round);
  }

 private:
  std::uint64_t in_round(std::uint64_t n, std::uint64_t round) const {
    const std::uint64_t lo = round * per_dest_;
    return n > lo ? std::min(per_dest_, n - lo) : 0;
  }
  std::size_t record_bytes_ = 0;
  std::vector<std::uint64_t> send_counts_, send_displs_, recv_counts_, recv_displs_;
  std::uint64_t recv_total_ = 0, per_dest_ = 1, rounds_ = 0;
  bool direct_ = true;
  std::shared_ptr<const RecordType> type_;
};

class Exchanger {
 public:
  virtual ~Exchanger() = default;
  virtual ExchangeKind kind() const = 0;
  // Collective over the plan's communicator: sends the records at `send` (laid out as the plan
  // says) and writes what arrives to `recv` (room for plan.recv_total() records).
  virtual void run(Comm& comm, const ExchangePlan& plan, const std::byte* send,
                   std::byte* recv) const = 0;

  template <Trivial T>
  std::vector<T> run(Comm& comm, const ExchangePlan& plan, std::span<const T> send) const {
    if (plan.record_bytes() != sizeof(T)) throw Error("exchange: record size differs from plan");
    std::vector<T> out(plan.recv_total());
    run(comm, plan, reinterpret_cast<const std::byte*>(send.data()),
        reinterpret_cast<std::byte*>(out.data()));
    return out;
  }
};

std::unique_ptr<Exchanger> make_exchanger(ExchangeKind kind);

}  // namespace ecom::par
