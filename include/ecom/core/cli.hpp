#pragma once
// Documented ranges of numeric options, checked by CLI11 at parse time (command line and config
// file alike): a value out of range, empty or not a number is a parse error (exit 2).
#include <limits>

namespace CLI {
class Option;
}  // namespace CLI

namespace ecom {

// Adds a range check [lo, hi] to `opt` (a number; "" and non-numbers are refused too) and "[lo,
// hi]" to its type in --help. Returns opt.
CLI::Option* ranged(CLI::Option* opt, double lo, double hi);
// The same with open ends: lo < x (lo_open) and x < hi (hi_open).
CLI::Option* ranged(CLI::Option* opt, double lo, double hi, bool lo_open, bool hi_open);
inline CLI::Option* at_least(CLI::Option* opt, double lo) {
  return ranged(opt, lo, std::numeric_limits<double>::infinity());
}

}  // namespace ecom
