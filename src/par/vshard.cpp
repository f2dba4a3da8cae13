#include "ecom/par/vshard.hpp"

#include <string>

#include "ecom/core/error.hpp"

namespace ecom::par {

VShardMap::VShardMap(std::uint32_t vshards, int ranks) : v_(vshards), p_(ranks) {
  if (vshards == 0) throw UserError("the number of virtual shards must be positive");
  if (ranks < 1 || static_cast<std::uint64_t>(ranks) > vshards)
    throw UserError("cannot run on " + std::to_string(ranks) + " ranks with " +
                    std::to_string(vshards) + " virtual shards (ranks must be <= vshards)");
}

std::uint32_t VShardMap::first_vshard(int rank) const {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(rank) * v_ /
                                    static_cast<std::uint64_t>(p_));
}

std::uint32_t VShardMap::end_vshard(int rank) const { return first_vshard(rank + 1); }

int VShardMap::owner_of_vshard(std::uint32_t vshard) const {
  // The r with floor(r*V/P) <= v < floor((r+1)*V/P) is floor(((v+1)*P - 1) / V).
  return static_cast<int>(
      ((static_cast<std::uint64_t>(vshard) + 1) * static_cast<std::uint64_t>(p_) - 1) / v_);
}

std::uint64_t VShardMap::first_hash(std::uint32_t vshard, std::uint32_t vshards) {
  // Smallest h with floor(h*V/2^64) >= v, i.e. ceil(v * 2^64 / V).
  const u128 num = static_cast<u128>(vshard) << 64;
  const u128 h = (num + vshards - 1) / vshards;
  return static_cast<std::uint64_t>(h);  // wraps to 0 for v == V
}

}  // namespace ecom::par
