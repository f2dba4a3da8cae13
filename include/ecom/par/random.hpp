#pragma once
// Counter-based random numbers: every value is a pure function of (seed, purpose, id, counter),
// so no decision depends on which rank made it or in which order (Philox4x32-10, Salmon et al.,
// "Parallel random numbers: as easy as 1, 2, 3", SC'11).
#include <array>
#include <cstdint>

namespace ecom::par {

// Named purposes keep streams of different decisions independent.
enum class Purpose : std::uint32_t {
  test = 0,
  synth_user = 1,
  synth_event = 2,
  synth_dirty = 3,
  kmeans_init = 10,
  kmeans_reseed = 11,
  silhouette_sample = 12,
  gap_reference = 13,
  bootstrap = 14,  // bootstrap b uses Purpose(bootstrap) with counter b
  split = 20,
  als_init = 21,
  propensity_split = 22,
  report_sample = 23,
};

std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> counter,
                                           std::array<std::uint32_t, 2> key);

// 64 random bits.
std::uint64_t random_bits(std::uint64_t seed, Purpose purpose, std::uint64_t id,
                          std::uint32_t counter);
// Uniform in [0, 1) with 53 random bits.
double uniform(std::uint64_t seed, Purpose purpose, std::uint64_t id, std::uint32_t counter);
// Standard normal (Box-Muller on one Philox block).
double normal(std::uint64_t seed, Purpose purpose, std::uint64_t id, std::uint32_t counter);
// Uniform integer in [0, n), n > 0 (Lemire's multiply; bias < n / 2^64).
std::uint64_t uniform_index(std::uint64_t seed, Purpose purpose, std::uint64_t id,
                            std::uint32_t counter, std::uint64_t n);

// A sequential stream over one (seed, purpose, id): counter 0, 1, 2, ... Convenient for
// generating many values for one entity (e.g. all events of one synthetic user).
class Stream {
 public:
  Stream(std::uint64_t seed, Purpose purpose, std::uint64_t id)
      : seed_(seed), purpose_(purpose), id_(id) {}
  double uniform() { return par::uniform(seed_, purpose_, id_, counter_++); }
  double normal() { return par::normal(seed_, purpose_, id_, counter_++); }
  std::uint64_t index(std::uint64_t n) {
    return uniform_index(seed_, purpose_, id_, counter_++, n);
  }
  std::uint64_t bits() { return random_bits(seed_, purpose_, id_, counter_++); }
  std::uint32_t counter() const { return counter_; }

 private:
  std::uint64_t seed_;
  Purpose purpose_;
  std::uint64_t id_;
  std::uint32_t counter_ = 0;
};

}  // namespace ecom::par
