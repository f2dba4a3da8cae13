#pragma once
// Implicit-feedback interactions for ALS: one record per (user, product) aggregated from the
// user's events, the keyed train/test holdout, and the transposed (item-owner) view.
// Definitions: docs/ALS.md.
#include <cstdint>
#include <span>
#include <vector>

#include "ecom/core/hash.hpp"
#include "ecom/core/types.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/vshard.hpp"

namespace ecom::ml {

// r = min(cap, sum of event weights); confidence c = 1 + alpha * r.
struct InteractionWeights {
  double view = 1.0;
  double cart = 3.0;
  double remove_from_cart = 0.0;
  double purchase = 5.0;
  double cap = 10.0;

  double weight(EventType t) const {
    switch (t) {
      case EventType::view:
        return view;
      case EventType::cart:
        return cart;
      case EventType::remove_from_cart:
        return remove_from_cart;
      case EventType::purchase:
        return purchase;
    }
    return 0.0;
  }
};

// One (user, product) pair. Pairs whose strength is 0 (only zero-weight events) are kept so
// that exclusions (e.g. "purchased") and the catalogue see them; ALS ignores them.
struct Interaction {
  std::uint64_t user = 0;         // pseudonym
  std::uint64_t product = 0;      // product_id
  std::uint64_t category_id = 0;  // category_id of the user's last event on the product
  double strength = 0.0;          // r >= 0
  std::uint32_t first_time = 0;   // first and last event time of the pair (s since epoch)
  std::uint32_t last_time = 0;
  std::uint8_t types = 0;    // bit t set iff an event of EventType t occurred
  std::uint8_t is_test = 0;  // set by split_holdout
  std::uint8_t pad_[6] = {0, 0, 0, 0, 0, 0};

  bool purchased() const { return (types >> static_cast<int>(EventType::purchase)) & 1U; }
  // A pair the ALS trains on / a holdout pair it is evaluated on (both need a strength).
  bool is_train() const { return strength > 0.0 && is_test == 0; }
  bool is_holdout() const { return strength > 0.0 && is_test != 0; }
};
static_assert(sizeof(Interaction) == 48);

// Local. `events` sorted by (user, time) (the store order). Returns one record per
// (user, product), sorted by (user, product).
std::vector<Interaction> build_interactions(std::span<const Event> events,
                                            const InteractionWeights& weights);

// Sorted unique users of `events` (which must be sorted by user).
std::vector<std::uint64_t> distinct_users(std::span<const Event> events);

struct HoldoutConfig {
  std::uint64_t seed = 42;
  double test_fraction = 0.2;  // keyed: test iff keyed_holdout(...) (see below)
  double test_days = 0.0;      // > 0: by time instead: test iff the pair's first event is in
                               // the last `test_days` days before the global maximum time
};

// Collective (one allreduce when splitting by time). Sets Interaction::is_test; pairs with
// strength 0 are never test. Returns the number of local test pairs.
std::size_t split_holdout(par::Comm& comm, std::span<Interaction> interactions,
                          const HoldoutConfig& config);

// The keyed split decision for one pair (pure):
// uniform(seed, Purpose::split, user ^ mix64(product), uint32(product)) < test_fraction.
bool keyed_holdout(std::uint64_t seed, double test_fraction, std::uint64_t user,
                   std::uint64_t product);

// Product -> item owner rank: products are sharded by product_hash over the vshards.
inline int item_owner(const par::VShardMap& map, std::uint64_t product) {
  return map.owner_of(product_hash(product));
}

}  // namespace ecom::ml
