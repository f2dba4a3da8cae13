#pragma once
// Which rank reads and digests what in an ingest (pure functions, no MPI). Whole gzip files and
// the SHA-256 digests still to be computed go to ranks largest first, each to the rank with the
// least estimated work so far; the concatenated plain files are then split by bytes so that every
// rank's estimated work (its plain bytes plus what it already has) is level. The plan only moves
// work between ranks: no output depends on it.
#include <cstdint>
#include <span>
#include <vector>

#include "ecom/io/input.hpp"

namespace ecom::io {

// Estimated CPU cost per byte, in hundredths of the cost of parsing one byte of plain CSV
// (bench/ingest_compare.sh on the 2-core benchmark machine: read+parse 2.0 ns per plain byte,
// SHA-256 with SHA-NI 0.8 ns per byte, ISA-L inflate 4.5 ns per compressed byte; zlib inflates
// at about half ISA-L's speed, which only unbalances the plan a little). Only the
// inflating is charged to a gzip file's rank: the parsing of its lines is shared by all ranks
// (the ingest's TextShare), which adds the same to every rank and so does not move the split.
inline constexpr std::uint64_t kPlainCostCenti = 100;
inline constexpr std::uint64_t kDigestCostCenti = 40;
inline constexpr std::uint64_t kGzipCostCenti = 225;

struct PlanFile {
  std::uint64_t size = 0;
  bool gzip = false;
  bool digest = false;  // its SHA-256 is computed beside the reading
};

struct ReadPlan {
  std::vector<int> gzip_owner;             // per file: the rank decoding it; -1 for plain files
  std::vector<int> digest_owner;           // per file: the rank computing its digest; -1 if none
  std::vector<std::uint64_t> plain_share;  // per rank: bytes of the concatenated plain files
};

// Greedy assignment: jobs in decreasing cost (ties: lower index first), each to the rank with
// the least load so far (ties: fewer jobs, then the lower rank); adds the costs to `load`.
std::vector<int> assign_greedy(std::span<const std::uint64_t> cost,
                               std::vector<std::uint64_t>& load, std::vector<std::size_t>& jobs);

// Shares of `total` bytes (sum == total) that level share*kPlainCostCenti + load over the ranks
// that get any: water-filling in integer arithmetic, the remainder one byte each to the lowest
// ranks of the level. load[r] is in the units of kPlainCostCenti.
std::vector<std::uint64_t> level_shares(std::uint64_t total, std::span<const std::uint64_t> load);

ReadPlan plan_read(std::span<const PlanFile> files, int ranks);

// Rank `rank`'s pieces of the concatenation of files with `sizes` when rank r reads the bytes
// [sum of shares[<r], sum of shares[<=r]); cut at file boundaries, empty pieces left out.
std::vector<ByteRange> split_by_shares(std::span<const std::uint64_t> sizes,
                                       std::span<const std::uint64_t> shares, int rank);

}  // namespace ecom::io
