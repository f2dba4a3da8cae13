#include "ecom/par/stats.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace ecom::par {

namespace {
// Union of the strings held by every rank, sorted (collective).
std::vector<std::string> union_of_names(Comm& comm, const std::vector<std::string>& mine) {
  std::string joined;
  for (const auto& n : mine) joined += n + '\n';
  const auto all = comm.allgatherv<char>(std::span<const char>(joined.data(), joined.size()));
  std::set<std::string> names;
  std::string cur;
  for (char c : all) {
    if (c == '\n') {
      names.insert(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return {names.begin(), names.end()};
}
}  // namespace

std::vector<StageStat> reduce_timers(Comm& comm, const Timers& timers) {
  std::vector<std::string> mine;
  for (const auto& e : timers.entries()) mine.push_back(e.path);
  // Keep rank 0's order (start order) and append names only other ranks have.
  auto all = union_of_names(comm, mine);
  std::vector<std::string> paths;
  {
    std::string joined;
    for (const auto& n : mine) joined += n + '\n';
    comm.bcast(joined, 0);
    std::istringstream is(joined);
    for (std::string line; std::getline(is, line);) paths.push_back(line);
    for (const auto& n : all)
      if (std::find(paths.begin(), paths.end(), n) == paths.end()) paths.push_back(n);
  }
  const std::size_t n = paths.size();
  std::vector<double> mins(n, 0), maxs(n, 0), sums(n, 0);
  std::vector<std::uint64_t> items(n, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (const auto& e : timers.entries())
      if (e.path == paths[i]) {
        mins[i] = maxs[i] = sums[i] = e.seconds;
        items[i] = e.items;
      }
  comm.allreduce_min(std::span<double>(mins));
  comm.allreduce_max(std::span<double>(maxs));
  comm.allreduce_sum(std::span<double>(sums));
  comm.allreduce_sum(std::span<std::uint64_t>(items));
  std::vector<StageStat> out;
  for (std::size_t i = 0; i < n; ++i) {
    StageStat s;
    s.path = paths[i];
    s.min = mins[i];
    s.max = maxs[i];
    s.avg = sums[i] / comm.size();
    s.imbalance = s.avg > 0 ? s.max / s.avg - 1.0 : 0.0;
    s.items = items[i];
    for (const auto& e : timers.entries())
      if (e.path == paths[i]) s.unit = e.unit;
    out.push_back(s);
  }
  return out;
}

void log_stage_stats(const Logger& log, const std::vector<StageStat>& stats) {
  for (const auto& s : stats) {
    std::string line = "time " + s.path + ": min " + fixed(s.min, 3) + " s, avg " +
                       fixed(s.avg, 3) + " s, max " + fixed(s.max, 3) + " s, imbalance " +
                       fixed(100 * s.imbalance, 1) + "%";
    if (s.items > 0 && s.max > 0)
      line += ", " + human_count(static_cast<double>(s.items) / s.max) + " " + s.unit + "/s";
    log.info(line);
  }
}

std::vector<TrafficStat> reduce_traffic(Comm& comm, const TrafficObserver& observer) {
  const auto& traffic = observer.traffic();
  std::vector<std::string> mine;
  for (const auto& [stage, t] : traffic) mine.push_back(stage);
  const auto stages = union_of_names(comm, mine);
  const std::size_t n = stages.size();
  std::vector<std::uint64_t> s(n, 0), r(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    auto it = traffic.find(stages[i]);
    if (it != traffic.end()) {
      s[i] = it->second.sent;
      r[i] = it->second.received;
    }
  }
  std::vector<std::uint64_t> smax = s, rmax = r;
  comm.allreduce_sum(std::span<std::uint64_t>(s));
  comm.allreduce_sum(std::span<std::uint64_t>(r));
  comm.allreduce_max(std::span<std::uint64_t>(smax));
  comm.allreduce_max(std::span<std::uint64_t>(rmax));
  std::vector<TrafficStat> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back({stages[i], s[i], r[i], smax[i], rmax[i]});
  return out;
}

std::uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream is(line.substr(6));
      std::uint64_t kb = 0;
      is >> kb;
      return kb * 1024;
    }
  return 0;
}

RssStat reduce_peak_rss(Comm& comm) {
  const double mine = static_cast<double>(peak_rss_bytes());
  RssStat s;
  s.min = comm.allreduce_min(mine);
  s.max = comm.allreduce_max(mine);
  s.total = comm.allreduce_sum(mine);
  s.avg = s.total / comm.size();
  return s;
}

}  // namespace ecom::par
