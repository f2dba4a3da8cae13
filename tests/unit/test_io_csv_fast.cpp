// The parser's fast paths against independent references: prices bit for bit against
// std::from_chars, event times against timegm with a character-by-character format check,
// unsigned integers against 128-bit arithmetic, the one-pass splitter against a plain split.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "ecom/core/uint128.hpp"
#include "ecom/io/csv.hpp"

using namespace ecom;
using namespace ecom::io;

namespace {

// parse_price's contract, written with std::from_chars only.
std::optional<double> price_reference(const std::string& s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (!std::isfinite(v) || v < 0) return std::nullopt;
  return v == 0 ? 0.0 : v;
}

void expect_same_price(const std::string& s) {
  const auto got = parse_price(s);
  const auto want = price_reference(s);
  ASSERT_EQ(got.has_value(), want.has_value()) << '"' << s << '"';
  if (got) {
    std::uint64_t a = 0, b = 0;
    std::memcpy(&a, &*got, 8);
    std::memcpy(&b, &*want, 8);
    ASSERT_EQ(a, b) << '"' << s << "\" " << *got << " vs " << *want;
  }
  if (const auto fast = parse_decimal_exact(s)) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    ASSERT_EQ(ec, std::errc()) << s;
    ASSERT_EQ(end, s.data() + s.size()) << s;
    std::uint64_t a = 0, b = 0;
    std::memcpy(&a, &*fast, 8);
    std::memcpy(&b, &v, 8);
    ASSERT_EQ(a, b) << '"' << s << '"';
  }
}

// Event time reference: the format checked character by character, the calendar by timegm and
// a round trip through gmtime (timegm normalises impossible dates such as Feb 30).
std::optional<std::int64_t> time_reference(const std::string& s) {
  const std::string pattern = "dddd-dd-dd dd:dd:dd UTC";
  if (s.size() != pattern.size()) return std::nullopt;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (pattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pattern[i]) return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = std::stoi(s.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(s.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(s.substr(8, 2));
  tm.tm_hour = std::stoi(s.substr(11, 2));
  tm.tm_min = std::stoi(s.substr(14, 2));
  tm.tm_sec = std::stoi(s.substr(17, 2));
  const std::tm asked = tm;
  const std::time_t t = timegm(&tm);
  std::tm back{};
  gmtime_r(&t, &back);
  if (back.tm_year != asked.tm_year || back.tm_mon != asked.tm_mon ||
      back.tm_mday != asked.tm_mday || back.tm_hour != asked.tm_hour ||
      back.tm_min != asked.tm_min || back.tm_sec != asked.tm_sec)
    return std::nullopt;
  return static_cast<std::int64_t>(t);
}

// parse_u64 also refuses more than 20 characters (leading zeros included).
std::optional<std::uint64_t> u64_reference(const std::string& s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  u128 v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > UINT64_MAX) return std::nullopt;
  }
  return static_cast<std::uint64_t>(v);
}

}  // namespace

TEST(CsvFast, PriceEdgeCases) {
  for (const std::string s : {"1e5",
                              "0.1",
                              "12345678901234567890.5",
                              "-0",
                              "-0.0",
                              "nan",
                              "NaN",
                              "inf",
                              "INF",
                              "infinity",
                              "-inf",
                              ".5",
                              "5.",
                              ".",
                              "..5",
                              "5..",
                              "5.5.",
                              "",
                              "0",
                              "0.0",
                              "00012.50",
                              "1e400",
                              "1e-400",
                              "1e308",
                              "1.7976931348623157e308",
                              "1.7976931348623159e308",
                              "2.2250738585072014e-308",
                              "4.9e-324",
                              "9007199254740992",
                              "9007199254740993",
                              "9007199254740992.5",
                              "900719925474099.3",
                              "9007199254740991.0",
                              "1e22",
                              "1e23",
                              "10000000000000000000000",
                              "0.0000000000000000000001",
                              "0.00000000000000000000001",
                              "1234567890123456789",
                              "12345678901234567890",
                              "0.30000000000000004",
                              "123.456",
                              "+1",
                              "-1",
                              "-0.5",
                              " 1",
                              "1 ",
                              "0x10",
                              "1e",
                              "e5",
                              "1E5",
                              "5e+3",
                              "5e-3",
                              "1_0",
                              "35.79",
                              "2574.07",
                              "0.000000000000000000000000000000001",
                              "999999999999999999999.999",
                              "4503599627370497.5",
                              "0000000000000000000000000000001.5",
                              "1.00000000000000000000001"})
    expect_same_price(s);
}

TEST(CsvFast, PriceRandomDecimals) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 300000; ++i) {
    // A mantissa of 1 to 20 digits (around 2^53 too), a point anywhere (or none).
    std::string digits;
    const int kind = static_cast<int>(rng() % 4);
    if (kind == 0) {
      digits = std::to_string((std::uint64_t{1} << 53) - 3 + rng() % 7);
    } else {
      const int len = 1 + static_cast<int>(rng() % 20);
      for (int k = 0; k < len; ++k) digits += static_cast<char>('0' + rng() % 10);
    }
    const std::size_t point = rng() % (digits.size() + 2);
    std::string s =
        point <= digits.size() ? digits.substr(0, point) + '.' + digits.substr(point) : digits;
    if (rng() % 50 == 0) {
      s.push_back('e');
      s.append(std::to_string(static_cast<int>(rng() % 40) - 20));
    }
    ASSERT_NO_FATAL_FAILURE(expect_same_price(s));
  }
}

TEST(CsvFast, EventTimeAgainstReference) {
  std::mt19937_64 rng(9);
  const std::string good[] = {"2019-10-01 00:00:00 UTC", "2020-02-29 23:59:59 UTC",
                              "2000-02-29 12:30:45 UTC", "1970-01-01 00:00:00 UTC"};
  const char alphabet[] = "0123456789-: UTCx/\0";
  for (int i = 0; i < 200000; ++i) {
    std::string s = good[rng() % 4];
    // Alternate between the remembered date and others, mutate one or two characters.
    const int mutations = static_cast<int>(rng() % 3);
    for (int m = 0; m < mutations; ++m)
      s[rng() % s.size()] = alphabet[rng() % (sizeof alphabet - 1)];
    if (rng() % 8 == 0) {  // a random calendar date, valid or not
      char buf[32];
      std::snprintf(buf, sizeof buf, "%04u-%02u-%02u %02u:%02u:%02u UTC",
                    static_cast<unsigned>(1900 + rng() % 300), static_cast<unsigned>(rng() % 14),
                    static_cast<unsigned>(rng() % 33), static_cast<unsigned>(rng() % 25),
                    static_cast<unsigned>(rng() % 61), static_cast<unsigned>(rng() % 61));
      s = buf;
    }
    if (rng() % 50 == 0) s.pop_back();
    const auto got = parse_event_time(s);
    const auto want = time_reference(s);
    ASSERT_EQ(got.has_value(), want.has_value()) << s;
    if (got) {
      ASSERT_EQ(*got, *want) << s;
    }
  }
  // The remembered date never stands in for a different one, or for NUL bytes.
  EXPECT_TRUE(parse_event_time("1970-01-01 00:00:01 UTC"));
  EXPECT_FALSE(parse_event_time(std::string(10, '\0') + " 00:00:00 UTC"));
  EXPECT_EQ(parse_event_time("2019-10-01 00:00:00 UTC"), 1569888000);
  EXPECT_FALSE(parse_event_time("2019-10-01 24:00:00 UTC"));
  EXPECT_EQ(parse_event_time("2019-10-02 00:00:00 UTC"), 1569888000 + 86400);
  EXPECT_FALSE(parse_event_time("2019-02-29 00:00:00 UTC"));
  EXPECT_TRUE(parse_event_time("2020-02-29 00:00:00 UTC"));
  EXPECT_FALSE(parse_event_time("2020-02-30 00:00:00 UTC"));
  EXPECT_FALSE(parse_event_time("2020-02-29 00:00:00 UTX"));
}

TEST(CsvFast, U64AgainstReference) {
  std::mt19937_64 rng(11);
  const char alphabet[] = "0123456789012345678901234567890123456789 +-a/:\xfa\xff\x80\x06";
  for (int i = 0; i < 200000; ++i) {
    const std::size_t len = rng() % 23;
    std::string s;
    for (std::size_t k = 0; k < len; ++k)
      s += rng() % 20 == 0 ? alphabet[rng() % (sizeof alphabet - 1)]
                           : static_cast<char>('0' + rng() % 10);
    ASSERT_EQ(parse_u64(s), u64_reference(s)) << s;
  }
  EXPECT_EQ(parse_u64("9999999999999999999"), 9999999999999999999u);
  EXPECT_EQ(parse_u64("00000000000000000001"), 1u);
  EXPECT_FALSE(parse_u64("000000000000000000001"));  // more than 20 characters
}

TEST(CsvFast, SplitAgainstPlainSplit) {
  std::mt19937_64 rng(13);
  const char alphabet[] = "abc,,,, x";
  RowSplitter s;
  for (int i = 0; i < 100000; ++i) {
    const std::size_t len = rng() % 90;
    std::string row;
    for (std::size_t k = 0; k < len; ++k) row += alphabet[rng() % (sizeof alphabet - 1)];
    std::vector<std::string> want(1);
    for (char c : row) {
      if (c == ',')
        want.emplace_back();
      else
        want.back() += c;
    }
    const int n = s.split(row);
    ASSERT_EQ(n, std::min<int>(static_cast<int>(want.size()), kInputColumns + 1)) << row;
    for (int f = 0; f < std::min(n, kInputColumns); ++f)
      ASSERT_EQ(s[static_cast<std::size_t>(f)], want[static_cast<std::size_t>(f)]) << row;
  }
}

TEST(CsvFast, SplitQuotedFieldAnywhere) {
  // A quoted field (with commas inside) at any position and offset: the one-pass splitter must
  // see its quote, wherever it lies relative to its 16-byte blocks.
  std::mt19937_64 rng(17);
  RowSplitter s;
  for (int i = 0; i < 50000; ++i) {
    const std::size_t fields = 1 + rng() % 9;
    const std::size_t quoted = rng() % fields;
    std::vector<std::string> want(fields);
    std::string row;
    for (std::size_t f = 0; f < fields; ++f) {
      const std::size_t len = rng() % 14;
      for (std::size_t k = 0; k < len; ++k) want[f] += "ab, "[rng() % 4];
      if (f != quoted) {
        for (char& c : want[f])
          if (c == ',') c = 'z';
      }
      if (f > 0) row.push_back(',');
      if (f == quoted) row.push_back('"');
      row.append(want[f]);
      if (f == quoted) row.push_back('"');
    }
    ASSERT_EQ(s.split(row), static_cast<int>(fields)) << row;
    for (std::size_t f = 0; f < fields; ++f) ASSERT_EQ(s[f], want[f]) << row;
    // An unterminated quote at the very end is broken quoting.
    row.append(",\"");
    ASSERT_EQ(s.split(row), -1) << row;
  }
}
