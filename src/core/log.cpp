#include "ecom/core/log.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "ecom/core/error.hpp"

namespace ecom {

LogLevel parse_log_level(std::string_view s) {
  if (s == "debug") return LogLevel::debug;
  if (s == "info") return LogLevel::info;
  if (s == "warn") return LogLevel::warn;
  if (s == "error") return LogLevel::error;
  if (s == "quiet") return LogLevel::quiet;
  throw UserError("unknown log level '" + std::string(s) + "' (debug, info, warn, error, quiet)");
}

void Logger::write(LogLevel l, const std::string& message) const {
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error", "quiet"};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (all_ranks_)
    std::fprintf(out_, "%s [%s] rank %d: %s\n", stamp, kNames[static_cast<int>(l)], rank_,
                 message.c_str());
  else
    std::fprintf(out_, "%s [%s] %s\n", stamp, kNames[static_cast<int>(l)], message.c_str());
  std::fflush(out_);
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string human_count(double v) {
  const char* suffix[] = {"", "k", "M", "G", "T"};
  int i = 0;
  while (std::fabs(v) >= 1000 && i < 4) {
    v /= 1000;
    ++i;
  }
  return i == 0 ? fixed(v, 0) : fixed(v, 2) + suffix[i];
}

std::string human_bytes(double v) {
  const char* suffix[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (std::fabs(v) >= 1024 && i < 4) {
    v /= 1024;
    ++i;
  }
  return i == 0 ? fixed(v, 0) + " B" : fixed(v, 2) + " " + suffix[i];
}

}  // namespace ecom
