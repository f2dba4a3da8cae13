#pragma once
// Rank-aware logger: prints on rank 0 (or every rank when asked), with level and UTC timestamp.
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>

namespace ecom {

enum class LogLevel : int { debug = 0, info = 1, warn = 2, error = 3, quiet = 4 };

LogLevel parse_log_level(std::string_view s);  // throws UserError on an unknown name

class Logger {
 public:
  Logger() = default;
  Logger(int rank, LogLevel level, bool all_ranks = false, std::FILE* out = stderr)
      : rank_(rank), level_(level), all_ranks_(all_ranks), out_(out) {}

  bool enabled(LogLevel l) const { return l >= level_ && (all_ranks_ || rank_ == 0); }
  int rank() const { return rank_; }
  LogLevel level() const { return level_; }
  std::FILE* stream() const { return out_; }

  template <class... A>
  void debug(const A&... a) const {
    log(LogLevel::debug, a...);
  }
  template <class... A>
  void info(const A&... a) const {
    log(LogLevel::info, a...);
  }
  template <class... A>
  void warn(const A&... a) const {
    log(LogLevel::warn, a...);
  }
  template <class... A>
  void error(const A&... a) const {
    log(LogLevel::error, a...);
  }

  template <class... A>
  void log(LogLevel l, const A&... a) const {
    if (!enabled(l)) return;
    std::ostringstream os;
    (os << ... << a);
    write(l, os.str());
  }
  void write(LogLevel l, const std::string& message) const;

 private:
  int rank_ = 0;
  LogLevel level_ = LogLevel::info;
  bool all_ranks_ = false;
  std::FILE* out_ = stderr;
};

// Fixed-point formatting helpers for log lines ("12.35", "1.2M").
std::string fixed(double v, int decimals = 2);
std::string human_count(double v);  // 1234567 -> "1.23M"
std::string human_bytes(double v);  // 1536 -> "1.50 KiB"

}  // namespace ecom
