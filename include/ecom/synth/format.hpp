#pragma once
// REES46 row formatting and the malformed ("dirty") rows of --dirty. The dirty kinds and what
// each looks like are listed in append_dirty_row (format.cpp); a validator that checks, in this
// order, field count, event_time, event_type, product_id, category_id, price, user_id, user_session
// rejects each dirty row for exactly its kind (every other field of the row is valid).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "ecom/par/random.hpp"

namespace ecom::synth {

inline constexpr std::string_view kHeader =
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n";

void append_uint(std::string& out, std::uint64_t v);
// Price in cents as REES46 writes it: "35.79", "0.00", "2574.07".
void append_price(std::string& out, std::uint32_t cents);
// Lower-case 8-4-4-4-12 hex UUID; version nibble 4 and variant bits 10 are forced.
void append_uuid(std::string& out, std::uint64_t hi, std::uint64_t lo);
void make_uuid_v4(std::uint64_t& hi, std::uint64_t& lo);  // sets version/variant bits in place

inline constexpr int kDirtyKinds = 8;
enum class DirtyKind : std::uint8_t {
  field_count = 0,
  bad_time = 1,
  unknown_event_type = 2,
  bad_user_id = 3,
  bad_product_id = 4,
  bad_category_id = 5,
  bad_session = 6,
  bad_price = 7,
};
inline constexpr std::array<std::string_view, kDirtyKinds> kDirtyNames = {
    "field_count",    "bad_time",        "unknown_event_type", "bad_user_id",
    "bad_product_id", "bad_category_id", "bad_session",        "bad_price"};
// Number of variants (looks) of each kind; append_dirty_row (format.cpp) comments each one.
int dirty_variants(DirtyKind kind);

// The 9 fields of a valid row, as text.
struct RowFields {
  std::array<std::string, 9> f;
};
// Appends the dirty row of `kind`/`variant` made from the valid row `valid` (with its own
// user_session already set), followed by '\n'.
void append_dirty_row(std::string& out, const RowFields& valid, DirtyKind kind, int variant);

}  // namespace ecom::synth
