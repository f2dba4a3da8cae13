#pragma once
// Nested, named wall-clock timers. Reduction over ranks lives in par/ (par::report_timers).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace ecom {

class Timers {
 public:
  struct Entry {
    std::string path;  // "ingest/parse" for a timer nested in "ingest"
    double seconds = 0;
    std::uint64_t items = 0;  // optional throughput denominator (events, bytes, ...)
    std::string unit;         // what `items` counts
  };

  // Starts a timer nested under the currently open ones; returns its index.
  std::size_t start(const std::string& name);
  // Stops the innermost open timer (must be `index`).
  void stop(std::size_t index);
  // The path start(name) would give now ("analyze/segments" for "segments" inside "analyze").
  std::string nested_path(const std::string& name) const;
  void add_items(const std::string& path, std::uint64_t items, const std::string& unit);

  const std::vector<Entry>& entries() const { return entries_; }
  double seconds(const std::string& path) const;  // 0 if absent

 private:
  std::vector<Entry> entries_;
  std::vector<std::pair<std::size_t, std::chrono::steady_clock::time_point>> open_;
};

// RAII scope for one timer.
class ScopedTimer {
 public:
  ScopedTimer(Timers& t, const std::string& name) : timers_(t), index_(t.start(name)) {}
  ~ScopedTimer() { timers_.stop(index_); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Timers& timers_;
  std::size_t index_;
};

}  // namespace ecom
