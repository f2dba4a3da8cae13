#include "ecom/core/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "ecom/core/log.hpp"

namespace ecom {

Progress::Progress(std::string stage, std::uint64_t total, std::string unit, bool enabled,
                   std::FILE* out, double min_interval_s)
    : stage_(std::move(stage)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      tty_(enabled && isatty(fileno(out)) == 1),
      out_(out),
      min_interval_s_(tty_ ? 0.2 : min_interval_s),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() {
  if (tty_ && !finished_) std::fputc('\n', out_);
}

std::string Progress::format(const std::string& stage, std::uint64_t done, std::uint64_t total,
                             const std::string& unit, double elapsed_s) {
  const double pct =
      total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0;
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  std::string line = stage + ": " + fixed(pct, 1) + "% (" + human_count(static_cast<double>(done)) +
                     "/" + human_count(static_cast<double>(total)) + " " + unit + ", " +
                     human_count(rate) + " " + unit + "/s";
  if (rate > 0 && done < total)
    line += ", eta " + fixed(static_cast<double>(total - done) / rate, 0) + " s";
  return line + ")";
}

void Progress::update(std::uint64_t done) {
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (done < total_ && since < min_interval_s_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::string line = format(stage_, done, total_, unit_, elapsed);
  if (tty_)
    std::fprintf(out_, "\r%s\x1b[K", line.c_str());
  else
    std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
  if (done >= total_) finish();
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  if (tty_) std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace ecom
