#pragma once
// Reductions of timers and traffic over ranks, for logs, run.json and scaling tables.
#include <cstdint>
#include <string>
#include <vector>

#include "ecom/core/log.hpp"
#include "ecom/core/timer.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::par {

struct StageStat {
  std::string path;
  double min = 0, avg = 0, max = 0;
  double imbalance = 0;     // max/avg - 1
  std::uint64_t items = 0;  // summed over ranks
  std::string unit;
};

// Collective: every rank must hold the same timer paths in the same order (missing ones count 0).
std::vector<StageStat> reduce_timers(Comm& comm, const Timers& timers);
void log_stage_stats(const Logger& log, const std::vector<StageStat>& stats);

struct TrafficStat {
  std::string stage;
  std::uint64_t sent_total = 0, received_total = 0, sent_max = 0, received_max = 0;
};
// Collective over the union of stage names: the counters of `observer` (Context::observer).
std::vector<TrafficStat> reduce_traffic(Comm& comm, const TrafficObserver& observer);

// Peak resident set size of this process in bytes (VmHWM), and its min/avg/max over ranks.
std::uint64_t peak_rss_bytes();
struct RssStat {
  double min = 0, avg = 0, max = 0, total = 0;
};
RssStat reduce_peak_rss(Comm& comm);

}  // namespace ecom::par
