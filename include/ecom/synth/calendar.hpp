#pragma once
// The time window of a synthetic data set: consecutive calendar months (UTC), the future period
// after it, the daily and hourly rhythm, and REES46 time formatting.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ecom::synth {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(int year, int month, int day);
// Weekday of a day number: 0 = Monday ... 6 = Sunday.
int weekday_of(std::int64_t days);
int days_in_month(int year, int month);

// Appends "YYYY-MM-DD HH:MM:SS UTC" for seconds since the epoch (0 <= t < 2^32).
void append_time(std::string& out, std::uint32_t epoch_seconds);
std::string format_time(std::uint32_t epoch_seconds);

struct Month {
  int year = 0, month = 0;
  std::string name;  // "2019-10"
};
// Parses "YYYY-MM" (1970..2099); throws UserError.
Month parse_month(std::string_view s);

class Calendar {
 public:
  // `months` must be consecutive and increasing (throws UserError otherwise).
  Calendar(const std::vector<std::string>& months, int future_days);

  int days() const { return static_cast<int>(day_month_.size()); }
  int future_days() const { return future_days_; }
  std::uint32_t start() const { return start_; }  // epoch seconds of the window start
  std::uint32_t window_seconds() const { return static_cast<std::uint32_t>(days()) * 86400u; }
  const std::vector<Month>& months() const { return months_; }
  // Month index of a window second (0 <= w < window_seconds()).
  int month_of(std::uint32_t window_second) const { return day_month_[window_second / 86400u]; }
  int weekday(int day) const { return weekday_of(start_day_ + day); }  // day may be >= days()
  // Window length in units of the 31-day reference month.
  double scale() const { return days() / 31.0; }

  // Rhythm: relative activity of a window day (weekly pattern and a gentle trend) and of an
  // hour of the day (UTC; the shop is in UTC+3).
  double day_weight(int day) const;
  static double hour_weight(int hour);

 private:
  std::vector<Month> months_;
  std::vector<int> day_month_;
  std::int64_t start_day_ = 0;
  std::uint32_t start_ = 0;
  int future_days_ = 0;
};

}  // namespace ecom::synth
