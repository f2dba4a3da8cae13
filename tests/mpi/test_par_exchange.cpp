// Exchange plans and the two exchangers (par/exchange.hpp): same bytes in the same places, from
// a plan built once and run many times, at any number of ranks.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ecom/par/comm.hpp"
#include "ecom/par/exchange.hpp"
#include "ecom/par/random.hpp"

using namespace ecom;
using namespace ecom::par;

namespace {
struct Rec {
  std::uint64_t key;
  std::uint32_t src;
  std::uint32_t seq;
};

// Records of rank s for rank d: a count that varies with (s, d), zero for some pairs (rank 0
// sends nothing, and nobody sends to the last rank's neighbour below it).
std::uint64_t count_for(int s, int d, int p) {
  if (s == 0 || (p > 2 && d == p - 2)) return 0;
  return static_cast<std::uint64_t>(3 + ((7 * s + 13 * d) % 11) * 9);
}
Rec record(int s, int d, std::uint64_t i) {
  return {random_bits(5, Purpose::test, static_cast<std::uint64_t>(s * 1000 + d), i),
          static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(i)};
}
}  // namespace

TEST(Exchange, KindsParseAndName) {
  EXPECT_EQ(parse_exchange_kind("alltoallv"), ExchangeKind::alltoallv);
  EXPECT_EQ(parse_exchange_kind("sparse"), ExchangeKind::sparse);
  EXPECT_STREQ(name_of(ExchangeKind::sparse), "sparse");
  EXPECT_THROW(parse_exchange_kind("dense"), UserError);
}

// Records for rank d lie in slots spaced apart (displacements given); both exchangers, each run
// twice along one plan over many rounds, deliver exactly the expected records in source order.
TEST(Exchange, BothExchangersDeliverTheSameBytesAlongOnePlan) {
  auto comm = Comm::world();
  TrafficObserver observer(comm.rank());
  comm.attach(&observer);
  const int r = comm.rank(), p = comm.size();
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(p)), displs(counts.size());
  std::vector<Rec> slots;
  for (int d = 0; d < p; ++d) {
    const std::uint64_t n = count_for(r, d, p);
    counts[static_cast<std::size_t>(d)] = n;
    slots.resize(slots.size() + 5);  // a gap before each destination's records
    displs[static_cast<std::size_t>(d)] = slots.size();
    for (std::uint64_t i = 0; i < n; ++i) slots.push_back(record(r, d, i));
  }
  std::vector<Rec> expect;
  for (int s = 0; s < p; ++s)
    for (std::uint64_t i = 0; i < count_for(s, r, p); ++i) expect.push_back(record(s, r, i));

  // 256 bytes: at most 256 / (P * 16) records per destination and round: many rounds.
  const ExchangePlan plan(comm, counts, displs, sizeof(Rec), 256);
  EXPECT_EQ(plan.recv_total(), expect.size());
  EXPECT_TRUE(plan.direct());
  if (p > 1) {
    EXPECT_GT(plan.rounds(), 1u);
  }
  std::vector<std::vector<Rec>> got;
  std::vector<std::uint64_t> sent;
  for (const ExchangeKind kind : {ExchangeKind::alltoallv, ExchangeKind::sparse})
    for (int rep = 0; rep < 2; ++rep) {
      const auto before =
          observer.traffic().count("other") ? observer.traffic().at("other").sent : 0;
      std::vector<Rec> out(plan.recv_total(), Rec{~0ULL, ~0U, ~0U});
      make_exchanger(kind)->run(comm, plan, reinterpret_cast<const std::byte*>(slots.data()),
                                reinterpret_cast<std::byte*>(out.data()));
      got.push_back(out);
      sent.push_back(observer.traffic().at("other").sent - before);
    }
  for (const auto& out : got) {
    ASSERT_EQ(out.size(), expect.size());
    EXPECT_EQ(std::memcmp(out.data(), expect.data(), out.size() * sizeof(Rec)), 0);
  }
  // Both count the same traffic (records sent, own ones included).
  for (const auto s : sent) EXPECT_EQ(s, sent[0]);
  comm.attach(nullptr);
}

// The typed run and Comm::exchange_grouped (which plans each call) agree.
TEST(Exchange, TypedRunEqualsExchangeGrouped) {
  auto comm = Comm::world();
  const int r = comm.rank(), p = comm.size();
  std::vector<std::uint64_t> counts;
  std::vector<Rec> grouped;
  for (int d = 0; d < p; ++d) {
    counts.push_back(count_for(r, d, p));
    for (std::uint64_t i = 0; i < counts.back(); ++i) grouped.push_back(record(r, d, i));
  }
  const auto want = comm.exchange_grouped<Rec>(grouped, counts, 1 << 20);
  const ExchangePlan plan(comm, counts, {}, sizeof(Rec), 1 << 20);
  EXPECT_EQ(plan.rounds(), p > 1 ? 1u : (counts[0] > 0 ? 1u : 0u));
  for (const ExchangeKind kind : {ExchangeKind::alltoallv, ExchangeKind::sparse}) {
    const auto got = make_exchanger(kind)->run<Rec>(comm, plan, grouped);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(Rec)), 0);
  }
}
