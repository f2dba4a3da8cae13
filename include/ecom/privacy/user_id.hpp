#pragma once
// The canonical form of a raw user id, applied before pseudonymisation everywhere a raw id
// enters (ingest, score, `pseudonymize`, `forget`), so that one person has one pseudonym.
//
// Rule: a user id is a plain decimal integer below 2^64: ASCII digits only (no sign, blank,
// point or exponent), at least one digit. Its canonical form has the leading zeros removed
// ("000596899981" -> "596899981", "000" -> "0"); the value must then be at most
// 18446744073709551615. Anything else is not a user id (`bad_user_id` at ingest, an error in
// `pseudonymize` and `forget`). Header-only: the row parser (io) uses it without linking privacy.
#include <optional>
#include <string_view>

namespace ecom::privacy {

// The canonical form of `raw` (a view into it), or nullopt if `raw` is not a plain decimal
// integer below 2^64.
inline std::optional<std::string_view> canonical_user_id(std::string_view raw) {
  if (raw.empty()) return std::nullopt;
  std::size_t zeros = 0;
  while (zeros + 1 < raw.size() && raw[zeros] == '0') ++zeros;
  const std::string_view id = raw.substr(zeros);
  for (const char c : id)
    if (c < '0' || c > '9') return std::nullopt;
  constexpr std::string_view kMax = "18446744073709551615";  // 2^64 - 1
  if (id.size() > kMax.size() || (id.size() == kMax.size() && id > kMax)) return std::nullopt;
  return id;
}

}  // namespace ecom::privacy
