#pragma once
// Progress lines (stage, percent, rate) on rank 0. On a terminal one line is redrawn with '\r';
// otherwise (batch logs) a plain line is printed at most every `min_interval_s` seconds and at
// 100%.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace ecom {

class Progress {
 public:
  Progress(std::string stage, std::uint64_t total, std::string unit, bool enabled,
           std::FILE* out = stderr, double min_interval_s = 10.0);
  ~Progress();
  // `done` is the number of units completed so far on this rank (rank 0's view is reported).
  void update(std::uint64_t done);
  void finish();

  // Formats one progress line; pure, for tests.
  static std::string format(const std::string& stage, std::uint64_t done, std::uint64_t total,
                            const std::string& unit, double elapsed_s);

 private:
  std::string stage_, unit_;
  std::uint64_t total_;
  bool enabled_, tty_, finished_ = false;
  std::FILE* out_;
  double min_interval_s_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace ecom
