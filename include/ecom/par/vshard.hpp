#pragma once
// Virtual shards: the 64-bit hash space cut into V equal ranges; rank r of P owns the contiguous
// vshards [floor(r*V/P), floor((r+1)*V/P)). Pure arithmetic, no MPI.
#include <cstdint>

#include "ecom/core/uint128.hpp"

namespace ecom::par {

inline constexpr std::uint32_t kDefaultVShards = 4096;

class VShardMap {
 public:
  VShardMap(std::uint32_t vshards, int ranks);  // throws UserError unless 1 <= ranks <= vshards

  std::uint32_t vshards() const { return v_; }
  int ranks() const { return p_; }

  // vshard of a hash: floor(hash * V / 2^64), monotone in the hash.
  std::uint32_t vshard_of(std::uint64_t hash) const {
    return static_cast<std::uint32_t>((static_cast<u128>(hash) * v_) >> 64);
  }
  int owner_of_vshard(std::uint32_t vshard) const;
  int owner_of(std::uint64_t hash) const { return owner_of_vshard(vshard_of(hash)); }
  std::uint32_t first_vshard(int rank) const;  // inclusive
  std::uint32_t end_vshard(int rank) const;    // exclusive
  // Smallest hash in vshard v (for v == V: returns 0 and `is_end`).
  static std::uint64_t first_hash(std::uint32_t vshard, std::uint32_t vshards);

 private:
  std::uint32_t v_;
  int p_;
};

}  // namespace ecom::par
