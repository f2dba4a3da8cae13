#pragma once
// Sorting and exact-duplicate removal of a rank's events after the shuffle (pure, no MPI).
#include <cstdint>
#include <functional>
#include <span>

#include "ecom/core/types.hpp"

namespace ecom::io {

// The ingest run carries each event's input-file index in Event::pad_ (little-endian 16 bits)
// through the shuffle, for per-file counts; it is cleared before the events are stored.
inline void set_file_tag(Event& e, std::uint16_t file) {
  e.pad_[0] = static_cast<std::uint8_t>(file & 0xff);
  e.pad_[1] = static_cast<std::uint8_t>(file >> 8);
  e.pad_[2] = 0;
}
inline std::uint16_t file_tag(const Event& e) {
  return static_cast<std::uint16_t>(e.pad_[0] | (e.pad_[1] << 8));
}
inline constexpr std::size_t kMaxFilesPerRun = 65536;

// io::event_less, then the file tag, then category_id, category and brand: a total order on
// every field ingest stores, so sorting gives the same sequence whatever the input order.
bool event_tag_less(const Event& a, const Event& b);

// Sorts by event_tag_less in place: one in-place bucket pass on the user pseudonym (uniform
// hashes) followed by std::sort of each small bucket. Same result as std::sort.
void sort_events(std::span<Event> events);

// True if a and b are exact duplicates: same (user, time, type, product, session).
inline bool same_event(const Event& a, const Event& b) {
  return a.user == b.user && a.time == b.time && a.type == b.type && a.product == b.product &&
         a.session == b.session;
}

// Removes exact duplicates from sorted events in place, keeping the first of each run (lowest
// price, then lowest file tag, then lowest category_id, category, brand); calls on_removed for each
// removed event. Returns the new size.
std::size_t remove_duplicates(std::span<Event> events,
                              const std::function<void(const Event&)>& on_removed = {});

}  // namespace ecom::io
