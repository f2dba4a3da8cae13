#include "ecom/io/csv.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace ecom::io {

namespace {
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr unsigned digit(char c) { return static_cast<unsigned>(c - '0'); }

// Two digits at s[i], s[i+1] (both checked).
inline bool two_digits(std::string_view s, std::size_t i, unsigned& v) {
  if (!is_digit(s[i]) || !is_digit(s[i + 1])) return false;
  v = digit(s[i]) * 10 + digit(s[i + 1]);
  return true;
}

constexpr bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// "YYYY-MM-DD" at the start of s (s.size() >= 10) -> days since the epoch.
std::optional<std::int64_t> parse_date(std::string_view s) {
  if (s[4] != '-' || s[7] != '-') return std::nullopt;
  unsigned y_hi = 0, y_lo = 0, m = 0, d = 0;
  if (!two_digits(s, 0, y_hi) || !two_digits(s, 2, y_lo) || !two_digits(s, 5, m) ||
      !two_digits(s, 8, d))
    return std::nullopt;
  const std::int64_t y = static_cast<std::int64_t>(y_hi) * 100 + y_lo;
  if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return std::nullopt;
  return days_from_civil(y, m, d);
}

// "HH:MM:SS" at s[0..8) -> seconds of the day.
std::optional<std::int64_t> parse_clock(std::string_view s) {
  if (s[2] != ':' || s[5] != ':') return std::nullopt;
  unsigned h = 0, mi = 0, se = 0;
  if (!two_digits(s, 0, h) || !two_digits(s, 3, mi) || !two_digits(s, 6, se)) return std::nullopt;
  if (h > 23 || mi > 59 || se > 59) return std::nullopt;
  return static_cast<std::int64_t>(h) * 3600 + mi * 60 + se;
}

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Eight ASCII digits at p -> their value in `out`; false (out unspecified) unless all eight are
// digits. SWAR on a little-endian load; a plain loop elsewhere.
inline bool eight_digits(const char* p, std::uint32_t& out) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  std::uint64_t x = 0;
  std::memcpy(&x, p, 8);
  // Each byte 0x30..0x39: high nibble 3, and adding 6 leaves the high nibble 3.
  const bool ok =
      ((x & 0xF0F0F0F0F0F0F0F0ULL) |
       (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) == 0x3333333333333333ULL;
  x = (x & 0x0F0F0F0F0F0F0F0FULL) * 2561 >> 8;      // pairs of digits
  x = (x & 0x00FF00FF00FF00FFULL) * 6553601 >> 16;  // groups of four
  out = static_cast<std::uint32_t>((x & 0x0000FFFF0000FFFFULL) * 42949672960001ULL >> 32);
  return ok;
#else
  std::uint32_t v = 0;
  bool ok = true;
  for (int i = 0; i < 8; ++i) {
    ok &= is_digit(p[i]);
    v = v * 10 + digit(p[i]);
  }
  out = v;
  return ok;
#endif
}
}  // namespace

std::optional<std::int64_t> parse_event_time(std::string_view s) {
  // 2019-10-01 00:00:00 UTC
  if (s.size() != 23) return std::nullopt;
  const char* p = s.data();
  if (p[10] != ' ' || p[13] != ':' || p[16] != ':' || std::memcmp(p + 19, " UTC", 4) != 0)
    return std::nullopt;
  // The date: consecutive rows mostly share it, so the last valid one is remembered (per
  // thread) with its day number.
  struct LastDate {
    char text[10] = {'1', '9', '7', '0', '-', '0', '1', '-', '0', '1'};  // a valid date
    std::int64_t days = 0;
  };
  thread_local LastDate last;
  std::int64_t days = 0;
  if (std::memcmp(p, last.text, 10) == 0) {
    days = last.days;
  } else {
    const auto parsed = parse_date(s);
    if (!parsed) return std::nullopt;
    days = *parsed;
    std::memcpy(last.text, p, 10);
    last.days = days;
  }
  const bool bad = !is_digit(p[11]) | !is_digit(p[12]) | !is_digit(p[14]) | !is_digit(p[15]) |
                   !is_digit(p[17]) | !is_digit(p[18]);
  if (bad) return std::nullopt;
  const unsigned h = digit(p[11]) * 10 + digit(p[12]);
  const unsigned mi = digit(p[14]) * 10 + digit(p[15]);
  const unsigned se = digit(p[17]) * 10 + digit(p[18]);
  if (h > 23 || mi > 59 || se > 59) return std::nullopt;
  return days * 86400 + static_cast<std::int64_t>(h * 3600 + mi * 60 + se);
}

std::optional<std::int64_t> parse_time_option(std::string_view s) {
  if (s.size() >= 4 && s.substr(s.size() - 4) == " UTC") s.remove_suffix(4);
  if (s.size() == 10) {
    const auto days = parse_date(s);
    if (!days) return std::nullopt;
    return *days * 86400;
  }
  if (s.size() != 19 || (s[10] != ' ' && s[10] != 'T')) return std::nullopt;
  const auto days = parse_date(s);
  const auto secs = parse_clock(s.substr(11, 8));
  if (!days || !secs) return std::nullopt;
  return *days * 86400 + *secs;
}

std::string format_time(std::int64_t t) {
  // civil_from_days (Hinnant).
  std::int64_t z = (t >= 0 ? t : t - 86399) / 86400;
  const std::int64_t secs = t - z * 86400;
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02lld:%02lld:%02lld", static_cast<long long>(y),
                m, d, static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  if (s.size() <= 19) {  // below 10^19 < 2^64: no overflow possible
    const char* p = s.data();
    std::size_t left = s.size();
    bool bad = false;
    for (; left >= 8; left -= 8, p += 8) {
      std::uint32_t eight = 0;
      bad |= !eight_digits(p, eight);
      v = v * 100000000 + eight;
    }
    for (; left > 0; --left, ++p) {
      const auto d = static_cast<unsigned char>(*p - '0');
      bad |= d > 9;
      v = v * 10 + d;
    }
    if (bad) return std::nullopt;
    return v;
  }
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    const std::uint64_t d = digit(c);
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<double> parse_price(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (const auto fast = parse_decimal_exact(s)) return *fast;  // never negative, never -0
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (!std::isfinite(v) || v < 0) return std::nullopt;
  return v == 0 ? 0.0 : v;  // -0 -> +0
}

std::optional<double> parse_decimal_exact(std::string_view s) {
  // Clinger's fast path: with an integer mantissa m <= 2^53 and k <= 22 fraction digits, m and
  // 10^k are exact doubles and one IEEE division (round to nearest) gives the correctly rounded
  // value of m / 10^k, i.e. what std::from_chars gives.
  static constexpr double kPow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  constexpr std::size_t kMaxDigits = 19;  // below 10^19 < 2^64: no overflow
  std::uint64_t m = 0;
  std::size_t digits = 0, frac = 0;
  bool dot = false;
  for (const char c : s) {
    if (is_digit(c)) {
      if (++digits > kMaxDigits) return std::nullopt;
      m = m * 10 + digit(c);
      frac += dot ? 1 : 0;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      return std::nullopt;
    }
  }
  if (digits == 0 || m > (std::uint64_t{1} << 53) || frac > 22) return std::nullopt;
  return static_cast<double>(m) / kPow10[frac];
}

bool is_valid_label(std::string_view s) {
  const char* p = s.data();
  const std::size_t n = s.size();
  std::size_t i = 0;
  // ASCII without NUL, eight bytes at a time: no high bit set and no zero byte.
  constexpr std::uint64_t kLow = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x = 0;
    std::memcpy(&x, p + i, 8);
    if (((x | ((x - kLow) & ~x)) & kHigh) != 0) break;
  }
  while (i < n) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    // A multi-byte sequence: lead byte, then 1-3 continuation bytes 10xxxxxx; no overlong
    // forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > n) return false;
    const auto c1 = static_cast<unsigned char>(p[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (std::size_t k = 2; k < len; ++k)
      if ((static_cast<unsigned char>(p[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

void clean_label(std::string_view s, std::string& out) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_blank(s[b])) ++b;
  while (e > b && is_blank(s[e - 1])) --e;
  out.resize(e - b);
  for (std::size_t i = b; i < e; ++i) {
    const char c = s[i];
    out[i - b] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
}

int RowSplitter::split(std::string_view row) {
  // One pass over the row for commas and quotes (16 bytes at a time where SSE2 is available);
  // any quote hands the row to split_quoted.
  const char* p = row.data();
  const std::size_t len = row.size();
  int n = 0;
  std::size_t start = 0;
  auto field_ends_at = [&](std::size_t end) {
    if (n < kInputColumns) fields_[static_cast<std::size_t>(n)] = row.substr(start, end - start);
    ++n;
    start = end + 1;
  };
  std::size_t i = 0;
#ifdef __SSE2__
  const __m128i comma = _mm_set1_epi8(',');
  const __m128i quote = _mm_set1_epi8('"');
  for (; i + 16 <= len; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) != 0) return split_quoted(row);
    auto commas = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma)));
    while (commas != 0) {
      field_ends_at(i + static_cast<std::size_t>(__builtin_ctz(commas)));
      commas &= commas - 1;
    }
  }
#endif
  for (; i < len; ++i) {
    if (p[i] == '"') return split_quoted(row);
    if (p[i] == ',') field_ends_at(i);
  }
  field_ends_at(len);
  return std::min(n, kInputColumns + 1);
}

int RowSplitter::split_quoted(std::string_view row) {
  int n = 0;
  std::size_t i = 0;
  const std::size_t len = row.size();
  while (true) {
    std::string_view field;
    if (i < len && row[i] == '"') {
      // Quoted field: up to the closing quote; "" is an escaped quote.
      std::size_t j = i + 1;
      bool escaped = false;
      while (true) {
        if (j >= len) return -1;  // unterminated
        if (row[j] == '"') {
          if (j + 1 < len && row[j + 1] == '"') {
            escaped = true;
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      // row[j] is the closing quote; a comma or the end must follow.
      if (j + 1 < len && row[j + 1] != ',') return -1;
      field = row.substr(i + 1, j - i - 1);
      if (escaped && n < kInputColumns) {
        std::string& buf = unescaped_[static_cast<std::size_t>(n)];
        buf.clear();
        for (std::size_t k = 0; k < field.size(); ++k) {
          buf += field[k];
          if (field[k] == '"') ++k;  // skip the second quote of a pair
        }
        field = buf;
      }
      i = j + 1;
    } else {
      const std::size_t comma = row.find(',', i);
      const std::size_t end = comma == std::string_view::npos ? len : comma;
      field = row.substr(i, end - i);
      i = end;
    }
    if (n < kInputColumns) fields_[static_cast<std::size_t>(n)] = field;
    ++n;
    if (i >= len || n > kInputColumns) break;
    ++i;             // past the comma
    if (i == len) {  // a trailing comma: one more, empty field
      if (n < kInputColumns) fields_[static_cast<std::size_t>(n)] = std::string_view();
      ++n;
      break;
    }
  }
  return n;
}

std::optional<Reason> validate_fields(const std::array<std::string_view, kInputColumns>& f,
                                      const TimeWindow& window, ParsedRow& out, double max_price) {
  const auto t = parse_event_time(f[0]);
  if (!t || *t < 0 || *t > static_cast<std::int64_t>(std::numeric_limits<std::uint32_t>::max()))
    return Reason::bad_time;
  out.time = *t;
  const auto type = parse_event_type(f[1]);
  if (!type) return Reason::unknown_event_type;
  out.type = *type;
  const auto product = parse_u64(f[2]);
  if (!product) return Reason::bad_product_id;
  out.product = *product;
  const auto category = parse_u64(f[3]);
  if (!category) return Reason::bad_category_id;
  out.category_id = *category;
  const auto price = parse_price(f[6]);
  if (!price || *price > max_price) return Reason::bad_price;
  out.price = *price;
  // privacy::canonical_user_id's rule (leading zeros removed, then a decimal below 2^64), with
  // parse_u64's SWAR digit check on the hot path; the fuzz tests check that both agree.
  std::string_view user = f[7];
  while (user.size() > 1 && user[0] == '0') user.remove_prefix(1);
  if (!parse_u64(user)) return Reason::bad_user_id;
  out.user_id = user;
  std::string_view session = f[8];
  bool blank = true;
  for (char c : session)
    if (!is_blank(c)) {
      blank = false;
      break;
    }
  if (blank) return Reason::bad_session;
  out.user_session = session;
  if (!window.contains(out.time)) return Reason::out_of_window;
  if (!is_valid_label(f[4]) || !is_valid_label(f[5])) return Reason::bad_label;
  out.category_code = f[4];
  out.brand = f[5];
  return std::nullopt;
}

std::optional<Reason> parse_row(std::string_view row, const TimeWindow& window, RowSplitter& split,
                                ParsedRow& out, double max_price) {
  if (split.split(row) != kInputColumns) return Reason::field_count;
  return validate_fields(split.fields(), window, out, max_price);
}

bool is_rees_header(std::string_view line) {
  if (line.size() >= 3 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line == kReesHeader;
}

}  // namespace ecom::io
