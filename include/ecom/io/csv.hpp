#pragma once
// The REES46 row parser and its validation rules: pure functions, no I/O, no MPI.
//
// A row is split into fields (RFC 4180 quoting: a field may be enclosed in double quotes and
// then contain commas and doubled quotes ""; a line break always ends a row, so a quoted field
// cannot span lines) and validated in a fixed order; the first failing rule names the reason:
//   field_count         not exactly 9 fields, or broken quoting (unterminated quote, text after
//                       a closing quote)
//   bad_time            event_time not "YYYY-MM-DD HH:MM:SS UTC" with a valid calendar date and
//                       time of day, or outside [1970-01-01, 2106-02-07 06:28:16) (32-bit time)
//   unknown_event_type  event_type not exactly one of view, cart, remove_from_cart, purchase
//   bad_product_id      product_id empty or not an unsigned decimal integer below 2^64
//   bad_category_id     category_id empty or not an unsigned decimal integer below 2^64
//   bad_price           price empty, non-numeric, NaN, infinite, negative, or above the price
//                       ceiling (--max-price, default kDefaultMaxPrice; zero is kept)
//   bad_user_id         user_id empty or not an unsigned decimal integer below 2^64 (leading
//                       zeros allowed: the id is canonicalised, privacy/user_id.hpp)
//   bad_session         user_session empty or only blanks
//   out_of_window       event_time outside the configured window [begin, end) (none by default)
//   bad_label           category_code or brand holds a NUL byte or is not valid UTF-8
// category_code and brand are free text: empty means unknown, never a reject.
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "ecom/core/types.hpp"
#include "ecom/io/csv_field.hpp"  // append_csv_field
#include "ecom/io/event_store.hpp"

namespace ecom::io {

// The exact header of a REES46 file (after an optional UTF-8 BOM; a trailing CR is tolerated).
inline constexpr std::string_view kReesHeader =
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session";

enum class Reason : std::uint8_t {
  field_count = 0,
  bad_time,
  unknown_event_type,
  bad_product_id,
  bad_category_id,
  bad_price,
  bad_user_id,
  bad_session,
  out_of_window,
  bad_label,
};
inline constexpr int kReasons = 10;
// The names of the reasons, in the order of the enum (and of validation): the one list.
inline constexpr std::array<std::string_view, kReasons> kReasonNames = {
    "field_count", "bad_time",    "unknown_event_type", "bad_product_id", "bad_category_id",
    "bad_price",   "bad_user_id", "bad_session",        "out_of_window",  "bad_label"};
inline std::string_view name_of(Reason r) { return kReasonNames[static_cast<std::size_t>(r)]; }

// The default price ceiling: a higher price is bad_price (sums of prices stay far from the range
// of double, and a price this high is a data error in a shop's event log).
inline constexpr double kDefaultMaxPrice = 1e6;

// Accepted event times, seconds since the epoch: [begin, end).
struct TimeWindow {
  std::int64_t begin = std::numeric_limits<std::int64_t>::min();
  std::int64_t end = std::numeric_limits<std::int64_t>::max();
  bool contains(std::int64_t t) const { return t >= begin && t < end; }
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "YYYY-MM-DD HH:MM:SS UTC" -> seconds since the epoch; nullopt unless exactly that form with a
// valid date and time of day (seconds 00..59). No range check beyond the calendar.
std::optional<std::int64_t> parse_event_time(std::string_view s);
// "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" (optionally followed by " UTC"), for window options.
std::optional<std::int64_t> parse_time_option(std::string_view s);
// Seconds since the epoch -> "YYYY-MM-DD HH:MM:SS" (UTC).
std::string format_time(std::int64_t t);

// Unsigned decimal integer below 2^64, digits only (no sign, no blanks).
std::optional<std::uint64_t> parse_u64(std::string_view s);
// A finite, non-negative decimal number (std::from_chars, correctly rounded); -0 gives +0.
std::optional<double> parse_price(std::string_view s);
// The fast path of parse_price: digits with at most one '.' (at least one digit, nothing else)
// whose integer mantissa is at most 2^53 with at most 22 digits after the point; nullopt for
// anything else (the caller then uses std::from_chars). Where it answers, the value is
// bit-identical to std::from_chars's.
std::optional<double> parse_decimal_exact(std::string_view s);

// True if a label (category_code, brand) may be stored: valid UTF-8 (no overlong forms, no
// surrogates, nothing above U+10FFFF) without NUL bytes.
bool is_valid_label(std::string_view s);
// Trims blanks (space, tab) and lower-cases ASCII letters into `out` (bytes >= 0x80 unchanged).
void clean_label(std::string_view s, std::string& out);

// Splits one row (no line terminator) into fields. Views point into the row or into the
// splitter's own storage (for quoted fields with doubled quotes) and stay valid until the next
// call to split().
class RowSplitter {
 public:
  // Returns the number of fields, or -1 for broken quoting. Counting stops at kInputColumns + 1.
  int split(std::string_view row);
  std::string_view operator[](std::size_t i) const { return fields_[i]; }
  const std::array<std::string_view, kInputColumns>& fields() const { return fields_; }

 private:
  int split_quoted(std::string_view row);
  std::array<std::string_view, kInputColumns> fields_{};
  std::array<std::string, kInputColumns> unescaped_{};
};

// A valid row: numbers parsed, text fields still raw (views into the row / splitter), except
// user_id, which is the canonical form (leading zeros removed) of the raw field.
struct ParsedRow {
  std::int64_t time = 0;
  EventType type = EventType::view;
  std::uint64_t product = 0;
  std::uint64_t category_id = 0;
  double price = 0;
  std::string_view category_code, brand, user_id, user_session;
};

// Validates the 9 split fields in the documented order; returns the first failing reason, or
// nullopt with `out` filled. Prices above `max_price` are bad_price.
std::optional<Reason> validate_fields(const std::array<std::string_view, kInputColumns>& f,
                                      const TimeWindow& window, ParsedRow& out,
                                      double max_price = kDefaultMaxPrice);

// Splits and validates one row (convenience for tests and callers without a splitter).
std::optional<Reason> parse_row(std::string_view row, const TimeWindow& window, RowSplitter& split,
                                ParsedRow& out, double max_price = kDefaultMaxPrice);

// True if `line` (one line, terminator removed) is the REES46 header, allowing a leading UTF-8
// BOM and a trailing CR.
bool is_rees_header(std::string_view line);

}  // namespace ecom::io
