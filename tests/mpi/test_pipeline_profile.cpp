// The profile: every figure against a serial reference computed here by other means (maps,
// sets, gmtime, full sorts, integer cents), independence of how users are spread over ranks,
// exact order statistics, and `run_profile` through a real store (CSV files + /profile group).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ecom/core/context.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/random.hpp"
#include "ecom/par/vshard.hpp"
#include "ecom/pipeline/profile.hpp"

using ecom::Event;
using ecom::EventType;
using ecom::par::Comm;
using ecom::par::VShardMap;
namespace pl = ecom::pipeline;

namespace {

constexpr std::uint32_t kV = 64;

const char* const kCategories[] = {"",
                                   "electronics.smartphone",
                                   "appliances.kitchen.washer",
                                   "computers.notebook",
                                   "apparel.shoes",
                                   "kids.toys"};
const char* const kBrands[] = {"", "samsung", "apple", "xiaomi", "", "bosch", "lenovo", "sony"};

// Global test events (identical on every rank): users with a few sessions each, over four
// days, heavy-tailed session lengths, prices in cents, a few zero prices, some empty strings.
std::vector<Event> make_events(std::uint64_t seed, std::size_t n, std::uint64_t users) {
  std::vector<Event> out;
  for (std::size_t i = 0; i < n; ++i) {
    ecom::par::Stream r(seed, ecom::par::Purpose::test, i);
    Event e{};
    // A few heavy users (bots): user 0 takes ~10% of the events.
    const std::uint64_t u = r.uniform() < 0.1 ? 0 : r.index(users);
    e.user = ecom::mix64(u * 7 + seed);
    e.time = 1569888000u + static_cast<std::uint32_t>(r.index(4 * 86400));
    const double t = r.uniform();
    e.type = t < 0.8    ? EventType::view
             : t < 0.9  ? EventType::cart
             : t < 0.95 ? EventType::remove_from_cart
                        : EventType::purchase;
    e.product = 1000 + r.index(300);
    e.category_id = r.uniform() < 0.05 ? 0 : 2053013550000000000ULL + e.product % 41;
    e.category = ecom::string_id(kCategories[e.product % 6]);
    e.brand = ecom::string_id(kBrands[(e.product / 3) % 8]);
    e.session = ecom::mix64(e.user ^ r.index(u == 0 ? 40 : 3));
    e.price = r.uniform() < 0.03 ? 0.0 : static_cast<double>(r.index(250000)) / 100.0;
    out.push_back(e);
  }
  return out;
}

std::int64_t cents(double price) { return std::llround(price * 100.0); }

// This rank's users under an arbitrary assignment of users to ranks, sorted in total order.
template <class OwnerOf>
std::vector<Event> my_events(const Comm& comm, const std::vector<Event>& all, OwnerOf owner_of) {
  std::vector<Event> mine;
  for (const auto& e : all)
    if (owner_of(e.user) == comm.rank()) mine.push_back(e);
  std::sort(mine.begin(), mine.end(), ecom::io::event_less);
  return mine;
}

std::vector<ecom::io::FileManifest> test_manifest() {
  ecom::io::FileManifest a, b;
  a.name = "a.csv";
  a.rows_read = 1000;
  a.duplicates = 7;
  a.rejects = {{"bad_price", 3}, {"bad_time", 1}, {"weird_reason", 2}};
  a.missing = {0, 0, 0, 5, 400, 150, 0, 0, 2};
  b.name = "b.csv";
  b.rows_read = 500;
  b.duplicates = 1;
  b.rejects = {{"bad_price", 2}};
  b.missing = {1, 0, 0, 0, 100, 50, 3, 0, 0};
  return {a, b};
}

// numpy's default ("linear") quantile of sorted values, computed directly.
double numpy_quantile(const std::vector<std::uint64_t>& sorted, double q) {
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return static_cast<double>(sorted[lo]) +
         (h - static_cast<double>(lo)) *
             (static_cast<double>(sorted[hi]) - static_cast<double>(sorted[lo]));
}

std::string date_of(std::uint32_t t) {
  const std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

std::string shared_path(Comm& comm, const std::string& name) {
  long pid = comm.rank() == 0 ? static_cast<long>(::getpid()) : 0;
  comm.bcast(pid, 0);
  return (std::filesystem::temp_directory_path() /
          ("ecom_mpi_profile_" + std::to_string(pid) + "_" + name))
      .string();
}

std::string csv_text(const std::vector<pl::Table>& tables) {
  std::string s;
  for (const auto& t : tables) s += t.name() + "\n" + t.csv();
  return s;
}

}  // namespace

TEST(ProfilePure, QuantilePointAndDates) {
  auto p = pl::quantile_point(5, 1, 4);  // h = 1
  EXPECT_EQ(p.lo, 1u);
  EXPECT_EQ(p.hi, 1u);
  EXPECT_EQ(p.frac, 0.0);
  p = pl::quantile_point(6, 1, 4);  // h = 1.25
  EXPECT_EQ(p.lo, 1u);
  EXPECT_EQ(p.hi, 2u);
  EXPECT_EQ(p.frac, 0.25);
  p = pl::quantile_point(4, 1, 2);  // h = 1.5: median of 4
  EXPECT_EQ(p.lo, 1u);
  EXPECT_EQ(p.frac, 0.5);
  EXPECT_EQ(pl::interpolate(3, 8, 0.5), 5.5);
  p = pl::quantile_point(1, 3, 4);
  EXPECT_EQ(p.lo, 0u);
  EXPECT_EQ(p.hi, 0u);
  // Dates against the C library's gmtime, over 600 years including leap rules.
  for (std::int64_t day = -3000; day < 200000; day += 17) {
    const std::time_t t = day * 86400;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
    ASSERT_EQ(pl::civil_date(day), buf) << day;
  }
  EXPECT_EQ(pl::civil_date(18170), "2019-10-01");
}

TEST(ProfilePure, TableCsvFormatting) {
  pl::Table t("x");
  t.add("name", std::vector<std::string>{"plain", "a,b", "say \"hi\""})
      .add("n", std::vector<std::uint64_t>{0, 18446744073709551615ULL, 7})
      .add("v", std::vector<double>{0.1, std::nan(""), 2.0})
      .add("w", std::vector<double>{1e-7, 1.0 / 3.0, 123456789012.0})
      .add("i", std::vector<std::int64_t>{-1, 0, 1});
  EXPECT_EQ(t.csv(),
            "name,n,v,w,i\n"
            "plain,0,0.1,1e-07,-1\n"
            "\"a,b\",18446744073709551615,,0.3333333333333333,0\n"
            "\"say \"\"hi\"\"\",7,2,123456789012,1\n");
  EXPECT_THROW(t.add("short", std::vector<double>{1.0}), ecom::Error);
}

TEST(ProfileParallel, OrderStatisticsAreExact) {
  auto comm = Comm::world();
  // Values spread over ranks unevenly; full 64-bit range (4 radix passes) and many ties.
  std::vector<std::uint64_t> all;
  for (std::uint64_t i = 0; i < 3000; ++i) {
    const std::uint64_t h = ecom::mix64(i);
    all.push_back(i % 3 == 0 ? h : (i % 3 == 1 ? h % 50 : (h % 7) << 40));
  }
  std::vector<std::uint64_t> mine;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (static_cast<int>((i * i) % static_cast<std::size_t>(comm.size())) == comm.rank())
      mine.push_back(all[i]);
  auto sorted = all;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::uint64_t> ks;
  for (std::uint64_t k = 0; k < sorted.size(); k += 37) ks.push_back(k);
  ks.push_back(sorted.size() - 1);
  const auto got = pl::order_statistics(comm, mine, ks);
  for (std::size_t i = 0; i < ks.size(); ++i) EXPECT_EQ(got[i], sorted[ks[i]]) << "k=" << ks[i];
  // Small values (one pass) and a single rank holding everything.
  std::vector<std::uint64_t> small = {5, 1, 1, 0, 9};
  const auto s = pl::order_statistics(comm, comm.rank() == 0 ? small : std::vector<std::uint64_t>{},
                                      std::vector<std::uint64_t>{0, 1, 2, 3, 4});
  EXPECT_EQ(s, (std::vector<std::uint64_t>{0, 1, 1, 5, 9}));
}

TEST(ProfileParallel, EveryFigureMatchesASerialReference) {
  auto comm = Comm::world();
  const auto all = make_events(42, 6000, 400);
  const VShardMap map(kV, comm.size());
  const auto mine = my_events(comm, all, [&](std::uint64_t u) { return map.owner_of(u); });
  const auto manifest = test_manifest();
  const auto pr = pl::compute_profile(comm, mine, manifest);

  // --- reference, serial, by other means
  std::map<int, std::uint64_t> type_count, hour_count;
  std::map<std::string, std::uint64_t> day_count;
  std::map<int, std::int64_t> cents_sum;
  std::map<int, double> pmin, pmax;
  std::map<int, std::uint64_t> zero_cents;  // events priced 0 cents
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::uint32_t>> sessions;
  std::set<std::uint64_t> users, products, categories, codes, brands;
  for (const auto& e : all) {
    const int t = static_cast<int>(e.type);
    ++type_count[t];
    const std::time_t tt = e.time;
    std::tm tm{};
    gmtime_r(&tt, &tm);
    ++hour_count[tm.tm_hour];
    ++day_count[date_of(e.time)];
    cents_sum[t] += cents(e.price);
    zero_cents[t] += cents(e.price) == 0 ? 1 : 0;
    pmin[t] = pmin.count(t) ? std::min(pmin[t], e.price) : e.price;
    pmax[t] = pmax.count(t) ? std::max(pmax[t], e.price) : e.price;
    sessions[{e.user, e.session}].push_back(e.time);
    users.insert(e.user);
    products.insert(e.product);
    if (e.category_id) categories.insert(e.category_id);
    if (e.category) codes.insert(e.category);
    if (e.brand) brands.insert(e.brand);
  }
  EXPECT_EQ(pr.events, all.size());
  for (int t = 0; t < ecom::kEventTypes; ++t) {
    const auto ts = static_cast<std::size_t>(t);
    EXPECT_EQ(pr.type_count[ts], type_count[t]) << t;
    const double ref_mean =
        static_cast<double>(cents_sum[t]) / 100.0 / static_cast<double>(type_count[t]);
    const auto table = pr.tables()[4];
    const auto& mean = std::get<std::vector<double>>(table.columns()[2].values);
    EXPECT_NEAR(mean[ts], ref_mean, 1e-12 * ref_mean) << t;
    EXPECT_EQ(pr.price_min[ts], pmin[t]);
    EXPECT_EQ(pr.price_max[ts], pmax[t]);
    EXPECT_GT(zero_cents[t], 0u) << t;  // the generator makes a few zero prices of every type
    EXPECT_EQ(pr.zero_price[ts], zero_cents[t]) << t;
    EXPECT_EQ(table.columns()[5].name, "zero_price");
    EXPECT_EQ(std::get<std::vector<std::uint64_t>>(table.columns()[5].values)[ts], zero_cents[t]);
  }
  for (int h = 0; h < 24; ++h)
    EXPECT_EQ(pr.hour_count[static_cast<std::size_t>(h)], hour_count[h]) << h;
  ASSERT_FALSE(pr.day_count.empty());
  EXPECT_EQ(pl::civil_date(pr.first_day), day_count.begin()->first);
  EXPECT_EQ(pl::civil_date(pr.first_day + static_cast<std::int64_t>(pr.day_count.size()) - 1),
            day_count.rbegin()->first);
  for (std::size_t d = 0; d < pr.day_count.size(); ++d) {
    const auto it = day_count.find(pl::civil_date(pr.first_day + static_cast<std::int64_t>(d)));
    EXPECT_EQ(pr.day_count[d], it == day_count.end() ? 0u : it->second);
  }
  // Sessions.
  std::vector<std::uint64_t> lengths, durations;
  for (auto& [key, times] : sessions) {
    lengths.push_back(times.size());
    durations.push_back(*std::max_element(times.begin(), times.end()) -
                        *std::min_element(times.begin(), times.end()));
  }
  std::sort(lengths.begin(), lengths.end());
  std::sort(durations.begin(), durations.end());
  long double mean = 0, dmean = 0;
  for (auto x : lengths) mean += x;
  for (auto x : durations) dmean += x;
  mean /= lengths.size();
  dmean /= durations.size();
  long double ss = 0;
  for (auto x : lengths) ss += (x - mean) * (x - mean);
  const double sd = static_cast<double>(std::sqrt(ss / (lengths.size() - 1)));
  const auto& s = pr.sessions;
  EXPECT_EQ(s.count, sessions.size());
  EXPECT_NEAR(s.mean, static_cast<double>(mean), 1e-13 * static_cast<double>(mean));
  EXPECT_NEAR(s.std, sd, 1e-12 * sd);
  EXPECT_EQ(s.min, static_cast<double>(lengths.front()));
  EXPECT_EQ(s.max, static_cast<double>(lengths.back()));
  EXPECT_EQ(s.p25, numpy_quantile(lengths, 0.25));
  EXPECT_EQ(s.p50, numpy_quantile(lengths, 0.5));
  EXPECT_EQ(s.p75, numpy_quantile(lengths, 0.75));
  EXPECT_NEAR(s.duration_mean, static_cast<double>(dmean), 1e-13 * static_cast<double>(dmean));
  EXPECT_EQ(s.duration_median, numpy_quantile(durations, 0.5));
  // Distinct.
  EXPECT_EQ(pr.users, users.size());
  EXPECT_EQ(pr.products, products.size());
  EXPECT_EQ(pr.categories, categories.size());
  EXPECT_EQ(pr.category_codes, codes.size());
  EXPECT_EQ(pr.brands, brands.size());
  // From the manifest.
  EXPECT_EQ(pr.rows_read, 1500u);
  EXPECT_EQ(pr.missing[4], 500u);
  EXPECT_EQ(pr.missing[0], 1u);
  EXPECT_EQ(pr.rejects.at("bad_price"), 5u);
  EXPECT_EQ(pr.rejects.at("duplicate"), 8u);
  EXPECT_EQ(pr.rejects.at("field_count"), 0u);
  const auto tables = pr.tables();
  ASSERT_EQ(tables.size(), 8u);
  EXPECT_EQ(tables[7].csv(),
            "reason,count\nfield_count,0\nbad_time,1\nunknown_event_type,0\nbad_user_id,0\n"
            "bad_product_id,0\nbad_category_id,0\nbad_session,0\nbad_price,5\nout_of_window,0\n"
            "bad_label,0\nweird_reason,2\nduplicate,8\n");
  EXPECT_TRUE(
      tables[1].csv().starts_with("column,missing,share\nevent_time,1,0.0006666666666666666\n"))
      << tables[1].csv();
}

TEST(ProfileParallel, IndependentOfHowUsersAreSpread) {
  auto comm = Comm::world();
  const auto all = make_events(7, 4000, 300);
  const auto manifest = test_manifest();
  const VShardMap map(kV, comm.size());
  const auto a = pl::compute_profile(
      comm, my_events(comm, all, [&](std::uint64_t u) { return map.owner_of(u); }), manifest);
  // Reversed ranks, and everything on the last rank.
  const auto b = pl::compute_profile(
      comm,
      my_events(comm, all, [&](std::uint64_t u) { return comm.size() - 1 - map.owner_of(u); }),
      manifest);
  const auto c = pl::compute_profile(
      comm, my_events(comm, all, [&](std::uint64_t) { return comm.size() - 1; }), manifest);
  EXPECT_EQ(csv_text(a.tables()), csv_text(b.tables()));
  EXPECT_EQ(csv_text(a.tables()), csv_text(c.tables()));
}

TEST(ProfileParallel, EmptyStore) {
  auto comm = Comm::world();
  const auto pr = pl::compute_profile(comm, {}, {});
  EXPECT_EQ(pr.events, 0u);
  EXPECT_EQ(pr.sessions.count, 0u);
  EXPECT_TRUE(std::isnan(pr.sessions.mean));
  const auto tables = pr.tables();
  EXPECT_EQ(tables[2].csv(), "date,count\n");
  EXPECT_EQ(tables[0].csv(),
            "event_type,count,share\nview,0,\ncart,0,\nremove_from_cart,0,\npurchase,0,\n");
}

TEST(ProfileParallel, ExtremePricesDoNotOverflowThePriceSums) {
  // Issue 16 item 3: purchases priced 1e308 and DBL_MAX made the exact price sum exceed the
  // range of double (exit 1). They now count as features::kMoneyCeiling in the sums.
  auto comm = Comm::world();
  std::vector<Event> mine;
  if (comm.rank() == comm.size() - 1) {
    for (int i = 0; i < 3; ++i) {
      Event e{};
      e.user = 7;
      e.time = 1569888000U + static_cast<std::uint32_t>(i);
      e.type = EventType::purchase;
      e.product = 10U + static_cast<std::uint64_t>(i);
      e.session = 1;
      e.price = i == 0 ? 1e308 : i == 1 ? 1.7976931348623157e308 : 2.5;
      mine.push_back(e);
    }
  }
  const auto pr = pl::compute_profile(comm, mine, {});
  const auto t = static_cast<std::size_t>(EventType::purchase);
  EXPECT_EQ(pr.price_sum[t], 2 * 1e15 + 2.5);
  EXPECT_EQ(pr.price_max[t], 1.7976931348623157e308);
  EXPECT_EQ(pr.price_min[t], 2.5);
  EXPECT_EQ(pr.prices_capped, 2u);
  EXPECT_EQ(pr.capped_products, (std::vector<std::uint64_t>{10, 11}));
}

TEST(ProfileParallel, RunProfileWritesCsvFilesAndTheStoreGroup) {
  auto comm = Comm::world();
  const auto store = shared_path(comm, "store.h5");
  const auto out = shared_path(comm, "out");
  const auto all = make_events(9, 3000, 200);
  const VShardMap map(kV, comm.size());
  const auto mine = my_events(comm, all, [&](std::uint64_t u) { return map.owner_of(u); });
  ecom::io::EventStore::append_partition(comm, store, kV, mine, {}, test_manifest());
  ecom::Context ctx{
      comm, ecom::Logger(comm.rank(), ecom::LogLevel::warn), ecom::Timers{}, false, "", ""};
  const auto pr = pl::run_profile(ctx, pl::ProfileOptions{store, out, true});
  const auto expect =
      pl::compute_profile(comm, mine, ecom::io::EventStore::open(comm, store).manifest());
  EXPECT_EQ(csv_text(pr.tables()), csv_text(expect.tables()));
  for (const auto& t : pr.tables()) {
    std::ifstream in(out + "/" + t.name() + ".csv", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(ss.str(), t.csv()) << t.name();
  }
  {
    auto f = ecom::io::h5::File::open(comm, store, false);
    const auto counts =
        ecom::io::h5::read_all<std::uint64_t>(f.root(), "profile/event_types/count");
    EXPECT_EQ(counts, std::vector<std::uint64_t>(pr.type_count.begin(), pr.type_count.end()));
    EXPECT_EQ(ecom::io::h5::read_strings(f.root(), "profile/distinct/what").size(), 7u);
    EXPECT_EQ(f.root().open_group("profile/sessions").attrs().get_strings("columns"),
              (std::vector<std::string>{"statistic", "value"}));
    f.close();
  }
  // The store still reads, and a second run replaces /profile.
  EXPECT_EQ(ecom::io::EventStore::open(comm, store).events(), all.size());
  pl::run_profile(ctx, pl::ProfileOptions{store, out, true});
  comm.barrier();
  if (comm.rank() == 0) {
    std::filesystem::remove_all(out);
    std::filesystem::remove(store);
  }
}
