// The REES46 row parser: field splitting (RFC 4180 quotes), every rejection reason and its
// order, time parsing against an independent civil-time computation (timegm), labels.
#include <gtest/gtest.h>

#include <cmath>
#include <ctime>
#include <string>
#include <vector>

#include "ecom/io/csv.hpp"

using namespace ecom;
using namespace ecom::io;

namespace {
const std::string kGood =
    "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,"
    "72d76fde-8bb3-4e00-8c23-a032dfed738c";

// Replaces field `i` of kGood.
std::string with_field(std::size_t i, const std::string& value) {
  std::vector<std::string> f;
  std::string cur;
  for (char c : kGood) {
    if (c == ',') {
      f.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  f.push_back(cur);
  f[i] = value;
  std::string out;
  for (std::size_t k = 0; k < f.size(); ++k) out += (k ? "," : "") + f[k];
  return out;
}

std::optional<Reason> check(const std::string& row, ParsedRow* out = nullptr,
                            TimeWindow window = {}) {
  // ParsedRow's strings view the row or, for unescaped quoted fields, the splitter's buffer: the
  // splitter outlives the call (until the next one), the caller keeps the row alive.
  static RowSplitter split;
  ParsedRow r;
  auto reason = parse_row(row, window, split, r);
  if (out != nullptr) *out = r;
  return reason;
}

std::string reason_name(std::optional<Reason> r) { return r ? std::string(name_of(*r)) : "ok"; }
}  // namespace

TEST(Csv, GoodRowParsed) {
  ParsedRow r;
  ASSERT_EQ(reason_name(check(kGood, &r)), "ok");
  EXPECT_EQ(r.time, 1569888000);  // date -u -d '2019-10-01' +%s
  EXPECT_EQ(r.type, EventType::view);
  EXPECT_EQ(r.product, 44600062u);
  EXPECT_EQ(r.category_id, 2103807459595387724u);
  EXPECT_EQ(r.price, 35.79);
  EXPECT_EQ(r.category_code, "");
  EXPECT_EQ(r.brand, "shiseido");
  EXPECT_EQ(r.user_id, "541312140");
  EXPECT_EQ(r.user_session, "72d76fde-8bb3-4e00-8c23-a032dfed738c");
}

TEST(Csv, EveryReasonByName) {
  EXPECT_EQ(reason_name(check(kGood + ",extra")), "field_count");
  EXPECT_EQ(reason_name(check("2019-10-01 00:00:00 UTC,view,1,2")), "field_count");
  EXPECT_EQ(reason_name(check("")), "field_count");
  EXPECT_EQ(reason_name(check(with_field(0, "2019-13-01 00:00:00 UTC"))), "bad_time");
  EXPECT_EQ(reason_name(check(with_field(0, "not a time"))), "bad_time");
  EXPECT_EQ(reason_name(check(with_field(0, ""))), "bad_time");
  EXPECT_EQ(reason_name(check(with_field(1, "click"))), "unknown_event_type");
  EXPECT_EQ(reason_name(check(with_field(1, "View"))), "unknown_event_type");
  EXPECT_EQ(reason_name(check(with_field(1, ""))), "unknown_event_type");
  EXPECT_EQ(reason_name(check(with_field(2, ""))), "bad_product_id");
  EXPECT_EQ(reason_name(check(with_field(2, "12a"))), "bad_product_id");
  EXPECT_EQ(reason_name(check(with_field(2, "-5"))), "bad_product_id");
  EXPECT_EQ(reason_name(check(with_field(2, "18446744073709551616"))), "bad_product_id");
  EXPECT_EQ(reason_name(check(with_field(3, ""))), "bad_category_id");
  EXPECT_EQ(reason_name(check(with_field(3, "2.05E+18"))), "bad_category_id");
  EXPECT_EQ(reason_name(check(with_field(6, ""))), "bad_price");
  EXPECT_EQ(reason_name(check(with_field(6, "-1.00"))), "bad_price");
  EXPECT_EQ(reason_name(check(with_field(6, "nan"))), "bad_price");
  EXPECT_EQ(reason_name(check(with_field(6, "NaN"))), "bad_price");
  EXPECT_EQ(reason_name(check(with_field(6, "inf"))), "bad_price");
  EXPECT_EQ(reason_name(check(with_field(6, "-inf"))), "bad_price");
  EXPECT_EQ(reason_name(check(with_field(6, "abc"))), "bad_price");
  EXPECT_EQ(reason_name(check(with_field(6, "1.5x"))), "bad_price");
  EXPECT_EQ(reason_name(check(with_field(6, "1e400"))), "bad_price");
  EXPECT_EQ(reason_name(check(with_field(7, ""))), "bad_user_id");
  EXPECT_EQ(reason_name(check(with_field(7, "u123"))), "bad_user_id");
  EXPECT_EQ(reason_name(check(with_field(7, "-1"))), "bad_user_id");
  EXPECT_EQ(reason_name(check(with_field(8, ""))), "bad_session");
  EXPECT_EQ(reason_name(check(with_field(8, "  "))), "bad_session");
  TimeWindow w;
  w.begin = 1569888001;
  EXPECT_EQ(reason_name(check(kGood, nullptr, w)), "out_of_window");
  w.begin = 1569888000;
  w.end = 1569888001;
  EXPECT_EQ(reason_name(check(kGood, nullptr, w)), "ok");
  w.end = 1569888000;
  EXPECT_EQ(reason_name(check(kGood, nullptr, w)), "out_of_window");
}

TEST(Csv, UserIdCanonicalised) {
  // Issue 16 item 6: leading zeros are removed before pseudonymisation (one person, one id).
  ParsedRow r;
  ASSERT_EQ(reason_name(check(with_field(7, "000596899981"), &r)), "ok");
  EXPECT_EQ(r.user_id, "596899981");
  ASSERT_EQ(reason_name(check(with_field(7, "0"), &r)), "ok");
  EXPECT_EQ(r.user_id, "0");
  ASSERT_EQ(reason_name(check(with_field(7, "0000000000000000000000000018446744073709551615"), &r)),
            "ok");
  EXPECT_EQ(r.user_id, "18446744073709551615");
  EXPECT_EQ(reason_name(check(with_field(7, "18446744073709551616"))), "bad_user_id");
  EXPECT_EQ(reason_name(check(with_field(7, "0x10"))), "bad_user_id");
  EXPECT_EQ(reason_name(check(with_field(7, " 1"))), "bad_user_id");
}

TEST(Csv, BadLabels) {
  // Issue 16 item 10: NUL bytes and invalid UTF-8 in category_code or brand are rejected.
  using namespace std::string_literals;
  for (std::size_t field : {4u, 5u}) {
    EXPECT_EQ(reason_name(check(with_field(field, "a\0b"s))), "bad_label");
    EXPECT_EQ(reason_name(check(with_field(field, "\0"s))), "bad_label");
    EXPECT_EQ(reason_name(check(with_field(field, "caf\xE9"))), "bad_label");           // Latin-1
    EXPECT_EQ(reason_name(check(with_field(field, "\xC0\xAF"))), "bad_label");          // overlong
    EXPECT_EQ(reason_name(check(with_field(field, "\xED\xA0\x80"))), "bad_label");      // surrogate
    EXPECT_EQ(reason_name(check(with_field(field, "\xF4\x90\x80\x80"))), "bad_label");  // >10FFFF
    EXPECT_EQ(reason_name(check(with_field(field, "abcdefghijk\xE2\x82"))), "bad_label");  // cut
    EXPECT_EQ(reason_name(check(with_field(field, "\x80"))), "bad_label");
    EXPECT_EQ(reason_name(check(with_field(field, "0123456789abcdef\xFF"))), "bad_label");
    EXPECT_EQ(reason_name(check(with_field(field, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"))),
              "ok");
    EXPECT_EQ(reason_name(check(with_field(field, "electronics.smartphone"))), "ok");
    EXPECT_EQ(reason_name(check(with_field(field, ""))), "ok");
  }
  EXPECT_TRUE(is_valid_label("\xEF\xBF\xBF"));
  EXPECT_FALSE(is_valid_label("\xEF\xBF"));
  EXPECT_TRUE(is_valid_label("\xF0\x90\x80\x80"));
  EXPECT_FALSE(is_valid_label("\xF0\x8F\xBF\xBF"));  // overlong 4-byte
  EXPECT_FALSE(is_valid_label("\xE0\x9F\xBF"));      // overlong 3-byte
  // Labels are checked last: a bad time wins.
  std::string row = with_field(5, "\xFF");
  EXPECT_EQ(reason_name(check(row)), "bad_label");
  EXPECT_EQ(reason_name(check("x" + row)), "bad_time");
  EXPECT_EQ(kReasonNames.back(), "bad_label");
}

TEST(Csv, ReasonOrderIsDocumentedOrder) {
  // A row broken in several fields gets the first reason of the documented order.
  std::string row = with_field(8, "");
  row = row.substr(0, row.size());
  EXPECT_EQ(reason_name(check(row)), "bad_session");
  auto many = [](std::initializer_list<std::pair<std::size_t, std::string>> changes) {
    std::string r = kGood;
    std::vector<std::string> f;
    std::string cur;
    for (char c : r) {
      if (c == ',') {
        f.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    f.push_back(cur);
    for (const auto& [i, v] : changes) f[i] = v;
    std::string out;
    for (std::size_t k = 0; k < f.size(); ++k) out += (k ? "," : "") + f[k];
    return out;
  };
  EXPECT_EQ(reason_name(check(many({{0, "x"}, {1, "x"}, {2, "x"}}))), "bad_time");
  EXPECT_EQ(reason_name(check(many({{1, "x"}, {2, "x"}, {6, "x"}}))), "unknown_event_type");
  EXPECT_EQ(reason_name(check(many({{2, "x"}, {3, "x"}}))), "bad_product_id");
  EXPECT_EQ(reason_name(check(many({{3, "x"}, {6, "x"}}))), "bad_category_id");
  EXPECT_EQ(reason_name(check(many({{6, "x"}, {7, "x"}}))), "bad_price");
  EXPECT_EQ(reason_name(check(many({{7, "x"}, {8, ""}}))), "bad_user_id");
  TimeWindow w;
  w.end = 0;
  EXPECT_EQ(reason_name(check(many({{8, ""}}), nullptr, w)), "bad_session");
}

TEST(Csv, ZeroPriceKeptNegativeZeroNormalised) {
  ParsedRow r;
  ASSERT_EQ(reason_name(check(with_field(6, "0.00"), &r)), "ok");
  EXPECT_EQ(r.price, 0.0);
  ASSERT_EQ(reason_name(check(with_field(6, "-0"), &r)), "ok");
  EXPECT_FALSE(std::signbit(r.price));
  ASSERT_EQ(reason_name(check(with_field(6, "2574.07"), &r)), "ok");
  EXPECT_EQ(r.price, 2574.07);
  ASSERT_EQ(reason_name(check(with_field(6, "1e2"), &r)), "ok");
  EXPECT_EQ(r.price, 100.0);
}

TEST(Csv, AllEventTypes) {
  for (int t = 0; t < kEventTypes; ++t) {
    ParsedRow r;
    ASSERT_EQ(reason_name(check(with_field(1, std::string(kEventTypeNames[t])), &r)), "ok");
    EXPECT_EQ(static_cast<int>(r.type), t);
  }
}

TEST(Csv, TimeAgreesWithTimegm) {
  // Every day from 1970 to 2105 at a varying time of day, against the C library's timegm.
  for (std::int64_t day = 0; day < 49673; day += 7) {
    const std::int64_t t0 = day * 86400 + (day * 7919) % 86400;
    const auto tt = static_cast<std::time_t>(t0);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    const auto parsed = parse_event_time(buf);
    ASSERT_TRUE(parsed.has_value()) << buf;
    ASSERT_EQ(*parsed, static_cast<std::int64_t>(timegm(&tm))) << buf;
    ASSERT_EQ(format_time(*parsed) + " UTC", std::string(buf));
  }
}

TEST(Csv, TimeCalendarChecks) {
  EXPECT_TRUE(parse_event_time("2020-02-29 23:59:59 UTC"));
  EXPECT_FALSE(parse_event_time("2019-02-29 00:00:00 UTC"));
  EXPECT_FALSE(parse_event_time("2100-02-29 00:00:00 UTC"));
  EXPECT_TRUE(parse_event_time("2000-02-29 00:00:00 UTC"));
  EXPECT_FALSE(parse_event_time("2019-04-31 00:00:00 UTC"));
  EXPECT_FALSE(parse_event_time("2019-10-00 00:00:00 UTC"));
  EXPECT_FALSE(parse_event_time("2019-10-01 24:00:00 UTC"));
  EXPECT_FALSE(parse_event_time("2019-10-01 23:60:00 UTC"));
  EXPECT_FALSE(parse_event_time("2019-10-01 23:59:60 UTC"));
  EXPECT_FALSE(parse_event_time("2019-10-01 00:00:00"));
  EXPECT_FALSE(parse_event_time("2019-10-01T00:00:00 UTC"));
  EXPECT_FALSE(parse_event_time("2019-10-01 00:00:00 GMT"));
  EXPECT_FALSE(parse_event_time("2019-1O-01 00:00:00 UTC"));
  EXPECT_FALSE(parse_event_time(" 2019-10-01 00:00:00 UTC"));
  // Out of the 32-bit range: bad_time.
  EXPECT_EQ(reason_name(check(with_field(0, "1969-12-31 23:59:59 UTC"))), "bad_time");
  EXPECT_EQ(reason_name(check(with_field(0, "1970-01-01 00:00:00 UTC"))), "ok");
  EXPECT_EQ(reason_name(check(with_field(0, "2106-02-07 06:28:15 UTC"))), "ok");
  EXPECT_EQ(reason_name(check(with_field(0, "2106-02-07 06:28:16 UTC"))), "bad_time");
  EXPECT_EQ(reason_name(check(with_field(0, "9999-12-31 23:59:59 UTC"))), "bad_time");
}

TEST(Csv, QuotedLineBreakIsNotJoined) {
  // Issue 16 item 10: a quoted field holding a line break (valid RFC 4180) is not supported
  // (a line break always ends a row; README says why): each line of such a row is rejected on
  // its own (field_count), never kept.
  const std::string row =
      "2019-10-01 00:00:00 UTC,view,1,2,\"electronics\nsmartphone\",apple,10.0,5,s";
  const auto cut = row.find('\n');
  EXPECT_EQ(reason_name(check(row.substr(0, cut))), "field_count");   // unterminated quote
  EXPECT_EQ(reason_name(check(row.substr(cut + 1))), "field_count");  // the rest: 5 fields
}

TEST(Csv, TimeOptions) {
  EXPECT_EQ(parse_time_option("2019-10-01"), 1569888000);
  EXPECT_EQ(parse_time_option("2019-10-01 00:00:01"), 1569888001);
  EXPECT_EQ(parse_time_option("2019-10-01T00:00:01"), 1569888001);
  EXPECT_EQ(parse_time_option("2019-10-01 00:00:01 UTC"), 1569888001);
  EXPECT_FALSE(parse_time_option("2019-10"));
  EXPECT_FALSE(parse_time_option("yesterday"));
}

TEST(Csv, QuotedFields) {
  RowSplitter s;
  ASSERT_EQ(s.split(R"("a,b",c,"say ""hi""",,"",x)"), 6);
  EXPECT_EQ(s[0], "a,b");
  EXPECT_EQ(s[1], "c");
  EXPECT_EQ(s[2], "say \"hi\"");
  EXPECT_EQ(s[3], "");
  EXPECT_EQ(s[4], "");
  EXPECT_EQ(s[5], "x");
  EXPECT_EQ(s.split(R"("unterminated,a,b)"), -1);
  EXPECT_EQ(s.split(R"("a"b,c)"), -1);
  EXPECT_EQ(s.split(R"(a,b,")"), -1);
  EXPECT_EQ(s.split("a,b,"), 3);
  EXPECT_EQ(s.split(R"(a,"b",)"), 3);
  EXPECT_EQ(s[2], "");
  // A quoted brand with a comma is one field: the row is valid.
  // (ParsedRow's strings view the line or the splitter: the line must outlive them.)
  ParsedRow r;
  const std::string brand_line = with_field(5, R"("Dolce, Gabbana")");
  ASSERT_EQ(reason_name(check(brand_line, &r)), "ok");
  EXPECT_EQ(r.brand, "Dolce, Gabbana");
  const std::string code_line = with_field(4, R"("a ""b"" c")");
  ASSERT_EQ(reason_name(check(code_line, &r)), "ok");
  EXPECT_EQ(r.category_code, "a \"b\" c");
  // Every field quoted.
  std::string all;
  RowSplitter plain;
  ASSERT_EQ(plain.split(kGood), 9);
  for (std::size_t i = 0; i < 9; ++i) all += (i ? ",\"" : "\"") + std::string(plain[i]) + "\"";
  ASSERT_EQ(reason_name(check(all, &r)), "ok");
  EXPECT_EQ(r.user_id, "541312140");
  // Broken quoting is a field_count reject.
  EXPECT_EQ(reason_name(check(with_field(5, R"("open)"))), "field_count");
}

TEST(Csv, SplitCountsStopEarly) {
  RowSplitter s;
  EXPECT_EQ(s.split(",,,,,,,,,,,,,,,,,,,,"), kInputColumns + 1);
  EXPECT_EQ(s.split(",,,,,,,,"), kInputColumns);
}

TEST(Csv, Header) {
  const std::string h(kReesHeader);
  EXPECT_TRUE(is_rees_header(h));
  EXPECT_TRUE(is_rees_header("\xEF\xBB\xBF" + h));
  EXPECT_TRUE(is_rees_header(h + "\r"));
  EXPECT_FALSE(is_rees_header(h + ",extra"));
  EXPECT_FALSE(is_rees_header("event_time,event_type"));
  EXPECT_FALSE(is_rees_header(kGood));
  EXPECT_FALSE(is_rees_header(""));
}

TEST(Csv, Labels) {
  std::string out;
  clean_label("  Apple\t", out);
  EXPECT_EQ(out, "apple");
  clean_label("Electronics.Smartphone", out);
  EXPECT_EQ(out, "electronics.smartphone");
  clean_label("   ", out);
  EXPECT_EQ(out, "");
  clean_label("Ünï", out);
  EXPECT_EQ(out, "Ünï");  // ASCII only
}

TEST(Csv, U64) {
  EXPECT_EQ(parse_u64("0"), 0u);
  EXPECT_EQ(parse_u64("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_u64("18446744073709551616"));
  EXPECT_FALSE(parse_u64("99999999999999999999"));
  EXPECT_FALSE(parse_u64(""));
  EXPECT_FALSE(parse_u64("+1"));
  EXPECT_FALSE(parse_u64(" 1"));
}

TEST(Csv, CsvFieldQuoting) {
  std::string out;
  append_csv_field(out, "plain");
  out += ',';
  append_csv_field(out, "a,b");
  out += ',';
  append_csv_field(out, "say \"x\"");
  EXPECT_EQ(out, R"(plain,"a,b","say ""x""")");
  RowSplitter s;
  ASSERT_EQ(s.split(out), 3);
  EXPECT_EQ(s[1], "a,b");
  EXPECT_EQ(s[2], "say \"x\"");
}
