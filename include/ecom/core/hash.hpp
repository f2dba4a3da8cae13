#pragma once
// Non-secret hashes: item sharding, string dictionary ids, session ids.
#include <cstdint>
#include <string_view>

namespace ecom {

// Stafford's "mix13" finaliser (the SplitMix64 output function): a bijection on 64 bits.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// 64-bit hash of a byte string (FNV-1a then mix64); never returns kUnknownStringId (0)
// for a non-empty string, and returns 0 for the empty string.
constexpr std::uint64_t string_id(std::string_view s) noexcept {
  if (s.empty()) return 0;
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h = mix64(h ^ s.size());
  return h == 0 ? 1 : h;
}

// Hash that places a product on a virtual shard (products are not personal data).
constexpr std::uint64_t product_hash(std::uint64_t product_id) noexcept {
  return mix64(product_id ^ 0x9e3779b97f4a7c15ULL);
}

}  // namespace ecom
