// par/ primitives under mpirun with 1..4 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <thread>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/file.hpp"
#include "ecom/par/random.hpp"
#include "ecom/par/stats.hpp"
#include "ecom/par/vshard.hpp"

using namespace ecom;
using namespace ecom::par;

TEST(Comm, ReductionsScanGather) {
  auto comm = Comm::world();
  const int r = comm.rank(), p = comm.size();
  EXPECT_EQ(comm.allreduce_sum<long long>(r + 1), static_cast<long long>(p) * (p + 1) / 2);
  EXPECT_EQ(comm.allreduce_max(r), p - 1);
  EXPECT_EQ(comm.allreduce_min(r), 0);
  EXPECT_EQ(comm.exscan_sum<std::uint64_t>(static_cast<std::uint64_t>(r + 1)),
            static_cast<std::uint64_t>(r) * (r + 1) / 2);
  const auto all = comm.allgather(r * 10);
  ASSERT_EQ(static_cast<int>(all.size()), p);
  for (int i = 0; i < p; ++i) EXPECT_EQ(all[static_cast<std::size_t>(i)], i * 10);
  // allgatherv with a rank that contributes nothing (rank 1).
  std::vector<int> mine(r == 1 ? 0 : static_cast<std::size_t>(r + 1), r);
  const auto cat = comm.allgatherv<int>(mine);
  std::vector<int> expect;
  for (int i = 0; i < p; ++i)
    if (i != 1) expect.insert(expect.end(), static_cast<std::size_t>(i + 1), i);
  EXPECT_EQ(cat, expect);
  std::string s = r == 0 ? "hello" : "";
  comm.bcast(s, 0);
  EXPECT_EQ(s, "hello");
  EXPECT_TRUE(comm.all_ok(true));
  EXPECT_FALSE(comm.all_ok(r != p - 1));
}

// The last rank arrives late; the others do idle work while the reduction is in flight, and
// stop asking for more once idle() says it is done. Every rank gets the right maximum; an
// exception from idle() comes out after the collective completed on every rank.
TEST(Comm, AllreduceMaxWhileDoesIdleWorkUntilDone) {
  auto comm = Comm::world();
  const int r = comm.rank(), p = comm.size();
  if (r == p - 1 && p > 1) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int calls = 0;
  const int budget = 5;
  std::vector<long long> v = {r, 10LL * r, -r};
  comm.allreduce_max_while(std::span<long long>(v), [&] { return ++calls < budget; });
  EXPECT_EQ(v, (std::vector<long long>{p - 1, 10LL * (p - 1), 0}));
  EXPECT_LE(calls, budget);
  // With 2+ ranks the early ranks had 200 ms to spend: they used their whole budget.
  if (p > 1 && r < p - 1) {
    EXPECT_EQ(calls, budget);
  }
  int flag = r == 0 ? 1 : 0;
  bool threw = false;
  try {
    comm.allreduce_max_while(std::span<int>(&flag, 1), [&]() -> bool {
      if (r == 0) throw ecom::Error("idle work failed");
      return false;
    });
  } catch (const ecom::Error& e) {
    threw = true;
    EXPECT_STREQ(e.what(), "idle work failed");
  }
  EXPECT_EQ(flag, 1);  // the reduction completed everywhere, also on the rank that threw
  // Rank 0 threw only if the reduction was still in flight when idle() was first called: with
  // one rank it may be complete at once. Other ranks never throw.
  if (r != 0) {
    EXPECT_FALSE(threw);
  }
  comm.barrier();
}

TEST(Comm, AgreeRaisesTheSameErrorEverywhere) {
  auto comm = Comm::world();
  EXPECT_NO_THROW(agree(comm, ""));
  const int bad = comm.size() - 1;
  try {
    agree(comm, comm.rank() == bad ? "missing file x.csv" : "", ExitCode::input);
    FAIL() << "agree must throw on every rank";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "missing file x.csv");
    EXPECT_TRUE(e.collective());
    EXPECT_EQ(e.code(), ExitCode::input);
  }
}

namespace {
struct Rec {
  std::uint64_t key;
  std::uint32_t src;
  std::uint32_t seq;
};
}  // namespace

TEST(Comm, ChunkedAllToAllManyRoundsWithSilentRanks) {
  auto comm = Comm::world();
  TrafficObserver observer(comm.rank());
  comm.attach(&observer);
  const int r = comm.rank(), p = comm.size();
  // Rank 0 sends nothing; the others send a varying number of records to hashed owners.
  std::vector<Rec> recs;
  const int n = r == 0 ? 0 : 500 + 137 * r;
  for (int i = 0; i < n; ++i)
    recs.push_back({random_bits(3, Purpose::test, static_cast<std::uint64_t>(r * 100000 + i), 0),
                    static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(i)});
  VShardMap map(64, p);
  // A budget of 256 bytes forces at most 256/(p*16) records per destination per round.
  const auto got = comm.exchange<Rec>(
      recs, [&](const Rec& x) { return map.owner_of(x.key); }, 256);
  // Independent check: every rank regenerates every rank's records and keeps its own.
  std::vector<Rec> expect;
  for (int s = 1; s < p; ++s)
    for (int i = 0; i < 500 + 137 * s; ++i) {
      Rec x{random_bits(3, Purpose::test, static_cast<std::uint64_t>(s * 100000 + i), 0),
            static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(i)};
      if (map.owner_of(x.key) == r) expect.push_back(x);
    }
  ASSERT_EQ(got.size(), expect.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, expect[i].key);
    EXPECT_EQ(got[i].src, expect[i].src);
    EXPECT_EQ(got[i].seq, expect[i].seq);  // order: by source, then send order
  }
  EXPECT_GT(observer.traffic().at("other").sent + observer.traffic().at("other").received, 0u);
  comm.attach(nullptr);
}

// exchange_into reads each destination's records where they lie (here: fixed-size slots with
// gaps, destinations in reverse slot order) and writes what arrives straight into the caller's
// room: the same records in the same order as exchange_grouped, over many rounds.
TEST(Comm, ExchangeIntoReadsInPlaceAndWritesToTheRoomGiven) {
  auto comm = Comm::world();
  const int r = comm.rank(), p = comm.size();
  const auto pu = static_cast<std::size_t>(p);
  const std::size_t slot = 400;
  std::vector<Rec> slots(pu * slot, Rec{~0ull, 0, 0});
  std::vector<std::uint64_t> counts(pu), displs(pu);
  std::vector<Rec> grouped;
  for (std::size_t d = 0; d < pu; ++d) {
    counts[d] = (37 * static_cast<std::size_t>(r + 1) + 11 * d) % slot;  // 0 happens
    displs[d] = (pu - 1 - d) * slot;
    for (std::uint64_t i = 0; i < counts[d]; ++i) {
      const Rec x{random_bits(5, Purpose::test, r * 1000003ull + d * 1009 + i, 0),
                  static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(i)};
      slots[displs[d] + i] = x;
      grouped.push_back(x);
    }
  }
  const auto want = comm.exchange_grouped<Rec>(grouped, counts, 256);
  std::vector<Rec> room(3, Rec{1, 2, 3});  // the records land after what is already there
  std::uint64_t asked = 0;
  comm.exchange_into<Rec>(slots.data(), counts, displs, 256, [&](std::uint64_t n) {
    asked = n;
    room.resize(3 + n);
    return room.data() + 3;
  });
  EXPECT_EQ(asked, want.size());
  ASSERT_EQ(room.size(), 3 + want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(room[3 + i].key, want[i].key) << i;
    EXPECT_EQ(room[3 + i].src, want[i].src) << i;
    EXPECT_EQ(room[3 + i].seq, want[i].seq) << i;
  }
  EXPECT_EQ(room[0].key, 1u);
  EXPECT_THROW(comm.exchange_into<Rec>(slots.data(), counts, std::span<const std::uint64_t>(), 256,
                                       [&](std::uint64_t) { return room.data(); }),
               ecom::Error);
}

namespace {
std::uint64_t double_bits(double x) {
  std::uint64_t b = 0;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// Correctly rounded sum of finite doubles by Shewchuk's non-overlapping partials with the
// half-way correction of Python's math.fsum (msum): independent of par::ExactAccumulator.
double shewchuk_sum(const std::vector<double>& xs) {
  std::vector<double> p;
  for (double x : xs) {
    std::size_t i = 0;
    for (std::size_t j = 0; j < p.size(); ++j) {
      double y = p[j];
      if (std::fabs(x) < std::fabs(y)) std::swap(x, y);
      const double hi = x + y;
      const double lo = y - (hi - x);
      if (lo != 0) p[i++] = lo;
      x = hi;
    }
    p.resize(i);
    p.push_back(x);
  }
  if (p.empty()) return 0;
  std::size_t k = p.size();
  double hi = p[--k], lo = 0;
  while (k > 0) {
    const double x = hi, y = p[--k];
    hi = x + y;
    lo = y - (hi - x);
    if (lo != 0) break;
  }
  if (k > 0 && ((lo < 0 && p[k - 1] < 0) || (lo > 0 && p[k - 1] > 0))) {
    const double y = lo * 2, x = hi + y;
    if (y == x - hi) hi = x;
  }
  return hi;
}
}  // namespace

TEST(Comm, ExactSumIsBitIdenticalForAnyRankCount) {
  auto comm = Comm::world();
  // 10007 terms of mixed sign and magnitude, dealt to ranks round-robin: the sum must not
  // depend on how many ranks there are. The reference is the serial exact sum.
  const int n = 10007;
  auto term = [](int i) {
    const double u = uniform(11, Purpose::test, static_cast<std::uint64_t>(i), 0);
    const double e =
        std::floor(uniform(11, Purpose::test, static_cast<std::uint64_t>(i), 1) * 80) - 40;
    return (u < 0.5 ? -1 : 1) * std::ldexp(1.0 + u, static_cast<int>(e));
  };
  ExactVector local(2);
  ExactAccumulator serial;
  for (int i = 0; i < n; ++i) {
    serial.add(term(i));
    if (i % comm.size() == comm.rank()) {
      local.add(0, term(i));
      local.add(1, static_cast<double>(i));
    }
  }
  const auto sums = comm.exact_sum(local);
  EXPECT_EQ(sums[0], serial.value());
  EXPECT_EQ(sums[1], static_cast<double>(n) * (n - 1) / 2);
  // Plain doubles, one term per rank.
  const std::vector<double> one = {1e16, static_cast<double>(comm.rank() + 1)};
  const auto s2 = comm.exact_sum(std::span<const double>(one));
  EXPECT_EQ(s2[0], 1e16 * comm.size());
  EXPECT_EQ(s2[1], comm.size() * (comm.size() + 1) / 2.0);
  // Bits against an independent algorithm (Shewchuk's partials, as Python's math.fsum: the
  // correctly rounded sum), computed serially on every rank; and the same bits on every rank.
  std::vector<double> terms(n);
  double naive = 0;
  for (int i = 0; i < n; ++i) naive += terms[static_cast<std::size_t>(i)] = term(i);
  const double reference = shewchuk_sum(terms);
  ASSERT_NE(naive, reference) << "the terms must be ones a plain sum gets wrong";
  EXPECT_EQ(double_bits(sums[0]), double_bits(reference));
  for (auto b : comm.allgather(double_bits(sums[0]))) EXPECT_EQ(b, double_bits(reference));
}

TEST(Comm, VShardOwnershipWhenRanksDoNotDivideShards) {
  auto comm = Comm::world();
  VShardMap map(10, comm.size());
  // Every vshard owned by exactly one rank: count mine, sum over ranks.
  long long mine = 0;
  for (std::uint32_t v = 0; v < 10; ++v) mine += map.owner_of_vshard(v) == comm.rank();
  EXPECT_EQ(mine, map.end_vshard(comm.rank()) - map.first_vshard(comm.rank()));
  EXPECT_EQ(comm.allreduce_sum(mine), 10);
}

TEST(File, OrderedWriteConcatenatesInRankOrder) {
  auto comm = Comm::world();
  const auto dir =
      std::filesystem::temp_directory_path() / ("ecom_test_file_np" + std::to_string(comm.size()));
  if (comm.rank() == 0) std::filesystem::create_directories(dir);
  comm.barrier();
  const std::string path = (dir / "out.csv").string();
  std::string mine;
  for (int i = 0; i < comm.rank() * 3; ++i)
    mine += "rank" + std::to_string(comm.rank()) + "," + std::to_string(i) + "\n";
  write_ordered(comm, path, mine, "a,b\n");
  if (comm.rank() == 0) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string expect = "a,b\n";
    for (int r = 0; r < comm.size(); ++r)
      for (int i = 0; i < r * 3; ++i)
        expect += "rank" + std::to_string(r) + "," + std::to_string(i) + "\n";
    EXPECT_EQ(ss.str(), expect);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    std::filesystem::remove_all(dir);
  }
  comm.barrier();
}

// The header may be held by rank 0 alone (the ingest passes the quarantine of earlier ingests
// that way): the others must still place their rows after it. With each rank using its own
// header size the offsets and MPI_File_set_size disagreed between ranks and the write hung.
TEST(File, OrderedWriteHeaderOnRankZeroOnly) {
  auto comm = Comm::world();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("ecom_test_file_head_np" + std::to_string(comm.size()));
  if (comm.rank() == 0) std::filesystem::create_directories(dir);
  comm.barrier();
  const std::string path = (dir / "out.csv").string();
  std::string header = "file,line,reason,row\n";
  for (int i = 0; i < 100; ++i) header += "old.csv," + std::to_string(i + 2) + ",bad_price,x\n";
  std::string mine;
  for (int i = 0; i <= comm.rank(); ++i)
    mine += "new.csv," + std::to_string(comm.rank()) + "," + std::to_string(i) + "\n";
  write_ordered(comm, path, mine, comm.rank() == 0 ? std::string_view(header) : std::string_view());
  // And the other way round: a header on the other ranks only is ignored.
  const std::string path2 = (dir / "out2.csv").string();
  write_ordered(comm, path2, mine,
                comm.rank() == 0 ? std::string_view() : std::string_view(header));
  if (comm.rank() == 0) {
    const auto slurp = [](const std::string& p) {
      std::ifstream in(p);
      std::stringstream ss;
      ss << in.rdbuf();
      return ss.str();
    };
    std::string rows;
    for (int r = 0; r < comm.size(); ++r)
      for (int i = 0; i <= r; ++i)
        rows += "new.csv," + std::to_string(r) + "," + std::to_string(i) + "\n";
    EXPECT_EQ(slurp(path), header + rows);
    EXPECT_EQ(slurp(path2), rows);
    std::filesystem::remove_all(dir);
  }
  comm.barrier();
}

TEST(Stats, TimersAndTrafficReduce) {
  auto comm = Comm::world();
  const int p = comm.size();
  Timers t;
  {
    // Rank r spends at least (r + 1) * 5 ms in "stage": a known lower bound per rank.
    ScopedTimer s(t, "stage");
    { ScopedTimer inner(t, "inner"); }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 * (comm.rank() + 1)));
  }
  t.add_items("stage", static_cast<std::uint64_t>(comm.rank()) + 1, "things");
  if (comm.rank() > 0) {
    ScopedTimer s(t, "not-on-rank-0");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto stats = reduce_timers(comm, t);
  // Rank 0's order, then the names only other ranks have (absent: 0 s).
  ASSERT_EQ(stats.size(), p > 1 ? 3u : 2u);
  EXPECT_EQ(stats[0].path, "stage");
  EXPECT_EQ(stats[1].path, "stage/inner");
  // Against min/avg/max computed here from every rank's own reading.
  const auto each = comm.allgather(t.seconds("stage"));
  const double lo = *std::min_element(each.begin(), each.end());
  const double hi = *std::max_element(each.begin(), each.end());
  const double avg = std::accumulate(each.begin(), each.end(), 0.0) / p;
  EXPECT_EQ(stats[0].min, lo);
  EXPECT_EQ(stats[0].max, hi);
  EXPECT_NEAR(stats[0].avg, avg, 1e-12 * avg);
  EXPECT_NEAR(stats[0].imbalance, hi / avg - 1, 1e-9);
  EXPECT_GE(stats[0].min, 0.005);
  EXPECT_GE(stats[0].max, 0.005 * p);
  EXPECT_EQ(stats[0].items, static_cast<std::uint64_t>(p) * (p + 1) / 2);
  EXPECT_EQ(stats[0].unit, "things");
  if (p > 1) {
    EXPECT_EQ(stats[2].path, "not-on-rank-0");
    EXPECT_EQ(stats[2].min, 0.0);
    EXPECT_GT(stats[2].max, 0.0);
  }
  TrafficObserver observer(comm.rank());
  comm.attach(&observer);
  {
    const StageScope scope(&observer, "test-stage");
    (void)comm.allreduce_sum(1);
  }
  EXPECT_EQ(observer.stage(), "other");
  const auto traffic = reduce_traffic(comm, observer);
  bool found = false;
  for (const auto& x : traffic)
    if (x.stage == "test-stage") {
      found = true;
      EXPECT_EQ(x.sent_total, 4u * static_cast<std::uint64_t>(comm.size()));
    }
  EXPECT_TRUE(found);
  EXPECT_GT(peak_rss_bytes(), 0u);
}
