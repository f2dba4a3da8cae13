// libFuzzer target for the REES46 row parser (issue 11 Deliver 3, issue 16 item 12). Each input
// is split into lines as the ingest splits them; every line must either be kept (a ParsedRow
// that satisfies the documented rules) or rejected with one of the documented reasons, without
// a crash or a sanitizer report. Built with clang by tests/fuzz/run_fuzz.sh.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ecom/io/csv.hpp"
#include "ecom/privacy/user_id.hpp"

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ecom::io;
  static RowSplitter split;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  TimeWindow window;
  if (size > 0 && (data[0] & 1) != 0) {  // sometimes a window, to reach out_of_window
    window.begin = 1569888000;
    window.end = 1572566400;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ParsedRow row;
    const auto reason = parse_row(line, window, split, row);
    if (reason) {
      check(static_cast<int>(*reason) < kReasons);
      check(!name_of(*reason).empty());
    } else {
      check(row.time >= 0 && row.time <= 0xFFFFFFFFLL && window.contains(row.time));
      check(std::isfinite(row.price) && row.price >= 0);
      check(ecom::privacy::canonical_user_id(row.user_id) == row.user_id);
      check(is_valid_label(row.category_code) && is_valid_label(row.brand));
      bool blank = true;
      for (const char c : row.user_session) blank = blank && (c == ' ' || c == '\t');
      check(!blank);
    }
    start = end + 1;
  }
  return 0;
}
