// `ecom profile`: the exploratory profile of the event store. Definitions: docs/STORE.md.
#include "ecom/pipeline/profile.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include "ecom/core/context.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/core/timer.hpp"
#include "ecom/core/uint128.hpp"
#include "ecom/features/features.hpp"
#include "ecom/io/csv.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/par/exact_sum.hpp"
#include "ecom/par/file.hpp"
#include "ecom/par/stats.hpp"
#include "ecom/pipeline/commands.hpp"

namespace ecom::pipeline {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::int64_t kSecondsPerDay = 86400;

// The reject reasons of the ingest, in the order rejects.csv lists them: the order of the
// tables written before io::Reason gained reasons (kept so that profiles stay comparable), then
// any later reason. The names themselves are io::kReasonNames.
std::vector<std::string> known_reject_reasons() {
  using R = io::Reason;
  constexpr std::array<R, io::kReasons> kOrder = {
      R::field_count,    R::bad_time,        R::unknown_event_type, R::bad_user_id,
      R::bad_product_id, R::bad_category_id, R::bad_session,        R::bad_price,
      R::out_of_window,  R::bad_label};
  std::vector<std::string> names;
  for (R r : kOrder) names.emplace_back(io::name_of(r));
  return names;
}

// Exact sum over ranks of one 128-bit value per rank: 32-bit limbs summed as uint64
// (P * 2^32 < 2^64), then carried.
u128 allreduce_u128(par::Comm& comm, u128 v) {
  std::array<std::uint64_t, 4> limbs{};
  for (int i = 0; i < 4; ++i)
    limbs[static_cast<std::size_t>(i)] = static_cast<std::uint64_t>(v >> (32 * i)) & 0xffffffffULL;
  comm.allreduce_sum(std::span<std::uint64_t>(limbs));
  u128 out = 0;
  for (int i = 3; i >= 0; --i) out = (out << 32) + limbs[static_cast<std::size_t>(i)];
  return out;
}

double ratio(std::uint64_t num, std::uint64_t den) {
  return den == 0 ? kNaN : static_cast<double>(num) / static_cast<double>(den);
}

double ratio128(u128 num, std::uint64_t den) {
  if (den == 0) return kNaN;
  if (num < (u128{1} << 53))
    return static_cast<double>(static_cast<std::uint64_t>(num)) / static_cast<double>(den);
  return static_cast<double>(static_cast<long double>(num) / static_cast<long double>(den));
}

// The quantile (num/den) of the union of every rank's values (collective).
struct QuantileQuery {
  std::uint64_t num, den;
};
std::vector<double> quantiles(par::Comm& comm, std::span<const std::uint64_t> values,
                              std::uint64_t n, const std::vector<QuantileQuery>& qs) {
  std::vector<double> out(qs.size(), kNaN);
  if (n == 0) return out;
  std::vector<QuantilePoint> points;
  std::vector<std::uint64_t> ks;
  for (const auto& q : qs) {
    points.push_back(quantile_point(n, q.num, q.den));
    ks.push_back(points.back().lo);
    ks.push_back(points.back().hi);
  }
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  const auto stats = order_statistics(comm, values, ks);
  auto at = [&](std::uint64_t k) {
    return stats[static_cast<std::size_t>(std::lower_bound(ks.begin(), ks.end(), k) - ks.begin())];
  };
  for (std::size_t i = 0; i < qs.size(); ++i)
    out[i] = interpolate(at(points[i].lo), at(points[i].hi), points[i].frac);
  return out;
}

struct KindId {
  std::uint64_t id;
  std::uint64_t kind;
};

// A set of 64-bit ids (open addressing, linear probing): local distinct ids in O(n).
class IdSet {
 public:
  void insert(std::uint64_t id) {
    if (id == 0) {
      has_zero_ = true;
      return;
    }
    if (2 * (size_ + 1) > slots_.size()) grow();
    std::size_t i = mix64(id) & (slots_.size() - 1);
    while (slots_[i] != 0 && slots_[i] != id) i = (i + 1) & (slots_.size() - 1);
    if (slots_[i] == 0) {
      slots_[i] = id;
      ++size_;
    }
  }
  std::size_t size() const { return size_ + (has_zero_ ? 1 : 0); }
  std::vector<std::uint64_t> values() const {
    std::vector<std::uint64_t> out;
    out.reserve(size_ + 1);
    if (has_zero_) out.push_back(0);
    for (auto v : slots_)
      if (v != 0) out.push_back(v);
    return out;
  }

 private:
  void grow() {
    std::vector<std::uint64_t> old = std::move(slots_);
    slots_.assign(std::max<std::size_t>(64, old.size() * 2), 0);
    size_ = 0;
    for (auto v : old)
      if (v != 0) insert(v);
  }
  std::vector<std::uint64_t> slots_;
  std::size_t size_ = 0;
  bool has_zero_ = false;
};

// Distinct ids of each kind over all ranks: local distinct ids go to the rank chosen by a hash
// of the id, which counts what it receives (collective).
std::vector<std::uint64_t> distinct_counts(par::Comm& comm, const std::vector<IdSet>& sets) {
  std::vector<KindId> records;
  for (std::size_t k = 0; k < sets.size(); ++k)
    for (auto id : sets[k].values()) records.push_back({id, k});
  const auto p = static_cast<std::uint64_t>(comm.size());
  auto received = comm.exchange<KindId>(
      records,
      [p](const KindId& r) {
        return static_cast<int>(mix64(r.id ^ (0x9e3779b97f4a7c15ULL * (r.kind + 1))) % p);
      },
      std::size_t{64} << 20);
  records = {};
  std::vector<IdSet> mine(sets.size());
  for (const auto& r : received) mine[r.kind].insert(r.id);
  std::vector<std::uint64_t> counts(sets.size(), 0);
  for (std::size_t k = 0; k < sets.size(); ++k) counts[k] = mine[k].size();
  comm.allreduce_sum(std::span<std::uint64_t>(counts));
  return counts;
}

}  // namespace

// ---- Table ----------------------------------------------------------------------------

Table& Table::add(std::string column, Values values) {
  const std::size_t n = std::visit([](const auto& v) { return v.size(); }, values);
  if (!columns_.empty() && n != rows())
    throw Error("Table " + name_ + ": column " + column + " has " + std::to_string(n) +
                " rows, not " + std::to_string(rows()));
  columns_.push_back({std::move(column), std::move(values)});
  return *this;
}

std::size_t Table::rows() const {
  return columns_.empty() ? 0
                          : std::visit([](const auto& v) { return v.size(); }, columns_[0].values);
}

std::string Table::format(double v) {
  if (std::isnan(v)) return "";
  // The shortest text that reads back as exactly `v` (as Python's repr): deterministic.
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string Table::csv() const {
  std::string out;
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    if (c) out += ',';
    io::append_csv_field(out, columns_[c].name);
  }
  out += '\n';
  for (std::size_t r = 0; r < rows(); ++r) {
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      if (c) out += ',';
      std::visit(
          [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::vector<std::string>>)
              io::append_csv_field(out, v[r]);
            else if constexpr (std::is_same_v<V, std::vector<double>>)
              out += format(v[r]);
            else
              out += std::to_string(v[r]);
          },
          columns_[c].values);
    }
    out += '\n';
  }
  return out;
}

void Table::write_h5(par::Comm& comm, const io::h5::Group& parent) const {
  io::h5::Group g = parent.create_group(name_);
  std::vector<std::string> names;
  for (const auto& col : columns_) {
    names.push_back(col.name);
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::vector<std::string>>)
            io::h5::write_strings_replicated(comm, g, col.name, v);
          else
            io::h5::write_replicated<typename V::value_type>(comm, g, col.name, v);
        },
        col.values);
  }
  g.attrs().set("columns", names);
  g.close();
}

// ---- pure helpers ---------------------------------------------------------------------

QuantilePoint quantile_point(std::uint64_t n, std::uint64_t num, std::uint64_t den) {
  if (n == 0 || den == 0 || num > den) throw Error("quantile_point: bad arguments");
  // h = (n-1) * num / den, split exactly into integer and fractional parts.
  const u128 h_num = static_cast<u128>(n - 1) * num;
  QuantilePoint p;
  p.lo = static_cast<std::uint64_t>(h_num / den);
  const std::uint64_t rem = static_cast<std::uint64_t>(h_num % den);
  p.frac = static_cast<double>(rem) / static_cast<double>(den);
  p.hi = rem == 0 ? p.lo : p.lo + 1;
  return p;
}

double interpolate(std::uint64_t x_lo, std::uint64_t x_hi, double frac) {
  const double a = static_cast<double>(x_lo), b = static_cast<double>(x_hi);
  return frac == 0 ? a : a + (b - a) * frac;
}

std::string civil_date(std::int64_t day) {
  // H. Hinnant's civil_from_days.
  const std::int64_t z = day + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02d", static_cast<long long>(y),
                static_cast<int>(m), static_cast<int>(d));
  return buf;
}

std::vector<std::uint64_t> order_statistics(par::Comm& comm, std::span<const std::uint64_t> values,
                                            std::span<const std::uint64_t> ks) {
  const std::uint64_t n = comm.allreduce_sum<std::uint64_t>(values.size());
  for (auto k : ks)
    if (k >= n)
      throw Error("order_statistics: k = " + std::to_string(k) + " of " + std::to_string(n));
  std::uint64_t local_max = 0;
  for (auto v : values) local_max = std::max(local_max, v);
  const std::uint64_t max = comm.allreduce_max(local_max);
  const int bits = std::bit_width(max);
  const int passes = std::max(1, (bits + 15) / 16);
  constexpr std::size_t kBins = 1 << 16;
  std::vector<std::uint64_t> prefix(ks.size(), 0), rank(ks.begin(), ks.end());
  for (int pass = 0; pass < passes; ++pass) {
    const int shift = 16 * (passes - 1 - pass);
    auto high = [shift](std::uint64_t v) {
      return shift + 16 >= 64 ? std::uint64_t{0} : v >> (shift + 16);
    };
    std::vector<std::uint64_t> prefixes = prefix;
    std::sort(prefixes.begin(), prefixes.end());
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
    std::vector<std::uint64_t> hist(prefixes.size() * kBins, 0);
    for (auto v : values) {
      const auto it = std::lower_bound(prefixes.begin(), prefixes.end(), high(v));
      if (it == prefixes.end() || *it != high(v)) continue;
      ++hist[static_cast<std::size_t>(it - prefixes.begin()) * kBins + ((v >> shift) & 0xffff)];
    }
    comm.allreduce_sum(std::span<std::uint64_t>(hist));
    for (std::size_t q = 0; q < ks.size(); ++q) {
      const auto idx = static_cast<std::size_t>(
          std::lower_bound(prefixes.begin(), prefixes.end(), prefix[q]) - prefixes.begin());
      const std::uint64_t* h = hist.data() + idx * kBins;
      std::uint64_t below = 0;
      std::size_t b = 0;
      while (b + 1 < kBins && below + h[b] <= rank[q]) below += h[b++];
      rank[q] -= below;
      prefix[q] = (prefix[q] << 16) | b;
    }
  }
  return prefix;
}

// ---- the profile ----------------------------------------------------------------------

Profile compute_profile(par::Comm& comm, std::span<const Event> my_events,
                        const std::vector<io::FileManifest>& manifest) {
  Profile pr;
  // From the manifest (identical on every rank).
  for (const auto& m : manifest) {
    pr.rows_read += m.rows_read;
    for (int c = 0; c < io::kInputColumns; ++c)
      pr.missing[static_cast<std::size_t>(c)] += m.missing[static_cast<std::size_t>(c)];
    for (const auto& [reason, count] : m.rejects) pr.rejects[reason] += count;
    pr.rejects["duplicate"] += m.duplicates;
  }
  for (const auto& r : io::kReasonNames) pr.rejects[std::string(r)] += 0;
  pr.rejects["duplicate"] += 0;

  // One pass over the events: counts by type, hour and day; prices.
  par::ExactVector price_sum(kEventTypes);
  std::array<double, kEventTypes> pmin, pmax;
  pmin.fill(std::numeric_limits<double>::infinity());
  pmax.fill(-std::numeric_limits<double>::infinity());
  std::int64_t day_lo = std::numeric_limits<std::int64_t>::max(),
               day_hi = std::numeric_limits<std::int64_t>::min();
  for (const auto& e : my_events) {
    const auto t = static_cast<std::size_t>(e.type);
    ++pr.type_count[t];
    ++pr.hour_count[static_cast<std::size_t>((e.time % kSecondsPerDay) / 3600)];
    const std::int64_t day = e.time / kSecondsPerDay;
    day_lo = std::min(day_lo, day);
    day_hi = std::max(day_hi, day);
    if (e.price > features::kMoneyCeiling) {
      ++pr.prices_capped;
      pr.capped_products.push_back(e.product);
    }
    price_sum.add(t, std::min(e.price, features::kMoneyCeiling));
    pmin[t] = std::min(pmin[t], e.price);
    pmax[t] = std::max(pmax[t], e.price);
    pr.zero_price[t] += e.price == 0 ? 1 : 0;
  }
  pr.events = comm.allreduce_sum<std::uint64_t>(my_events.size());
  comm.allreduce_sum(std::span<std::uint64_t>(pr.type_count));
  comm.allreduce_sum(std::span<std::uint64_t>(pr.hour_count));
  comm.allreduce_sum(std::span<std::uint64_t>(pr.zero_price));
  day_lo = comm.allreduce_min(day_lo);
  day_hi = comm.allreduce_max(day_hi);
  if (pr.events > 0) {
    pr.first_day = day_lo;
    pr.day_count.assign(static_cast<std::size_t>(day_hi - day_lo + 1), 0);
    for (const auto& e : my_events)
      ++pr.day_count[static_cast<std::size_t>(e.time / kSecondsPerDay - day_lo)];
    comm.allreduce_sum(std::span<std::uint64_t>(pr.day_count));
  }
  const auto sums = comm.exact_sum(price_sum);
  pr.prices_capped = comm.allreduce_sum(pr.prices_capped);
  if (pr.prices_capped > 0) {
    constexpr std::size_t kNamed = 10;
    auto& named = pr.capped_products;
    std::sort(named.begin(), named.end());
    named.erase(std::unique(named.begin(), named.end()), named.end());
    named.resize(std::min(named.size(), kNamed));
    named = comm.allgatherv<std::uint64_t>(named);
    std::sort(named.begin(), named.end());
    named.erase(std::unique(named.begin(), named.end()), named.end());
    named.resize(std::min(named.size(), kNamed));
  }
  comm.allreduce_min(std::span<double>(pmin));
  comm.allreduce_max(std::span<double>(pmax));
  for (std::size_t t = 0; t < static_cast<std::size_t>(kEventTypes); ++t) {
    const bool any = pr.type_count[t] > 0;
    pr.price_sum[t] = any ? sums[t] : kNaN;
    pr.price_min[t] = any ? pmin[t] : kNaN;
    pr.price_max[t] = any ? pmax[t] : kNaN;
  }

  // Users and sessions: every event of a user is on this rank, in time order.
  std::vector<std::uint64_t> per_session, durations;
  std::uint64_t users = 0;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> user_sessions;  // (session, time)
  for (std::size_t i = 0; i < my_events.size();) {
    std::size_t j = i;
    user_sessions.clear();
    while (j < my_events.size() && my_events[j].user == my_events[i].user) {
      user_sessions.emplace_back(my_events[j].session, my_events[j].time);
      ++j;
    }
    ++users;
    std::sort(user_sessions.begin(), user_sessions.end());
    for (std::size_t a = 0; a < user_sessions.size();) {
      std::size_t b = a;
      while (b < user_sessions.size() && user_sessions[b].first == user_sessions[a].first) ++b;
      per_session.push_back(b - a);
      durations.push_back(user_sessions[b - 1].second - user_sessions[a].second);
      a = b;
    }
    i = j;
  }
  pr.users = comm.allreduce_sum(users);
  auto& s = pr.sessions;
  s.count = comm.allreduce_sum<std::uint64_t>(per_session.size());
  u128 sum = 0, sum_sq = 0, dur_sum = 0;
  std::uint64_t lmin = std::numeric_limits<std::uint64_t>::max(), lmax = 0;
  for (auto c : per_session) {
    sum += c;
    sum_sq += static_cast<u128>(c) * c;
    lmin = std::min(lmin, c);
    lmax = std::max(lmax, c);
  }
  for (auto d : durations) dur_sum += d;
  sum = allreduce_u128(comm, sum);
  sum_sq = allreduce_u128(comm, sum_sq);
  dur_sum = allreduce_u128(comm, dur_sum);
  lmin = comm.allreduce_min(lmin);
  lmax = comm.allreduce_max(lmax);
  const std::uint64_t n = s.count;
  s.mean = ratio128(sum, n);
  s.duration_mean = ratio128(dur_sum, n);
  s.min = n ? static_cast<double>(lmin) : kNaN;
  s.max = n ? static_cast<double>(lmax) : kNaN;
  if (n >= 2) {
    // Sample variance, exact in integers: (n*sum(x^2) - sum(x)^2) / (n*(n-1)).
    const u128 num = static_cast<u128>(n) * sum_sq - sum * sum;
    const u128 den = static_cast<u128>(n) * (n - 1);
    s.std = static_cast<double>(
        std::sqrt(static_cast<long double>(num) / static_cast<long double>(den)));
  } else {
    s.std = kNaN;
  }
  const auto q = quantiles(comm, per_session, n, {{1, 4}, {1, 2}, {3, 4}});
  s.p25 = q[0];
  s.p50 = q[1];
  s.p75 = q[2];
  s.duration_median = quantiles(comm, durations, n, {{1, 2}})[0];

  // Distinct products, categories (non-zero category_id), category codes and brands (known).
  std::vector<IdSet> ids(4);
  for (const auto& e : my_events) {
    ids[0].insert(e.product);
    if (e.category_id != 0) ids[1].insert(e.category_id);
    if (e.category != kUnknownStringId) ids[2].insert(e.category);
    if (e.brand != kUnknownStringId) ids[3].insert(e.brand);
  }
  const auto distinct = distinct_counts(comm, ids);
  pr.products = distinct[0];
  pr.categories = distinct[1];
  pr.category_codes = distinct[2];
  pr.brands = distinct[3];
  return pr;
}

std::vector<Table> Profile::tables() const {
  std::vector<Table> out;
  std::vector<std::string> type_names(kEventTypeNames.begin(), kEventTypeNames.end());
  {
    Table t("event_types");
    std::vector<std::uint64_t> counts(type_count.begin(), type_count.end());
    std::vector<double> share;
    for (auto c : counts) share.push_back(ratio(c, events));
    t.add("event_type", type_names).add("count", counts).add("share", share);
    out.push_back(std::move(t));
  }
  {
    Table t("missing_values");
    std::vector<std::string> cols(io::kInputColumnNames.begin(), io::kInputColumnNames.end());
    std::vector<std::uint64_t> m(missing.begin(), missing.end());
    std::vector<double> share;
    for (auto c : m) share.push_back(ratio(c, rows_read));
    t.add("column", cols).add("missing", m).add("share", share);
    out.push_back(std::move(t));
  }
  {
    Table t("events_by_day");
    std::vector<std::string> dates;
    for (std::size_t d = 0; d < day_count.size(); ++d)
      dates.push_back(civil_date(first_day + static_cast<std::int64_t>(d)));
    t.add("date", dates).add("count", day_count);
    out.push_back(std::move(t));
  }
  {
    Table t("events_by_hour");
    std::vector<std::uint64_t> hours(24);
    for (std::size_t h = 0; h < 24; ++h) hours[h] = h;
    t.add("hour", hours)
        .add("count", std::vector<std::uint64_t>(hour_count.begin(), hour_count.end()));
    out.push_back(std::move(t));
  }
  {
    Table t("price_by_event_type");
    std::vector<double> mean, mn, mx;
    for (std::size_t i = 0; i < static_cast<std::size_t>(kEventTypes); ++i) {
      mean.push_back(type_count[i] ? price_sum[i] / static_cast<double>(type_count[i]) : kNaN);
      mn.push_back(price_min[i]);
      mx.push_back(price_max[i]);
    }
    t.add("event_type", type_names)
        .add("count", std::vector<std::uint64_t>(type_count.begin(), type_count.end()))
        .add("mean", mean)
        .add("min", mn)
        .add("max", mx)
        .add("zero_price", std::vector<std::uint64_t>(zero_price.begin(), zero_price.end()));
    out.push_back(std::move(t));
  }
  {
    Table t("sessions");
    const auto& s = sessions;
    t.add("statistic",
          std::vector<std::string>{"count", "mean", "std", "min", "p25", "p50", "p75", "max",
                                   "duration_mean_seconds", "duration_median_seconds"})
        .add("value", std::vector<double>{static_cast<double>(s.count), s.mean, s.std, s.min, s.p25,
                                          s.p50, s.p75, s.max, s.duration_mean, s.duration_median});
    out.push_back(std::move(t));
  }
  {
    Table t("distinct");
    t.add("what", std::vector<std::string>{"users", "products", "categories", "category_codes",
                                           "brands", "sessions", "events"})
        .add("count", std::vector<std::uint64_t>{users, products, categories, category_codes,
                                                 brands, sessions.count, events});
    out.push_back(std::move(t));
  }
  {
    Table t("rejects");
    std::vector<std::string> reasons = known_reject_reasons();
    for (const auto& [reason, count] : rejects)
      if (reason != "duplicate" &&
          std::find(reasons.begin(), reasons.end(), reason) == reasons.end())
        reasons.push_back(reason);  // other reasons, in name order
    reasons.push_back("duplicate");
    std::vector<std::uint64_t> counts;
    for (const auto& r : reasons) {
      const auto it = rejects.find(r);
      counts.push_back(it == rejects.end() ? 0 : it->second);
    }
    t.add("reason", reasons).add("count", counts);
    out.push_back(std::move(t));
  }
  return out;
}

Profile run_profile(Context& ctx, const ProfileOptions& opts) {
  auto& comm = ctx.comm;
  ScopedTimer total(ctx.timers, "profile");
  std::vector<Event> events;
  io::EventStore store;
  {
    ScopedTimer t(ctx.timers, "read");
    store = io::EventStore::open(comm, opts.store);
    events = store.read_my_events(comm);
  }
  ctx.log.info("profile: ", store.path(), ": ", store.events(), " events in ", store.partitions(),
               " partition(s), ", store.manifest().size(), " file(s), ", store.vshards(),
               " vshards, ", comm.size(), " rank(s)");
  Profile pr;
  {
    ScopedTimer t(ctx.timers, "compute");
    pr = compute_profile(comm, events, store.manifest());
  }
  events = {};
  if (pr.prices_capped > 0) {
    std::string products;
    for (const auto p : pr.capped_products) {
      if (!products.empty()) products += ' ';
      products += std::to_string(p);
    }
    ctx.log.warn("profile: ", pr.prices_capped, " events priced above ", features::kMoneyCeiling,
                 " count as that ceiling in the price sums and means (products ", products,
                 pr.capped_products.size() < pr.prices_capped ? " ..." : "", ")");
  }
  const auto tables = pr.tables();
  {
    ScopedTimer t(ctx.timers, "write");
    std::string error;
    if (comm.rank() == 0) {
      std::error_code ec;
      std::filesystem::create_directories(opts.out, ec);
      if (ec || !std::filesystem::is_directory(opts.out))
        error = "cannot create output directory " + opts.out + (ec ? ": " + ec.message() : "");
    }
    par::agree(comm, error, ExitCode::usage);
    for (const auto& table : tables) {
      const auto path = (std::filesystem::path(opts.out) / (table.name() + ".csv")).string();
      par::write_ordered(comm, path, comm.rank() == 0 ? table.csv() : std::string());
    }
    if (opts.store_profile) {
      io::h5::update_file(comm, opts.store, [&](io::h5::File& f) {
        if (f.root().exists("profile")) f.root().remove("profile");
        io::h5::Group g = f.root().create_group("profile");
        for (const auto& table : tables) table.write_h5(comm, g);
        g.attrs().set("quantiles",
                      std::string("linear interpolation (numpy default, Hyndman-Fan type 7)"));
        g.attrs().set("std", std::string("sample standard deviation (n - 1)"));
        g.attrs().set("events", pr.events);
        g.close();
      });
    }
  }
  ctx.log.info("profile: ", pr.events, " events, ", pr.users, " users, ", pr.sessions.count,
               " sessions, ", pr.products, " products; ", tables.size(), " tables written to ",
               opts.out, opts.store_profile ? " and " + opts.store + ":/profile" : std::string());
  return pr;
}

}  // namespace ecom::pipeline

namespace ecom {

void add_profile_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<pipeline::ProfileOptions>();
  auto* sub = app.add_subcommand(
      "profile",
      "Event store -> the exploratory data profile (CSV tables in --out and the store's "
      "/profile group), computed in parallel");
  sub->add_option("--store", opts->store, "Event store (HDF5) written by `ecom ingest`")
      ->required();
  sub->add_option("--out", opts->out, "Directory for the profile CSV files (created if needed)")
      ->required();
  sub->add_option("--store-profile", opts->store_profile,
                  "Also write the tables into the store's /profile group (true/false)")
      ->capture_default_str();
  sub->callback([opts, &action] {
    action = [opts](Context& ctx) {
      pipeline::run_profile(ctx, *opts);
      par::log_stage_stats(ctx.log, par::reduce_timers(ctx.comm, ctx.timers));
      return 0;
    };
  });
}

}  // namespace ecom
