#include "ecom/par/exchange.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ecom::par {

ExchangeKind parse_exchange_kind(const std::string& s) {
  if (s == "alltoallv") return ExchangeKind::alltoallv;
  if (s == "sparse") return ExchangeKind::sparse;
  throw UserError("exchange must be \"alltoallv\" or \"sparse\", not \"" + s + "\"");
}

const char* name_of(ExchangeKind k) { return k == ExchangeKind::sparse ? "sparse" : "alltoallv"; }

ExchangePlan::ExchangePlan(Comm& comm, std::span<const std::uint64_t> counts,
                           std::span<const std::uint64_t> displs, std::size_t record_bytes,
                           std::size_t budget_bytes)
    : record_bytes_(record_bytes), type_(std::make_shared<const RecordType>(record_bytes)) {
  const auto p = static_cast<std::size_t>(comm.size());
  if (counts.size() != p) throw Error("exchange: counts.size() != communicator size");
  if (!displs.empty() && displs.size() != p)
    throw Error("exchange: displs.size() != counts.size()");
  send_counts_.assign(counts.begin(), counts.end());
  recv_counts_ = comm.alltoall<std::uint64_t>(counts);
  // At most this many records to each destination per round; also keeps every count and
  // displacement of one round below 2^31.
  const std::uint64_t by_budget = budget_bytes / (p * record_bytes);
  const std::uint64_t by_int = static_cast<std::uint64_t>(std::numeric_limits<int>::max()) / p;
  per_dest_ = std::max<std::uint64_t>(1, std::min(by_budget, by_int));
  std::uint64_t my_rounds = 0;
  for (std::size_t d = 0; d < p; ++d)
    my_rounds = std::max(my_rounds, (counts[d] + per_dest_ - 1) / per_dest_);
  // Receive side is covered too: a sender's rounds bound what it sends to us.
  rounds_ = comm.allreduce_max<std::uint64_t>(my_rounds);

  std::uint64_t send_end = 0;
  send_displs_.assign(p, 0);
  recv_displs_.assign(p, 0);
  for (std::size_t d = 0; d < p; ++d) {
    recv_displs_[d] = recv_total_;
    recv_total_ += recv_counts_[d];
    send_displs_[d] =
        displs.empty() ? (d > 0 ? send_displs_[d - 1] + counts[d - 1] : 0) : displs[d];
    send_end = std::max(send_end, send_displs_[d] + counts[d]);
  }
  // MPI displacements are ints (in records): when every offset fits, MPI reads the records in
  // place and writes them to their final place; otherwise each round is staged in buffers.
  constexpr auto kIntMax = static_cast<std::uint64_t>(std::numeric_limits<int>::max());
  direct_ = send_end <= kIntMax && recv_total_ <= kIntMax;
}

namespace {

void count_round(Comm& comm, const std::vector<int>& sc, const std::vector<int>& rc,
                 std::size_t record_bytes) {
  std::uint64_t s = 0, r = 0;
  for (std::size_t d = 0; d < sc.size(); ++d) {
    s += static_cast<std::uint64_t>(sc[d]);
    r += static_cast<std::uint64_t>(rc[d]);
  }
  comm.count_traffic(s * record_bytes, r * record_bytes);
}

class AlltoallvExchanger final : public Exchanger {
 public:
  ExchangeKind kind() const override { return ExchangeKind::alltoallv; }
  void run(Comm& comm, const ExchangePlan& plan, const std::byte* send,
           std::byte* recv) const override {
    const int p = plan.ranks();
    const auto pp = static_cast<std::size_t>(p);
    const std::size_t rb = plan.record_bytes();
    std::vector<std::byte> sendbuf, recvbuf;
    std::vector<int> sc(pp), sd(pp), rc(pp), rd(pp);
    for (std::uint64_t round = 0; round < plan.rounds(); ++round) {
      const std::uint64_t lo = round * plan.per_dest();
      int s_total = 0, r_total = 0;
      for (int d = 0; d < p; ++d) {
        const auto i = static_cast<std::size_t>(d);
        const std::uint64_t s = plan.send_in_round(d, round), r = plan.recv_in_round(d, round);
        sc[i] = static_cast<int>(s);
        // (A zero count gets displacement 0: offsets past the records could exceed an int.)
        sd[i] = plan.direct() ? (s > 0 ? static_cast<int>(plan.send_displ(d) + lo) : 0) : s_total;
        s_total += sc[i];
        rc[i] = static_cast<int>(r);
        rd[i] = plan.direct() ? (r > 0 ? static_cast<int>(plan.recv_displ(d) + lo) : 0) : r_total;
        r_total += rc[i];
      }
      if (plan.direct()) {
        alltoallv(comm, plan, send, sc, sd, recv, rc, rd);
        continue;
      }
      sendbuf.resize(static_cast<std::size_t>(s_total) * rb);
      recvbuf.resize(static_cast<std::size_t>(r_total) * rb);
      for (std::size_t d = 0; d < pp; ++d)
        if (sc[d] > 0)
          std::memcpy(sendbuf.data() + static_cast<std::size_t>(sd[d]) * rb,
                      send + (plan.send_displ(static_cast<int>(d)) + lo) * rb,
                      static_cast<std::size_t>(sc[d]) * rb);
      alltoallv(comm, plan, sendbuf.data(), sc, sd, recvbuf.data(), rc, rd);
      for (std::size_t d = 0; d < pp; ++d)
        if (rc[d] > 0)
          std::memcpy(recv + (plan.recv_displ(static_cast<int>(d)) + lo) * rb,
                      recvbuf.data() + static_cast<std::size_t>(rd[d]) * rb,
                      static_cast<std::size_t>(rc[d]) * rb);
    }
  }

 private:
  static void alltoallv(Comm& comm, const ExchangePlan& plan, const std::byte* send,
                        const std::vector<int>& sc, const std::vector<int>& sd, std::byte* recv,
                        const std::vector<int>& rc, const std::vector<int>& rd) {
    check(MPI_Alltoallv(send, sc.data(), sd.data(), plan.type(), recv, rc.data(), rd.data(),
                        plan.type(), comm.native()),
          "MPI_Alltoallv");
    count_round(comm, sc, rc, plan.record_bytes());
  }
};

// Point to point with the non-empty peers only. Buffers are addressed by pointer, so no offset
// is limited to an int and nothing is staged; a round's counts stay below 2^31 by the plan.
class SparseExchanger final : public Exchanger {
 public:
  ExchangeKind kind() const override { return ExchangeKind::sparse; }
  void run(Comm& comm, const ExchangePlan& plan, const std::byte* send,
           std::byte* recv) const override {
    const int p = plan.ranks(), me = comm.rank();
    const std::size_t rb = plan.record_bytes();
    constexpr int kTag = 0x45C;
    std::vector<MPI_Request> reqs;
    std::vector<int> sc(static_cast<std::size_t>(p)), rc(sc.size());
    for (std::uint64_t round = 0; round < plan.rounds(); ++round) {
      const std::uint64_t lo = round * plan.per_dest();
      reqs.clear();
      for (int s = 0; s < p; ++s) {
        const std::uint64_t n = plan.recv_in_round(s, round);
        rc[static_cast<std::size_t>(s)] = static_cast<int>(n);
        if (n == 0 || s == me) continue;
        reqs.emplace_back();
        check(MPI_Irecv(recv + (plan.recv_displ(s) + lo) * rb, static_cast<int>(n), plan.type(), s,
                        kTag, comm.native(), &reqs.back()),
              "MPI_Irecv");
      }
      for (int d = 0; d < p; ++d) {
        const std::uint64_t n = plan.send_in_round(d, round);
        sc[static_cast<std::size_t>(d)] = static_cast<int>(n);
        if (n == 0) continue;
        const std::byte* from = send + (plan.send_displ(d) + lo) * rb;
        if (d == me) {
          std::memcpy(recv + (plan.recv_displ(me) + lo) * rb, from, n * rb);
          continue;
        }
        reqs.emplace_back();
        check(
            MPI_Isend(from, static_cast<int>(n), plan.type(), d, kTag, comm.native(), &reqs.back()),
            "MPI_Isend");
      }
      check(MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE),
            "MPI_Waitall");
      count_round(comm, sc, rc, rb);
    }
  }
};

}  // namespace

std::unique_ptr<Exchanger> make_exchanger(ExchangeKind kind) {
  if (kind == ExchangeKind::sparse) return std::make_unique<SparseExchanger>();
  return std::make_unique<AlltoallvExchanger>();
}

void Comm::exchange_bytes(const std::byte* records, std::size_t record_bytes,
                          std::span<const std::uint64_t> counts,
                          std::span<const std::uint64_t> displs, std::size_t budget_bytes,
                          const std::function<std::byte*(std::uint64_t)>& room) {
  const ExchangePlan plan(*this, counts, displs, record_bytes, budget_bytes);
  std::byte* out = room(plan.recv_total());
  make_exchanger(ExchangeKind::alltoallv)->run(*this, plan, records, out);
}

}  // namespace ecom::par
