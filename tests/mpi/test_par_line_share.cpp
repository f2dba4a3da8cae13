// par::LineShare under mpirun with 1..4 ranks: every rank is a sender of its own numbered lines
// (as a gzip-decoding rank is) and a receiver; every line is parsed exactly once, with its source
// and line index, whatever the rank count, block cap and round length.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ecom/par/comm.hpp"
#include "ecom/par/line_share.hpp"

using namespace ecom;
using namespace ecom::par;

namespace {

std::string text_of(std::uint64_t source, std::uint64_t index) {
  return "line " + std::to_string(source) + ":" + std::to_string(index) +
         std::string(index % 7, 'x');
}

// Runs the protocol as the ingest does; returns lines parsed here that came from other ranks.
void run_share(Comm& comm, std::uint64_t my_lines, std::size_t cap, std::uint64_t round_lines) {
  const int rank = comm.rank(), ranks = comm.size();
  LineShare share(ranks, rank, cap);
  std::vector<std::uint64_t> count(static_cast<std::size_t>(ranks), 0);
  std::vector<std::uint64_t> index_sum(static_cast<std::size_t>(ranks), 0);
  bool bad_text = false;
  std::uint64_t shipped = 0, next = 0, group_left = 0;
  int taker = rank;
  auto parse = [&](std::uint32_t source, std::uint64_t index, std::string_view line) {
    ++count[source];
    index_sum[source] += index + 1;
    bad_text = bad_text || line != text_of(source, index);
  };
  while (true) {
    std::uint32_t s = 0;
    std::uint64_t i = 0;
    std::string_view l;
    while (share.next(s, i, l)) parse(s, i, l);
    bool full = false;
    // A round ends only between groups (a block must not stay open across exchange()).
    for (std::uint64_t k = 0; !full && next < my_lines; ++k, ++next) {
      const std::string line = text_of(static_cast<std::uint64_t>(rank), next);
      if (ranks > 1 && group_left == 0) {
        taker = share.next_taker();
        group_left = LineShare::kGroupLines;
        if (taker != rank) share.begin_block(taker, static_cast<std::uint32_t>(rank), next);
      }
      if (ranks > 1) --group_left;
      if (taker != rank) {
        share.add_line(taker, line);
        ++shipped;
        full = group_left == 0 && share.others_served();
      } else {
        parse(static_cast<std::uint32_t>(rank), next, line);
      }
      full = full || (k + 1 >= round_lines && group_left == 0);
    }
    if (next == my_lines) group_left = 0;  // the source ended: its last block is closed
    const int more = next < my_lines || share.outgoing() || share.queued() ? 1 : 0;
    const int any = comm.allreduce_max(more);
    share.exchange(comm, 4096);
    if (any == 0) break;
  }
  EXPECT_FALSE(bad_text);
  comm.allreduce_sum(std::span<std::uint64_t>(count));
  comm.allreduce_sum(std::span<std::uint64_t>(index_sum));
  for (int r = 0; r < ranks; ++r) {
    const std::uint64_t n = my_lines;  // every rank sends the same number of lines
    EXPECT_EQ(count[static_cast<std::size_t>(r)], n) << "source " << r;
    EXPECT_EQ(index_sum[static_cast<std::size_t>(r)], n * (n + 1) / 2) << "source " << r;
  }
  const std::uint64_t shipped_all = comm.allreduce_sum(shipped);
  if (ranks > 1 && my_lines >= 4 * LineShare::kGroupLines) {
    EXPECT_GT(shipped_all, 0u) << "no line was shared";
  }
}

}  // namespace

TEST(LineShare, EveryLineParsedOnceWithItsSourceAndIndex) {
  auto comm = Comm::world();
  run_share(comm, 5000, 1 << 12, 700);
}

TEST(LineShare, LongRoundsAndLargeCap) {
  auto comm = Comm::world();
  run_share(comm, 3000, 1 << 20, 100000);
}

TEST(LineShare, FewerLinesThanOneGroup) {
  auto comm = Comm::world();
  run_share(comm, 17, 64, 5);
}

TEST(LineShare, NothingToSend) {
  auto comm = Comm::world();
  run_share(comm, 0, 1024, 10);
}
