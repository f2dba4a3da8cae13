// Range checks of numeric options (cli.hpp).
#include "ecom/core/cli.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

namespace ecom {

namespace {

// A bound as written in --help and in messages: integers without a decimal point.
std::string bound(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return std::string(buf, r.ptr);
}

// The whole of `s` as a finite number, or nullopt.
std::optional<double> number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

CLI::Option* ranged(CLI::Option* opt, double lo, double hi, bool lo_open, bool hi_open) {
  const std::string range = std::string(lo_open ? "(" : "[") + bound(lo) + "," + bound(hi) +
                            (hi_open || std::isinf(hi) ? ")" : "]");
  opt->check(CLI::Validator(
      [=](std::string& s) -> std::string {
        const auto v = number(s);
        if (!v) return "'" + s + "' is not a number (range " + range + ")";
        const bool low = lo_open ? !(*v > lo) : !(*v >= lo);
        const bool high = hi_open ? !(*v < hi) : !(*v <= hi);
        if (low || high) return s + " is out of range " + range;
        return std::string();
      },
      range));
  return opt;
}

CLI::Option* ranged(CLI::Option* opt, double lo, double hi) {
  return ranged(opt, lo, hi, false, false);
}

}  // namespace ecom
