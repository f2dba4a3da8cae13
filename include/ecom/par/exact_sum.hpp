#pragma once
// Exact, order-independent summation of doubles (a "long accumulator" in the sense of Kulisch).
//
// Range: every finite double, from the smallest subnormal 2^-1074 to DBL_MAX; a sum of up to
// 2^62 terms cannot overflow the accumulator. Resolution: 2^-1074, i.e. the sum is held
// exactly; the only rounding is the final conversion to double (round to nearest, ties to
// even, except that results in the subnormal range may be off by one unit in the last place).
// A non-finite input (NaN, +-inf) raises ecom::Error: never a silently wrong sum.
//
// Because the exact value does not depend on the order of the additions, nor on how the terms
// were grouped across ranks, the final double is bit-identical for any number of ranks.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace ecom::par {

class ExactAccumulator {
 public:
  // Limbs of 32 bits each held in int64 (headroom for carries), least significant first.
  static constexpr int kLimbs = 70;
  static constexpr int kOffsetBits = 1074;  // bit 0 of limb 0 has weight 2^-1074

  void add(double x);
  void add(const ExactAccumulator& other);
  double value() const;  // correctly rounded (see above)
  bool is_zero() const;

  // Normalised limbs: each in [0, 2^32) except the top one, which carries the sign.
  // Summing the normalised limbs of P accumulators as plain int64 is exact (P < 2^31), which is
  // how Comm::exact_sum combines ranks with a single MPI_SUM.
  std::array<std::int64_t, kLimbs> normalized() const;
  static ExactAccumulator from_limbs(std::span<const std::int64_t> limbs);

 private:
  void carry();
  std::array<std::int64_t, kLimbs> limbs_{};
  std::uint32_t pending_ = 0;  // additions since the last carry propagation
};

// A vector of accumulators, e.g. centroid sums or a covariance matrix (row-major).
class ExactVector {
 public:
  explicit ExactVector(std::size_t n = 0) : acc_(n) {}
  std::size_t size() const { return acc_.size(); }
  void resize(std::size_t n) { acc_.assign(n, ExactAccumulator{}); }
  void add(std::size_t i, double x) { acc_[i].add(x); }
  void add(std::span<const double> xs);  // element-wise, xs.size() == size()
  void add(const ExactVector& other);
  ExactAccumulator& operator[](std::size_t i) { return acc_[i]; }
  const ExactAccumulator& operator[](std::size_t i) const { return acc_[i]; }
  std::vector<double> values() const;

 private:
  std::vector<ExactAccumulator> acc_;
};

}  // namespace ecom::par
