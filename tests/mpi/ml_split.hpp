#pragma once
// Test helpers for the distributed ml tests: split one global data set (identical on every rank)
// over the ranks in contiguous ranges, in several ways, so that a test can check that a result
// does not depend on which rank holds which rows (ranks holding no rows included).
#include <Eigen/Core>
#include <cstdint>
#include <cstring>
#include <utility>

#include "ecom/par/comm.hpp"

namespace ecom::ml_test {

enum class Split {
  even,          // rank r holds rows [r·n/P, (r+1)·n/P)
  first_rank,    // rank 0 holds everything
  last_rank,     // the last rank holds everything
  middle_empty,  // rank 1 holds nothing (P >= 3), the others share evenly; P < 3: even
};
inline constexpr Split kSplits[] = {Split::even, Split::first_rank, Split::last_rank,
                                    Split::middle_empty};

// This rank's contiguous range [lo, hi) of n global rows.
inline std::pair<std::size_t, std::size_t> slice(const par::Comm& comm, std::size_t n, Split s) {
  const auto p = static_cast<std::size_t>(comm.size());
  const auto r = static_cast<std::size_t>(comm.rank());
  switch (s) {
    case Split::even:
      return {r * n / p, (r + 1) * n / p};
    case Split::first_rank:
      return r == 0 ? std::pair<std::size_t, std::size_t>{0, n}
                    : std::pair<std::size_t, std::size_t>{n, n};
    case Split::last_rank:
      return r + 1 == p ? std::pair<std::size_t, std::size_t>{0, n}
                        : std::pair<std::size_t, std::size_t>{0, 0};
    case Split::middle_empty: {
      if (p < 3) return {r * n / p, (r + 1) * n / p};
      if (r == 1) return {0, 0};
      const std::size_t q = p - 1, idx = r == 0 ? 0 : r - 1;
      return {idx * n / q, (idx + 1) * n / q};
    }
  }
  return {0, 0};
}

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// This rank's rows of `all` under a split (a copy).
inline RowMatrix my_rows(const par::Comm& comm, const RowMatrix& all, Split s) {
  const auto [lo, hi] = slice(comm, static_cast<std::size_t>(all.rows()), s);
  return all.middleRows(static_cast<Eigen::Index>(lo), static_cast<Eigen::Index>(hi - lo));
}

// The bit pattern of a double, for bit-identity checks.
inline std::uint64_t bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

}  // namespace ecom::ml_test
