#include "ecom/synth/calendar.hpp"

#include <cmath>
#include <cstring>
#include <numbers>

#include "ecom/core/error.hpp"

namespace ecom::synth {

std::int64_t days_from_civil(int year, int month, int day) {
  const std::int64_t y = year - (month <= 2 ? 1 : 0);
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

namespace {
void civil_from_days(std::int64_t z, int& year, int& month, int& day) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  year = static_cast<int>(yoe + era * 400 + (month <= 2 ? 1 : 0));
}

inline void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}
}  // namespace

int weekday_of(std::int64_t days) {
  const std::int64_t w = (days + 3) % 7;  // 1970-01-01 was a Thursday
  return static_cast<int>(w < 0 ? w + 7 : w);
}

int days_in_month(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

void append_time(std::string& out, std::uint32_t t) {
  // The date part changes rarely between consecutive rows: keep the last one.
  thread_local std::uint32_t cached_day = UINT32_MAX;
  thread_local char date[11];
  const std::uint32_t day = t / 86400u;
  if (day != cached_day) {
    int y, m, d;
    civil_from_days(day, y, m, d);
    put2(date, static_cast<unsigned>(y / 100));
    put2(date + 2, static_cast<unsigned>(y % 100));
    date[4] = '-';
    put2(date + 5, static_cast<unsigned>(m));
    date[7] = '-';
    put2(date + 8, static_cast<unsigned>(d));
    date[10] = ' ';
    cached_day = day;
  }
  const std::uint32_t s = t % 86400u;
  char buf[23];
  std::memcpy(buf, date, 11);
  put2(buf + 11, s / 3600);
  buf[13] = ':';
  put2(buf + 14, s / 60 % 60);
  buf[16] = ':';
  put2(buf + 17, s % 60);
  std::memcpy(buf + 19, " UTC", 4);
  out.append(buf, 23);
}

std::string format_time(std::uint32_t t) {
  std::string s;
  append_time(s, t);
  return s;
}

Month parse_month(std::string_view s) {
  auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (s.size() != 7 || s[4] != '-' || !digit(0) || !digit(1) || !digit(2) || !digit(3) ||
      !digit(5) || !digit(6))
    throw UserError("month '" + std::string(s) + "' is not YYYY-MM");
  Month m;
  m.year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  m.month = (s[5] - '0') * 10 + (s[6] - '0');
  if (m.month < 1 || m.month > 12 || m.year < 1970 || m.year > 2099)
    throw UserError("month '" + std::string(s) + "' is out of range (1970-01 .. 2099-12)");
  m.name = std::string(s);
  return m;
}

Calendar::Calendar(const std::vector<std::string>& months, int future_days)
    : future_days_(future_days) {
  if (months.empty()) throw UserError("--months: at least one month is needed");
  if (future_days < 0 || future_days > 366) throw UserError("--future-days must be in 0..366");
  for (const auto& s : months) {
    Month m = parse_month(s);
    if (!months_.empty()) {
      const Month& prev = months_.back();
      const int next_year = prev.month == 12 ? prev.year + 1 : prev.year;
      const int next_month = prev.month == 12 ? 1 : prev.month + 1;
      if (m.year != next_year || m.month != next_month)
        throw UserError("--months must be consecutive and increasing (" + prev.name + " then " +
                        m.name + ")");
    }
    for (int d = 0; d < days_in_month(m.year, m.month); ++d)
      day_month_.push_back(static_cast<int>(months_.size()));
    months_.push_back(std::move(m));
  }
  start_day_ = days_from_civil(months_[0].year, months_[0].month, 1);
  const std::int64_t end_s = (start_day_ + days() + future_days_) * 86400LL;
  if (end_s >= (1LL << 32)) throw UserError("--months: the window must end before 2106");
  start_ = static_cast<std::uint32_t>(start_day_ * 86400LL);
}

double Calendar::day_weight(int day) const {
  // Mon..Sun, then a gentle monthly wave.
  static constexpr double kWeekday[7] = {1.00, 0.98, 0.97, 0.98, 1.02, 1.06, 1.04};
  return kWeekday[weekday(day)] *
         (1.0 + 0.08 * std::sin(2.0 * std::numbers::pi * (day + 3) / 30.44));
}

double Calendar::hour_weight(int hour) {
  // UTC; quiet at night in Moscow (21-02 UTC), busiest in the late afternoon.
  static constexpr double kHour[24] = {0.25, 0.20, 0.30, 0.55, 0.85, 1.10, 1.30, 1.40,
                                       1.45, 1.45, 1.45, 1.45, 1.45, 1.50, 1.60, 1.70,
                                       1.75, 1.70, 1.45, 1.05, 0.65, 0.40, 0.30, 0.27};
  return kHour[hour];
}

}  // namespace ecom::synth
