#include "ecom/pipeline/money_caps.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "ecom/privacy/pseudonym.hpp"

namespace ecom::pipeline {

std::uint64_t report_capped_users(par::Comm& comm, const Logger& log,
                                  const features::FeatureTable& table, std::string_view what) {
  constexpr std::size_t kNamed = 10;
  std::vector<std::uint64_t> capped = features::capped_users(table);  // ascending
  const std::uint64_t total = comm.allreduce_sum<std::uint64_t>(capped.size());
  if (total == 0) return 0;
  capped.resize(std::min(capped.size(), kNamed));
  auto named = comm.allgatherv<std::uint64_t>(capped);
  std::sort(named.begin(), named.end());
  named.resize(std::min(named.size(), kNamed));
  std::string users;
  for (const auto u : named) {
    if (!users.empty()) users += ' ';
    users += privacy::to_hex(u);
  }
  log.warn(what, ": ", total, total == 1 ? " user's" : " users'",
           " money features capped at 1e15 (prices in the store too large; the run goes on): ",
           users, total > named.size() ? " ..." : "");
  return total;
}

}  // namespace ecom::pipeline
