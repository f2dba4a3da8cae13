#pragma once
// The fixed-size event record that travels through shuffle, store and features.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ecom {

enum class EventType : std::uint8_t { view = 0, cart = 1, remove_from_cart = 2, purchase = 3 };
inline constexpr int kEventTypes = 4;
inline constexpr std::array<std::string_view, kEventTypes> kEventTypeNames = {
    "view", "cart", "remove_from_cart", "purchase"};

inline std::optional<EventType> parse_event_type(std::string_view s) {
  for (int i = 0; i < kEventTypes; ++i)
    if (kEventTypeNames[static_cast<std::size_t>(i)] == s) return static_cast<EventType>(i);
  return std::nullopt;
}
inline std::string_view name_of(EventType t) {
  return kEventTypeNames[static_cast<std::size_t>(t)];
}

// Id used for an empty brand / category_code ("unknown").
inline constexpr std::uint64_t kUnknownStringId = 0;

// One cleaned event, 64 bytes, trivially copyable (sent as raw bytes by the shuffle).
struct Event {
  std::uint64_t user;         // pseudonym (keyed hash of the raw user_id)
  std::uint64_t product;      // product_id as given
  std::uint64_t category_id;  // category_id as given
  std::uint64_t category;     // string id of lower-cased category_code (kUnknownStringId if empty)
  std::uint64_t brand;        // string id of lower-cased brand (kUnknownStringId if empty)
  std::uint64_t session;      // 64-bit hash of user_session
  double price;               // as given; >= 0 and finite after cleaning
  std::uint32_t time;         // seconds since 1970-01-01 00:00:00 UTC
  EventType type;
  std::uint8_t pad_[3] = {0, 0, 0};
};
static_assert(sizeof(Event) == 64);

}  // namespace ecom
