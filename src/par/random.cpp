#include "ecom/par/random.hpp"

#include <cmath>
#include <numbers>

#include "ecom/core/uint128.hpp"

namespace ecom::par {

std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> ctr,
                                           std::array<std::uint32_t, 2> key) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * ctr[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * ctr[2];
    ctr = {static_cast<std::uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<std::uint32_t>(p1),
           static_cast<std::uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<std::uint32_t>(p0)};
    key[0] += kW0;
    key[1] += kW1;
  }
  return ctr;
}

namespace {
std::array<std::uint32_t, 4> block(std::uint64_t seed, Purpose purpose, std::uint64_t id,
                                   std::uint32_t counter) {
  return philox4x32_10({static_cast<std::uint32_t>(id), static_cast<std::uint32_t>(id >> 32),
                        counter, static_cast<std::uint32_t>(purpose)},
                       {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)});
}
double to_unit(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }
}  // namespace

std::uint64_t random_bits(std::uint64_t seed, Purpose purpose, std::uint64_t id,
                          std::uint32_t counter) {
  const auto b = block(seed, purpose, id, counter);
  return (static_cast<std::uint64_t>(b[1]) << 32) | b[0];
}

double uniform(std::uint64_t seed, Purpose purpose, std::uint64_t id, std::uint32_t counter) {
  return to_unit(random_bits(seed, purpose, id, counter));
}

double normal(std::uint64_t seed, Purpose purpose, std::uint64_t id, std::uint32_t counter) {
  const auto b = block(seed, purpose, id, counter);
  const double u1 =
      (static_cast<double>(((static_cast<std::uint64_t>(b[1]) << 32) | b[0]) >> 11) + 1.0) *
      0x1.0p-53;  // (0,1]
  const double u2 = to_unit((static_cast<std::uint64_t>(b[3]) << 32) | b[2]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::uint64_t uniform_index(std::uint64_t seed, Purpose purpose, std::uint64_t id,
                            std::uint32_t counter, std::uint64_t n) {
  const u128 prod = static_cast<u128>(random_bits(seed, purpose, id, counter)) * n;
  return static_cast<std::uint64_t>(prod >> 64);
}

}  // namespace ecom::par
