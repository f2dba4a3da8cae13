#include <gtest/gtest.h>

#include <thread>

#include "ecom/core/error.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/core/log.hpp"
#include "ecom/core/progress.hpp"
#include "ecom/core/timer.hpp"
#include "ecom/core/types.hpp"

using namespace ecom;

TEST(Core, EventTypeNames) {
  EXPECT_EQ(parse_event_type("view"), EventType::view);
  EXPECT_EQ(parse_event_type("remove_from_cart"), EventType::remove_from_cart);
  EXPECT_FALSE(parse_event_type("View").has_value());
  EXPECT_EQ(name_of(EventType::purchase), "purchase");
}

TEST(Core, StringIdsAreStableAndZeroOnlyForEmpty) {
  EXPECT_EQ(string_id(""), 0u);
  EXPECT_NE(string_id("apple"), 0u);
  EXPECT_EQ(string_id("apple"), string_id("apple"));
  EXPECT_NE(string_id("apple"), string_id("apples"));
  EXPECT_NE(mix64(1), mix64(2));
}

TEST(Core, NestedTimers) {
  Timers t;
  {
    ScopedTimer a(t, "ingest");
    {
      ScopedTimer b(t, "parse");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ASSERT_EQ(t.entries().size(), 2u);
  EXPECT_EQ(t.entries()[1].path, "ingest/parse");
  EXPECT_GE(t.seconds("ingest"), t.seconds("ingest/parse"));
  EXPECT_GT(t.seconds("ingest/parse"), 0.004);
}

TEST(Core, ProgressLineFormat) {
  const auto line = Progress::format("ingest", 500, 1000, "rows", 2.0);
  EXPECT_EQ(line, "ingest: 50.0% (500/1.00k rows, 250 rows/s, eta 2 s)");
}

TEST(Core, ProgressWritesNoCarriageReturnWhenNotATerminal) {
  std::FILE* f = std::tmpfile();
  {
    Progress p("stage", 10, "items", true, f, 0.0);
    for (int i = 1; i <= 10; ++i) p.update(static_cast<std::uint64_t>(i));
  }
  std::rewind(f);
  std::string text;
  for (int c; (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
  std::fclose(f);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find("stage: 100.0%"), std::string::npos);
}

TEST(Core, LogLevels) {
  EXPECT_EQ(parse_log_level("warn"), LogLevel::warn);
  EXPECT_THROW(parse_log_level("loud"), UserError);
  Logger rank1(1, LogLevel::info);
  EXPECT_FALSE(rank1.enabled(LogLevel::error));
  Logger all(1, LogLevel::info, true);
  EXPECT_TRUE(all.enabled(LogLevel::info));
  EXPECT_FALSE(all.enabled(LogLevel::debug));
}
