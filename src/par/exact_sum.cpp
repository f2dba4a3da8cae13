#include "ecom/par/exact_sum.hpp"

#include <cmath>
#include <string>

#include "ecom/core/error.hpp"
#include "ecom/core/uint128.hpp"

namespace ecom::par {

namespace {
constexpr std::uint32_t kCarryEvery = 1u << 30;  // limbs stay below 2^62 in magnitude
constexpr std::int64_t kMask = 0xffffffffLL;
}  // namespace

void ExactAccumulator::add(double x) {
  if (!std::isfinite(x)) throw Error("exact sum: non-finite term (" + std::to_string(x) + ")");
  if (x == 0.0) return;
  int e = 0;
  const double f = std::frexp(std::fabs(x), &e);           // |x| = f * 2^e, f in [0.5, 1)
  auto m = static_cast<std::uint64_t>(std::ldexp(f, 53));  // exact: 53-bit integer
  int pos = e - 53 + kOffsetBits;                          // weight of m's bit 0 is 2^(pos-1074)
  if (pos < 0) {                                           // subnormal: the low bits of m are zero
    m >>= -pos;
    pos = 0;
  }
  const int limb = pos / 32;
  const u128 v = static_cast<u128>(m) << (pos % 32);
  const auto c0 = static_cast<std::int64_t>(static_cast<std::uint64_t>(v) & 0xffffffffULL);
  const auto c1 = static_cast<std::int64_t>(static_cast<std::uint64_t>(v >> 32) & 0xffffffffULL);
  const auto c2 = static_cast<std::int64_t>(static_cast<std::uint64_t>(v >> 64));
  if (x > 0) {
    limbs_[static_cast<std::size_t>(limb)] += c0;
    limbs_[static_cast<std::size_t>(limb + 1)] += c1;
    limbs_[static_cast<std::size_t>(limb + 2)] += c2;
  } else {
    limbs_[static_cast<std::size_t>(limb)] -= c0;
    limbs_[static_cast<std::size_t>(limb + 1)] -= c1;
    limbs_[static_cast<std::size_t>(limb + 2)] -= c2;
  }
  if (++pending_ >= kCarryEvery) carry();
}

void ExactAccumulator::carry() {
  for (int i = 0; i + 1 < kLimbs; ++i) {
    const std::int64_t c = limbs_[static_cast<std::size_t>(i)] >> 32;  // floor division
    limbs_[static_cast<std::size_t>(i)] &= kMask;
    limbs_[static_cast<std::size_t>(i + 1)] += c;
  }
  pending_ = 0;
}

void ExactAccumulator::add(const ExactAccumulator& other) {
  auto a = normalized();
  const auto b = other.normalized();
  for (int i = 0; i < kLimbs; ++i) a[static_cast<std::size_t>(i)] += b[static_cast<std::size_t>(i)];
  limbs_ = a;
  pending_ = 2;
  carry();
}

std::array<std::int64_t, ExactAccumulator::kLimbs> ExactAccumulator::normalized() const {
  ExactAccumulator copy = *this;
  copy.carry();
  return copy.limbs_;
}

ExactAccumulator ExactAccumulator::from_limbs(std::span<const std::int64_t> limbs) {
  if (limbs.size() != static_cast<std::size_t>(kLimbs)) throw Error("exact sum: bad limb count");
  ExactAccumulator a;
  for (int i = 0; i < kLimbs; ++i)
    a.limbs_[static_cast<std::size_t>(i)] = limbs[static_cast<std::size_t>(i)];
  a.carry();
  return a;
}

bool ExactAccumulator::is_zero() const {
  for (auto l : normalized())
    if (l != 0) return false;
  return true;
}

double ExactAccumulator::value() const {
  auto a = normalized();
  bool negative = a[kLimbs - 1] < 0;
  if (negative) {
    ExactAccumulator neg;
    for (int i = 0; i < kLimbs; ++i)
      neg.limbs_[static_cast<std::size_t>(i)] = -a[static_cast<std::size_t>(i)];
    a = neg.normalized();
  }
  int top = kLimbs - 1;
  while (top >= 0 && a[static_cast<std::size_t>(top)] == 0) --top;
  if (top < 0) return 0.0;
  auto limb = [&](int i) -> u128 {
    return i < 0 ? 0
                 : static_cast<u128>(static_cast<std::uint64_t>(a[static_cast<std::size_t>(i)]));
  };
  u128 hi = (limb(top) << 64) | (limb(top - 1) << 32) | limb(top - 2);
  bool sticky = false;
  for (int i = 0; i < top - 2; ++i) sticky = sticky || a[static_cast<std::size_t>(i)] != 0;
  // hi has at least 65 significant bits, so bit 0 lies below the rounding position: OR-ing
  // the sticky bit there makes the conversion round as if all lower bits were present.
  if (sticky) hi |= 1;
  const double d = static_cast<double>(hi);
  const double r = std::ldexp(d, 32 * (top - 2) - kOffsetBits);
  if (!std::isfinite(r)) throw Error("exact sum: result exceeds the range of double");
  return negative ? -r : r;
}

void ExactVector::add(std::span<const double> xs) {
  if (xs.size() != acc_.size()) throw Error("ExactVector::add: size mismatch");
  for (std::size_t i = 0; i < xs.size(); ++i) acc_[i].add(xs[i]);
}

void ExactVector::add(const ExactVector& other) {
  if (other.size() != acc_.size()) throw Error("ExactVector::add: size mismatch");
  for (std::size_t i = 0; i < acc_.size(); ++i) acc_[i].add(other.acc_[i]);
}

std::vector<double> ExactVector::values() const {
  std::vector<double> out(acc_.size());
  for (std::size_t i = 0; i < acc_.size(); ++i) out[i] = acc_[i].value();
  return out;
}

}  // namespace ecom::par
