#pragma once
// Fast exact summation for hot loops (k-means centroid sums, inertia, profile sums).
//
// par::ExactAccumulator::add costs about 14 ns; a Lloyd iteration adds n·d terms, which would
// dominate the iteration. BinnedSums keeps, per accumulator, one int64 bin per binary exponent:
// a finite double x = ±m·2^(e-1075) (m < 2^53, e the biased exponent) adds ±m to bin e, an
// integer addition that is exact and order-independent. Before a bin can overflow (1024·2^53 <
// 2^63) the touched bins are flushed exactly into a par::ExactAccumulator (each bin as two
// doubles hi·2^(s+32) + lo·2^s, both exactly representable). The result is the exact sum, so it
// is bit-identical however the terms were ordered or split across ranks; combine the
// accumulators with Comm::exact_combine. Values with a biased exponent >= 1990 (|x| >= 2^967)
// and non-finite values take the slow path (ExactAccumulator::add, which throws on NaN and
// infinity).
//
// Accumulators come in groups of `width` (e.g. one group per cluster, one accumulator per
// dimension); add_row adds one value to each accumulator of a group.
#include <bit>
#include <cstdint>
#include <vector>

#include "ecom/par/exact_sum.hpp"

namespace ecom::ml {

class BinnedSums {
 public:
  // `groups` groups of `width` accumulators, all zero.
  explicit BinnedSums(std::size_t groups = 0, std::size_t width = 1) { resize(groups, width); }

  std::size_t size() const { return acc_.size(); }
  std::size_t width() const { return width_; }
  void resize(std::size_t groups, std::size_t width = 1);
  // Sets every accumulator to zero (keeps the shape).
  void clear();

  // Adds x to accumulator i.
  void add(std::size_t i, double x) {
    const std::size_t g = width_ == 1 ? i : i / width_;
    add_bits(i, x);
    if (++pending_[g] == kFlushEvery) flush_group(g);
  }
  // Adds xs[j] to accumulator g·width + j for j < width.
  void add_row(std::size_t g, const double* xs) {
    const std::size_t base = g * width_;
    for (std::size_t j = 0; j < width_; ++j) add_bits(base + j, xs[j]);
    if (++pending_[g] == kFlushEvery) flush_group(g);
  }

  // The exact sums (flushes every accumulator first; the object stays usable).
  par::ExactVector to_exact();

 private:
  static constexpr std::uint32_t kBins = 2048;
  static constexpr std::uint32_t kSlowExponent = 1990;
  static constexpr std::uint32_t kFlushEvery = 1024;  // adds per bin between flushes, at most
  static constexpr std::uint64_t kMantissaMask = (std::uint64_t{1} << 52) - 1;
  static constexpr std::int64_t kHiddenBit = std::int64_t{1} << 52;

  void add_bits(std::size_t i, double x) {
    const auto bits = std::bit_cast<std::uint64_t>(x);
    const auto e = static_cast<std::uint32_t>(bits >> 52) & 0x7ffu;
    if (e >= kSlowExponent) [[unlikely]] {
      acc_[i].add(x);
      return;
    }
    auto m = static_cast<std::int64_t>(bits & kMantissaMask);
    if (e != 0) m |= kHiddenBit;
    const std::int64_t sign = static_cast<std::int64_t>(bits) >> 63;  // 0 or -1
    bins_[bin_index(i, e)] += (m ^ sign) - sign;
    touched_[i] |= std::uint32_t{1} << (e >> 6);  // 32 ranges of 64 exponents
  }
  // Bins are laid out exponent-major (all accumulators' bin e side by side): the values of one
  // row usually share a few exponents, so add_row touches a few cache lines and pages rather
  // than one page per accumulator (which made wide rows, e.g. PCA's d + d(d+1)/2 products,
  // TLB-bound).
  std::size_t bin_index(std::size_t i, std::uint32_t e) const { return e * count_ + i; }
  void flush(std::size_t i);
  void flush_group(std::size_t g);

  std::size_t width_ = 1;
  std::size_t count_ = 0;  // accumulators (groups × width)
  std::vector<std::int64_t> bins_;
  std::vector<std::uint32_t> touched_;
  std::vector<std::uint32_t> pending_;
  std::vector<par::ExactAccumulator> acc_;
};

}  // namespace ecom::ml
