// Pure parts of par/: exact sums, the virtual-shard map, counter-based random numbers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/par/exact_sum.hpp"
#include "ecom/par/random.hpp"
#include "ecom/par/vshard.hpp"

using namespace ecom::par;

namespace {
double exact_of(const std::vector<double>& xs) {
  ExactAccumulator a;
  for (double x : xs) a.add(x);
  return a.value();
}
}  // namespace

TEST(ExactSum, SmallIntegersAndCancellation) {
  EXPECT_EQ(exact_of({1, 2, 3}), 6.0);
  EXPECT_EQ(exact_of({1e100, 1.0, -1e100}), 1.0);  // plain summation gives 0
  EXPECT_EQ(exact_of({}), 0.0);
  EXPECT_EQ(exact_of({-5.5}), -5.5);
}

TEST(ExactSum, ExactValueOfTenthsIsCorrectlyRounded) {
  ExactAccumulator a;
  a.add(0.1);
  a.add(0.2);
  a.add(-0.3);
  // Independent: long double has 64-bit mantissa, enough for these three terms exactly.
  const long double ref =
      static_cast<long double>(0.1) + static_cast<long double>(0.2) - static_cast<long double>(0.3);
  EXPECT_EQ(a.value(), static_cast<double>(ref));
}

TEST(ExactSum, OrderIndependentOnMixedMagnitudes) {
  std::mt19937_64 rng(42);
  std::vector<double> xs;
  for (int i = 0; i < 20000; ++i) {
    const double mag = std::ldexp(1.0, static_cast<int>(rng() % 600) - 300);
    xs.push_back((rng() % 2 ? 1 : -1) * mag * (1.0 + static_cast<double>(rng() % 1000) / 997.0));
  }
  const double first = exact_of(xs);
  for (int t = 0; t < 5; ++t) {
    std::shuffle(xs.begin(), xs.end(), rng);
    EXPECT_EQ(exact_of(xs), first);
  }
  // Splitting into groups and merging gives the same bits.
  ExactAccumulator a, b;
  for (std::size_t i = 0; i < xs.size(); ++i) (i % 3 ? a : b).add(xs[i]);
  a.add(b);
  EXPECT_EQ(a.value(), first);
  // Limb round trip.
  const auto limbs = a.normalized();
  EXPECT_EQ(ExactAccumulator::from_limbs(limbs).value(), first);
}

TEST(ExactSum, MatchesIntegerArithmetic) {
  // Sums of integers times a power of two are exact in int64: an independent reference.
  std::mt19937_64 rng(7);
  std::int64_t ref = 0;
  ExactAccumulator a;
  for (int i = 0; i < 100000; ++i) {
    const std::int64_t k = static_cast<std::int64_t>(rng() % 2000001) - 1000000;
    ref += k;
    a.add(std::ldexp(static_cast<double>(k), -40));
  }
  EXPECT_EQ(a.value(), std::ldexp(static_cast<double>(ref), -40));
}

TEST(ExactSum, ExtremesOfTheRange) {
  const double tiny = std::numeric_limits<double>::denorm_min();
  EXPECT_EQ(exact_of({tiny, tiny, tiny}), 3 * tiny);
  EXPECT_EQ(exact_of({DBL_MAX, -DBL_MAX, tiny}), tiny);
  EXPECT_EQ(exact_of({DBL_MAX, DBL_MIN, -DBL_MAX}), DBL_MIN);
  EXPECT_THROW(exact_of({DBL_MAX, DBL_MAX}), ecom::Error);  // result beyond double
  EXPECT_THROW(exact_of({1.0, std::numeric_limits<double>::quiet_NaN()}), ecom::Error);
  EXPECT_THROW(exact_of({std::numeric_limits<double>::infinity()}), ecom::Error);
}

TEST(ExactSum, RoundsHalfToEven) {
  // 1 + 2^-53 is a tie between 1 and 1 + 2^-52: to even gives 1.
  EXPECT_EQ(exact_of({1.0, std::ldexp(1.0, -53)}), 1.0);
  // 1 + 2^-53 + 2^-200 is above the tie: rounds up (needs the sticky bit).
  EXPECT_EQ(exact_of({1.0, std::ldexp(1.0, -53), std::ldexp(1.0, -200)}),
            1.0 + std::ldexp(1.0, -52));
  // 1 + 3*2^-53 is a tie between 1+2^-52 and 1+2^-51: to even gives 1 + 2^-51.
  EXPECT_EQ(exact_of({1.0, 3 * std::ldexp(1.0, -53)}), 1.0 + std::ldexp(1.0, -51));
}

TEST(VShardMap, OwnershipIsContiguousAndComplete) {
  for (std::uint32_t v : {1u, 7u, 64u, 4096u}) {
    for (int p = 1; p <= static_cast<int>(std::min<std::uint32_t>(v, 13)); ++p) {
      VShardMap m(v, p);
      EXPECT_EQ(m.first_vshard(0), 0u);
      EXPECT_EQ(m.end_vshard(p - 1), v);
      for (int r = 0; r < p; ++r) {
        EXPECT_LE(m.first_vshard(r), m.end_vshard(r));
        for (std::uint32_t s = m.first_vshard(r); s < m.end_vshard(r); ++s)
          ASSERT_EQ(m.owner_of_vshard(s), r) << "v=" << v << " p=" << p << " s=" << s;
      }
    }
  }
  EXPECT_THROW(VShardMap(4, 5), ecom::UserError);
  EXPECT_THROW(VShardMap(4, 0), ecom::UserError);
}

TEST(VShardMap, HashRangesAreMonotone) {
  VShardMap m(4096, 3);
  EXPECT_EQ(m.vshard_of(0), 0u);
  EXPECT_EQ(m.vshard_of(~0ULL), 4095u);
  for (std::uint32_t s : {1u, 17u, 2048u, 4095u}) {
    const std::uint64_t h = VShardMap::first_hash(s, 4096);
    EXPECT_EQ(m.vshard_of(h), s);
    EXPECT_EQ(m.vshard_of(h - 1), s - 1);
  }
  std::mt19937_64 rng(1);
  std::uint64_t prev = 0;
  std::vector<std::uint64_t> hs(10000);
  for (auto& h : hs) h = rng();
  std::sort(hs.begin(), hs.end());
  for (auto h : hs) {
    ASSERT_GE(m.owner_of(h), m.owner_of(prev));
    prev = h;
  }
}

TEST(Random, PhiloxKnownAnswers) {
  // Random123 tests/kat_vectors, philox4x32 10.
  using A4 = std::array<std::uint32_t, 4>;
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (A4{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32_10({~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}),
            (A4{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(
      philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
      (A4{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Random, PureFunctionAndDistribution) {
  EXPECT_EQ(uniform(1, Purpose::test, 42, 3), uniform(1, Purpose::test, 42, 3));
  EXPECT_NE(uniform(1, Purpose::test, 42, 3), uniform(1, Purpose::test, 42, 4));
  EXPECT_NE(uniform(1, Purpose::test, 42, 3), uniform(2, Purpose::test, 42, 3));
  EXPECT_NE(uniform(1, Purpose::test, 42, 3), uniform(1, Purpose::split, 42, 3));
  const int n = 200000;
  double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
  int bins[10] = {};
  for (int i = 0; i < n; ++i) {
    const double u = uniform(9, Purpose::test, static_cast<std::uint64_t>(i), 0);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum2 += u * u;
    ++bins[static_cast<int>(u * 10)];
    const double z = normal(9, Purpose::test, static_cast<std::uint64_t>(i), 1);
    nsum += z;
    nsum2 += z * z;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.005);
  EXPECT_NEAR(sum2 / n - (sum / n) * (sum / n), 1.0 / 12, 0.005);
  for (int b : bins) EXPECT_NEAR(b, n / 10, 5 * std::sqrt(n / 10.0));
  EXPECT_NEAR(nsum / n, 0.0, 0.01);
  EXPECT_NEAR(nsum2 / n, 1.0, 0.02);
  for (int i = 0; i < 1000; ++i)
    EXPECT_LT(uniform_index(3, Purpose::test, static_cast<std::uint64_t>(i), 0, 7), 7u);
}

TEST(Random, StreamFollowsCounters) {
  Stream s(5, Purpose::synth_user, 77);
  EXPECT_EQ(s.uniform(), uniform(5, Purpose::synth_user, 77, 0));
  EXPECT_EQ(s.uniform(), uniform(5, Purpose::synth_user, 77, 1));
  EXPECT_EQ(s.counter(), 2u);
}
