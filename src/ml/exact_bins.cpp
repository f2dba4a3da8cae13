#include "ecom/ml/exact_bins.hpp"

#include <algorithm>
#include <cmath>

#include "ecom/core/error.hpp"

namespace ecom::ml {

void BinnedSums::resize(std::size_t groups, std::size_t width) {
  if (width == 0) throw Error("BinnedSums: width 0");
  width_ = width;
  const std::size_t n = groups * width;
  count_ = n;
  bins_.assign(n * kBins, 0);
  touched_.assign(n, 0);
  pending_.assign(groups, 0);
  acc_.assign(n, par::ExactAccumulator{});
}

void BinnedSums::clear() {
  for (std::size_t i = 0; i < acc_.size(); ++i) {
    for (std::uint32_t mask = touched_[i]; mask != 0; mask &= mask - 1) {
      const auto r = static_cast<std::uint32_t>(std::countr_zero(mask));
      for (std::uint32_t e = r * 64; e < r * 64 + 64; ++e) bins_[bin_index(i, e)] = 0;
    }
    touched_[i] = 0;
    acc_[i] = par::ExactAccumulator{};
  }
  std::fill(pending_.begin(), pending_.end(), 0);
}

void BinnedSums::flush(std::size_t i) {
  for (std::uint32_t mask = touched_[i]; mask != 0; mask &= mask - 1) {
    const auto r = static_cast<std::uint32_t>(std::countr_zero(mask));
    for (std::uint32_t e = r * 64; e < r * 64 + 64; ++e) {
      std::int64_t& bin = bins_[bin_index(i, e)];
      if (bin == 0) continue;
      // bin·2^shift with shift = max(e,1) - 1075 (subnormals share the scale of e = 1).
      const int shift = static_cast<int>(std::max<std::uint32_t>(e, 1)) - 1075;
      const std::int64_t hi = bin >> 32;  // arithmetic shift: floor(bin / 2^32)
      const auto lo = static_cast<std::uint32_t>(static_cast<std::uint64_t>(bin) & 0xffffffffu);
      // |hi| <= 2^31 and lo < 2^32 are exact doubles; scaling by a power of two stays exact in
      // the range of exponents binned here (no overflow below e = 1990; subnormal grid 2^-1074).
      if (hi != 0) acc_[i].add(std::ldexp(static_cast<double>(hi), shift + 32));
      if (lo != 0) acc_[i].add(std::ldexp(static_cast<double>(lo), shift));
      bin = 0;
    }
  }
  touched_[i] = 0;
}

void BinnedSums::flush_group(std::size_t g) {
  for (std::size_t j = 0; j < width_; ++j) flush(g * width_ + j);
  pending_[g] = 0;
}

par::ExactVector BinnedSums::to_exact() {
  for (std::size_t g = 0; g < pending_.size(); ++g) flush_group(g);
  par::ExactVector out(acc_.size());
  for (std::size_t i = 0; i < acc_.size(); ++i) out[i] = acc_[i];
  return out;
}

}  // namespace ecom::ml
