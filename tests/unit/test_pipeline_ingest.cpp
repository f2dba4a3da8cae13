// The ingest's event parser and its caches, without MPI (pipeline/ingest_parts.hpp).
#include <gtest/gtest.h>

#include <string>

#include "ecom/core/hash.hpp"
#include "ecom/io/event_sort.hpp"
#include "ecom/pipeline/ingest_parts.hpp"
#include "ecom/privacy/pseudonym.hpp"

namespace pl = ecom::pipeline;
using ecom::Event;
using ecom::io::Reason;

namespace {

const ecom::privacy::Pseudonymizer& test_key() {
  static const ecom::privacy::Pseudonymizer p(std::string(32, 'k'));
  return p;
}

std::string row(std::string_view price, std::string_view user = "596899981",
                std::string_view brand = " Samsung ") {
  return "2019-11-01 00:00:01 UTC,purchase,1005115,2053013555631882655,electronics.smartphone," +
         std::string(brand) + "," + std::string(price) + "," + std::string(user) + ",s-1";
}

}  // namespace

TEST(PseudonymCache, LeadingZerosGetTheCanonicalPseudonym) {
  pl::PseudonymCache cache(test_key(), 4);
  const std::uint64_t canonical = test_key().pseudonym("596899981");
  EXPECT_EQ(cache.get("596899981"), canonical);
  EXPECT_EQ(cache.get("000596899981"), canonical);
  EXPECT_EQ(cache.get("0596899981"), canonical);
  EXPECT_EQ(cache.misses(), 1u) << "one cache entry per numeric value";
  EXPECT_EQ(cache.get("0"), test_key().pseudonym("0"));
  EXPECT_EQ(cache.get("0000"), test_key().pseudonym("0"));
  // Beyond 19 digits (no cache key), still canonical.
  EXPECT_EQ(cache.get("0018446744073709551615"), test_key().pseudonym("18446744073709551615"));
  EXPECT_EQ(cache.get("18446744073709551615"), test_key().pseudonym("18446744073709551615"));
}

TEST(PseudonymCache, CollidingSlotsKeepValuesApart) {
  pl::PseudonymCache cache(test_key(), 1);  // two slots: every id collides with others
  for (int round = 0; round < 2; ++round)
    for (std::uint64_t id = 0; id < 50; ++id)
      EXPECT_EQ(cache.get(std::to_string(id)), test_key().pseudonym(std::to_string(id)));
}

TEST(EventParser, KeepsAValidRowAsAnEvent) {
  pl::EventParser parser(test_key(), {}, ecom::io::kDefaultMaxPrice, 2);
  Event e{};
  ASSERT_TRUE(parser.parse(1, 7, row("1.5"), e));
  EXPECT_EQ(e.user, test_key().pseudonym("596899981"));
  EXPECT_EQ(e.product, 1005115u);
  EXPECT_EQ(e.category_id, 2053013555631882655u);
  EXPECT_EQ(e.price, 1.5);
  EXPECT_EQ(e.type, ecom::EventType::purchase);
  EXPECT_EQ(e.brand, ecom::string_id("samsung"));
  EXPECT_EQ(e.session, ecom::string_id("s-1"));
  EXPECT_EQ(ecom::io::file_tag(e), 1u);
  EXPECT_EQ(parser.strings().at(ecom::string_id("samsung")), "samsung");
  EXPECT_EQ(parser.counts()[1].rows_read, 1u);
  EXPECT_EQ(parser.counts()[0].rows_read, 0u);
  EXPECT_EQ(parser.quarantine().size(), 0u);
  Event z{};
  ASSERT_TRUE(parser.parse(0, 8, row("0", "000596899981", ""), z));
  EXPECT_EQ(z.user, e.user) << "leading zeros: the same person";
  EXPECT_EQ(z.brand, ecom::kUnknownStringId);
  EXPECT_EQ(parser.counts()[0].missing[5], 1u) << "brand missing";
}

TEST(EventParser, RejectsPricesAboveTheCeiling) {
  pl::EventParser parser(test_key(), {}, ecom::io::kDefaultMaxPrice, 1);
  Event e{};
  EXPECT_FALSE(parser.parse(0, 1, row("1e308"), e));
  EXPECT_FALSE(parser.parse(0, 2, row("1.7976931348623157e308"), e));
  EXPECT_FALSE(parser.parse(0, 3, row("1000000.01"), e));
  EXPECT_TRUE(parser.parse(0, 4, row("1000000"), e));
  EXPECT_EQ(parser.counts()[0].rejects[static_cast<std::size_t>(Reason::bad_price)], 3u);
  EXPECT_EQ(parser.quarantine().size(), 3u);
  pl::EventParser low(test_key(), {}, 10, 1);
  EXPECT_FALSE(low.parse(0, 1, row("10.5"), e));
  EXPECT_TRUE(low.parse(0, 2, row("10"), e));
}

TEST(EventParser, CountsEachRejectByReason) {
  ecom::io::TimeWindow window;
  window.end = 1572566400;  // 2019-11-01 00:00:00: every test row is out of window
  pl::EventParser parser(test_key(), window, ecom::io::kDefaultMaxPrice, 1);
  Event e{};
  EXPECT_FALSE(parser.parse(0, 1, "a,b,c", e));
  EXPECT_FALSE(parser.parse(0, 2, row("1", "12x"), e));
  EXPECT_FALSE(parser.parse(0, 3, row("1"), e));
  const auto& c = parser.counts()[0];
  EXPECT_EQ(c.rows_read, 3u);
  EXPECT_EQ(c.rejects[static_cast<std::size_t>(Reason::field_count)], 1u);
  EXPECT_EQ(c.rejects[static_cast<std::size_t>(Reason::bad_user_id)], 1u);
  EXPECT_EQ(c.rejects[static_cast<std::size_t>(Reason::out_of_window)], 1u);
  EXPECT_EQ(parser.quarantine().size(), 3u);
}

TEST(FileCounts, RoundTripsThroughTheFlatForm) {
  pl::FileCounts a;
  a.rows_read = 5;
  a.rejects[3] = 2;
  a.missing[4] = 1;
  a.kept = 3;
  a.duplicates = 1;
  a.zero_price = 1;
  std::uint64_t flat[pl::FileCounts::kFields];
  a.to(flat);
  pl::FileCounts b;
  b.from(flat);
  EXPECT_EQ(b.rows_read, 5u);
  EXPECT_EQ(b.rejects, a.rejects);
  EXPECT_EQ(b.missing, a.missing);
  EXPECT_EQ(b.kept, 3u);
  EXPECT_EQ(b.duplicates, 1u);
  EXPECT_EQ(b.zero_price, 1u);
}
