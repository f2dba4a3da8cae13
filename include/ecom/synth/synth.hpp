#pragma once
// `ecom synth`: the parallel generator. Each rank generates a contiguous range of fixed-size
// blocks of users and writes its part of every output with ordered collective writes, so the
// files are byte-identical for any number of ranks (gzip too: one member per block).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ecom/synth/format.hpp"
#include "ecom/synth/model.hpp"

namespace ecom {
struct Context;
namespace par {
class Comm;
}
}  // namespace ecom

namespace ecom::synth {

struct SynthOptions {
  ModelOptions model;
  std::string out = "synth";
  bool gzip = false;
  int gzip_level = 1;
  double dirty = 0.0;  // share of written rows that are malformed, [0, 0.5]
  std::uint32_t block_users = 2048;
};

// Exact counts of what was written; merged over ranks with integer sums.
struct SynthStats {
  static constexpr std::size_t kSessionBins = 1024;    // rows per session 0..1023, last = more
  static constexpr std::size_t kDurationBins = 86400;  // seconds 0..86399, last = more
  std::array<std::uint64_t, 4> type_rows{};
  std::uint64_t rows = 0, duplicate_rows = 0, empty_code_rows = 0, empty_brand_rows = 0,
                zero_price_rows = 0, users = 0, sessions = 0, session_rows_sum = 0,
                duration_sum = 0, future_purchases = 0;
  std::uint64_t price_min_cents = UINT64_MAX, price_max_cents = 0;
  std::array<std::uint64_t, kArchetypes> archetype_users{};
  std::array<std::uint64_t, kDirtyKinds> dirty{};
  std::vector<std::uint64_t> month_rows;     // clean rows per month file
  std::vector<std::uint64_t> session_hist;   // kSessionBins
  std::vector<std::uint64_t> duration_hist;  // kDurationBins
  std::vector<std::uint8_t> product_seen;    // per catalogue product

  SynthStats(std::size_t months, std::size_t products);
  void add_user(const Model& model, const UserData& user);
  // Smallest value v with (count of values <= v) >= q * total (v in bins; the last bin: >=).
  static std::uint64_t quantile(const std::vector<std::uint64_t>& hist, double q);
};

// Summary as JSON (deterministic text; no rank count or timings, so it is identical for any P).
std::string summary_json(const Model& model, const SynthOptions& opts, const SynthStats& stats,
                         std::uint64_t products_seen);

// Collective: generates and writes OUT/events/<YYYY-MM>.csv[.gz] and OUT/truth/*.
// Returns the merged stats (identical on every rank).
SynthStats run_synth(Context& ctx, const SynthOptions& opts);

// Compresses `text` as one complete gzip member (zlib, mtime 0: deterministic bytes).
std::string gzip_member(std::string_view text, int level);

}  // namespace ecom::synth
