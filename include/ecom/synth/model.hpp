#pragma once
// Everything a rank needs to generate any user: preset, calendar, catalogue and sizes. Built
// identically on every rank from the options; generate_user() is a pure function of
// (model, user index), so the output does not depend on which rank generates which user.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ecom/core/types.hpp"
#include "ecom/synth/calendar.hpp"
#include "ecom/synth/catalogue.hpp"
#include "ecom/synth/preset.hpp"

namespace ecom::synth {

struct ModelOptions {
  std::string preset = "multi-category";
  std::uint64_t events = 1000000;  // rows wanted over the whole window (clean rows, about)
  std::vector<std::string> months{"2019-10"};
  std::uint64_t seed = 1;
  int future_days = 14;
  int taste_groups = 16;
};

// Randomness of the generator: par::Stream(seed, purpose, id) with these ids.
// (synth_user, user): archetype, taste, counts; (synth_event, user): sessions and events;
// (synth_user, user | kFutureTag): future purchases; (synth_dirty, user): dirty rows.
inline constexpr std::uint64_t kFutureTag = 1ULL << 62;

class Model {
 public:
  explicit Model(const ModelOptions& opts);

  const Preset& preset() const { return preset_; }
  const Calendar& calendar() const { return calendar_; }
  const Catalogue& catalogue() const { return catalogue_; }
  std::uint64_t seed() const { return seed_; }
  std::uint64_t users() const { return users_; }
  double expected_rows_per_user() const { return rows_per_user_; }

  // The raw user_id of user index i (9 digits for the presets; a bijection).
  std::uint64_t user_id(std::uint64_t index) const;

  // Expected rows of one user of archetype a (analytic; sizes the population).
  double expected_rows(int archetype) const;

  // Cumulative activity weights of archetype a over window days (days()+1 values, from 0)
  // and over the 24 hours (24 values).
  const std::vector<double>& day_cum(int a) const { return day_cum_[static_cast<std::size_t>(a)]; }
  const std::array<double, 24>& hour_cum(int a) const {
    return hour_cum_[static_cast<std::size_t>(a)];
  }

 private:
  Preset preset_;
  std::uint64_t seed_;
  Calendar calendar_;
  std::uint64_t users_ = 0;
  double rows_per_user_ = 0;
  Catalogue catalogue_;
  std::array<std::vector<double>, kArchetypes> day_cum_;
  std::array<std::array<double, 24>, kArchetypes> hour_cum_{};
};

// One generated row (before formatting). `time` is seconds since the epoch.
struct GenEvent {
  std::uint32_t time = 0;
  std::uint32_t product = 0;  // index into the catalogue
  std::uint32_t session = 0;  // index into UserData::sessions
  EventType type = EventType::view;
  bool duplicate = false;  // an exact copy of the previous row
};

struct GenSession {
  std::uint64_t uuid_hi = 0, uuid_lo = 0;  // random version-4 UUID
  std::uint32_t start = 0, end = 0;        // epoch seconds of first and last event
  std::uint32_t rows = 0;                  // rows including duplicates
};

struct FuturePurchase {
  std::uint32_t time = 0;
  std::uint32_t product = 0;
};

struct UserData {
  std::uint64_t index = 0;
  std::uint64_t user_id = 0;
  int archetype = 0;
  int taste_group = 0;
  std::vector<GenSession> sessions;    // in start-time order
  std::vector<GenEvent> events;        // in time order (ties: generation order)
  std::vector<FuturePurchase> future;  // in time order
};

// Scratch buffers reused across users (no allocation per user in steady state).
struct UserScratch {
  struct Item {
    std::uint32_t session, pos, seq;
    std::uint32_t product;
    EventType type;
  };
  std::vector<Item> items;
  std::vector<std::uint32_t> viewed;
  std::vector<std::uint32_t> session_views;  // views of each session
  std::vector<std::uint32_t> session_first;  // index in items of each session's first view
  std::vector<std::uint32_t> session_pick;   // sessions not yet holding a purchase
  std::vector<std::uint32_t> order;
  std::vector<GenEvent> events;
};

// Generates user `index` of the model: a pure function of (model, index).
void generate_user(const Model& model, std::uint64_t index, UserData& out, UserScratch& scratch);

}  // namespace ecom::synth
