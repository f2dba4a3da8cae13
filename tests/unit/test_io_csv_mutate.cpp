// Seeded mutation test of the row parser (issue 11 Deliver 3, issue 16 item 12), in the GCC
// unit suite: 1,200,000 rows mutated from real REES46 rows (tests/data) must each be either kept
// (a ParsedRow that satisfies the documented rules) or rejected with one of the documented
// reasons, without a crash (the asan preset adds the sanitizers). tests/fuzz has the libFuzzer
// target of the same checks.
#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "ecom/io/csv.hpp"
#include "ecom/privacy/user_id.hpp"

using namespace ecom::io;

namespace {

// Up to `n` data rows of every tests/data/*.csv.gz.
std::vector<std::string> real_rows(std::size_t n) {
  const char* src = std::getenv("ECOM_SOURCE_DIR");
  std::vector<std::string> rows;
  const std::filesystem::path dir =
      std::filesystem::path(src != nullptr ? src : ".") / "tests" / "data";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".gz") continue;
    gzFile f = gzopen(entry.path().c_str(), "rb");
    if (f == nullptr) continue;
    char buf[4096];
    std::size_t taken = 0;
    bool header = true;
    while (taken < n && gzgets(f, buf, sizeof buf) != nullptr) {
      std::string line(buf);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      if (header) {
        header = false;
        continue;
      }
      rows.push_back(line);
      ++taken;
    }
    gzclose(f);
  }
  return rows;
}

// The parser's verdict on one row must be a documented reason or a row that obeys the rules.
void expect_kept_or_documented(std::string_view row, const TimeWindow& window, RowSplitter& split,
                               std::array<std::uint64_t, kReasons + 1>& tally) {
  ParsedRow r;
  const auto reason = parse_row(row, window, split, r);
  if (reason) {
    const auto i = static_cast<std::size_t>(*reason);
    ASSERT_LT(i, static_cast<std::size_t>(kReasons)) << row;
    ++tally[i];
    return;
  }
  ++tally[kReasons];
  ASSERT_TRUE(r.time >= 0 && r.time <= 0xFFFFFFFFLL && window.contains(r.time)) << row;
  ASSERT_TRUE(std::isfinite(r.price) && r.price >= 0) << row;
  ASSERT_EQ(ecom::privacy::canonical_user_id(r.user_id), r.user_id) << row;
  ASSERT_TRUE(is_valid_label(r.category_code) && is_valid_label(r.brand)) << row;
  ASSERT_NE(r.user_session.find_first_not_of(" \t"), std::string_view::npos) << row;
}

}  // namespace

TEST(CsvMutate, MillionMutatedRealRowsKeptOrDocumentedReason) {
  const auto seeds = real_rows(200);
  ASSERT_GE(seeds.size(), 200u) << "tests/data samples not found";
  std::mt19937_64 rng(20261207);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  // Bytes worth inserting: the structure of a row, and hostile ones.
  const std::string special = std::string(",\"\r\n\t .-:0123456789eE+UTC") + '\0' + "\x80\xC3\xFF";
  auto random_byte = [&] {
    return (rng() & 1) != 0 ? special[pick(special.size())] : static_cast<char>(rng() & 0xFF);
  };
  RowSplitter split;
  TimeWindow none, october;
  october.begin = 1569888000;
  october.end = 1572566400;
  std::array<std::uint64_t, kReasons + 1> tally{};
  constexpr int kRows = 1'200'000;
  std::string row;
  for (int n = 0; n < kRows; ++n) {
    row = seeds[pick(seeds.size())];
    const int edits = 1 + static_cast<int>(pick(4));
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = row.empty() ? 0 : pick(row.size() + 1);
      switch (pick(8)) {
        case 0:  // overwrite a byte
          if (!row.empty()) row[std::min(at, row.size() - 1)] = random_byte();
          break;
        case 1:  // insert a byte
          row.insert(row.begin() + static_cast<std::ptrdiff_t>(at), random_byte());
          break;
        case 2:  // delete a range
          row.erase(at, 1 + pick(8));
          break;
        case 3:  // truncate
          row.resize(at);
          break;
        case 4: {  // duplicate a range
          const std::string part = row.substr(at, pick(24));
          row.insert(at, part);
          break;
        }
        case 5: {  // splice with another real row
          const std::string& other = seeds[pick(seeds.size())];
          row = row.substr(0, at) + other.substr(std::min(other.size(), at));
          break;
        }
        case 6: {  // quote a field (the comma-delimited piece around `at`)
          const std::size_t b = row.rfind(',', at == 0 ? 0 : at - 1);
          const std::size_t s = b == std::string::npos ? 0 : b + 1;
          const std::size_t end = row.find(',', s);
          const std::size_t len = end == std::string::npos ? row.size() - s : end - s;
          std::string field = row.substr(s, len);
          std::string quoted = "\"";
          for (char c : field) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
          row.replace(s, len, quoted + "\"");
          break;
        }
        default:  // a long run of one byte (e.g. digits: ids and prices beyond their range)
          row.insert(at, 1 + pick(40), random_byte());
          break;
      }
    }
    expect_kept_or_documented(row, (n & 1) != 0 ? october : none, split, tally);
    if (HasFatalFailure()) return;
  }
  // The mutations reach every documented reason and still keep some rows.
  for (int i = 0; i < kReasons; ++i)
    EXPECT_GT(tally[static_cast<std::size_t>(i)], 0u) << kReasonNames[static_cast<std::size_t>(i)];
  EXPECT_GT(tally[kReasons], 1000u);
}
