#pragma once
// The exploratory data profile of the event store (`ecom profile`, also part of `ecom run`).
// Every figure is computed in parallel from each rank's users plus the store's manifest, and
// is bit-identical for any number of ranks (integer counts, exact sums, exact order
// statistics). Definitions: docs/STORE.md, "Profile".
#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "ecom/core/types.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/par/comm.hpp"

namespace ecom {
struct Context;
}
namespace ecom::io::h5 {
class Group;
}

namespace ecom::pipeline {

// A small named table of typed columns: the form of every profile output (and of other small
// reports): CSV text and an HDF5 group with one dataset per column.
class Table {
 public:
  using Values = std::variant<std::vector<std::string>, std::vector<std::uint64_t>,
                              std::vector<std::int64_t>, std::vector<double>>;
  struct Column {
    std::string name;
    Values values;
  };

  explicit Table(std::string name) : name_(std::move(name)) {}
  Table& add(std::string column, Values values);

  const std::string& name() const { return name_; }
  const std::vector<Column>& columns() const { return columns_; }
  std::size_t rows() const;

  // Header line and one line per row, '\n' line ends. Doubles in the shortest form that reads
  // back exactly (std::to_chars, like Python's repr), NaN as an empty field; strings quoted
  // (RFC 4180) only when they hold , " or a line end.
  std::string csv() const;
  // Collective: creates group `parent/<name>` with one dataset per column (strings as
  // fixed-length, NaN kept), written by rank 0.
  void write_h5(par::Comm& comm, const io::h5::Group& parent) const;

  static std::string format(double v);  // shortest round-trip text, "" for NaN

 private:
  std::string name_;
  std::vector<Column> columns_;
};

// Events per session and session duration statistics (see docs/STORE.md).
// Undefined values (no sessions; std of one session) are NaN.
struct SessionStats {
  std::uint64_t count = 0;   // sessions: distinct (user, session) pairs
  double mean = 0, std = 0;  // events per session; std is the sample std (n-1)
  double min = 0, max = 0;
  double p25 = 0, p50 = 0, p75 = 0;  // linear interpolation (numpy default, Hyndman-Fan 7)
  double duration_mean = 0, duration_median = 0;  // seconds, last minus first event
};

struct Profile {
  std::uint64_t events = 0;
  std::array<std::uint64_t, kEventTypes> type_count{};
  // From the manifest: rows read and missing values per input column (before cleaning).
  std::uint64_t rows_read = 0;
  std::array<std::uint64_t, io::kInputColumns> missing{};
  std::map<std::string, std::uint64_t> rejects;  // reason -> count, "duplicate" included
  // Events per UTC day from `first_day` (days since 1970-01-01), contiguous, zeros included.
  std::int64_t first_day = 0;
  std::vector<std::uint64_t> day_count;
  std::array<std::uint64_t, 24> hour_count{};                             // UTC hour of day
  std::array<double, kEventTypes> price_sum{}, price_min{}, price_max{};  // exact sum
  // Events priced above features::kMoneyCeiling: they count as the ceiling in price_sum (so the
  // sum stays finite); min and max keep the true prices. Up to 10 of their products (lowest).
  std::uint64_t prices_capped = 0;
  std::vector<std::uint64_t> capped_products;
  // Events whose price is 0 (kept by the ingest, counted here per type).
  std::array<std::uint64_t, kEventTypes> zero_price{};
  SessionStats sessions;
  std::uint64_t users = 0, products = 0, categories = 0, category_codes = 0, brands = 0;

  // The output tables, in a fixed order: event_types, missing_values, events_by_day,
  // events_by_hour, price_by_event_type, sessions, distinct, rejects.
  std::vector<Table> tables() const;
};

// Collective. `my_events`: this rank's events in the store's total order, holding every event
// of each of its users (as EventStore::read_my_events returns them).
Profile compute_profile(par::Comm& comm, std::span<const Event> my_events,
                        const std::vector<io::FileManifest>& manifest);

// Collective. Exact order statistics of the multiset union of every rank's `values`: element
// k (0-based) of the sorted union for each k in `ks` (each < the total count). Computed by
// radix selection on allreduced histograms of 16-bit digits.
std::vector<std::uint64_t> order_statistics(par::Comm& comm, std::span<const std::uint64_t> values,
                                            std::span<const std::uint64_t> ks);

// The q-quantile (q = num/den) of n sorted values by linear interpolation between order
// statistics lo = floor((n-1)q) and lo+1 (numpy's default "linear", pandas' describe):
// x_lo + (x_hi - x_lo) * frac. `at(k)` returns order statistic k.
struct QuantilePoint {
  std::uint64_t lo = 0, hi = 0;  // order statistics needed (hi == lo when frac == 0)
  double frac = 0;
};
QuantilePoint quantile_point(std::uint64_t n, std::uint64_t num, std::uint64_t den);
double interpolate(std::uint64_t x_lo, std::uint64_t x_hi, double frac);

// "YYYY-MM-DD" of a day number (days since 1970-01-01, proleptic Gregorian).
std::string civil_date(std::int64_t day);

struct ProfileOptions {
  std::string store;
  std::string out;
  bool store_profile = true;  // also write the tables into the store's /profile group
};

// Reads the store, computes the profile, writes DIR/<table>.csv (and /profile in the store).
Profile run_profile(Context& ctx, const ProfileOptions& opts);

}  // namespace ecom::pipeline
