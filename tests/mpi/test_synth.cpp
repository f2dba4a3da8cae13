// `run_synth` under 1-4 ranks against a serial reference built here: rank 0 regenerates every
// user with generate_user() and formats the rows itself (its own formatting of times, prices,
// ids and UUIDs), so the event file, users.csv, future_purchases.csv and the merged counts must
// equal what one process would write, whatever the number of ranks and however the blocks of
// users fall on them (tiny blocks: many per rank, some ranks with more than others).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "ecom/core/context.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/synth/synth.hpp"

using namespace ecom;

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

std::string utc(std::uint32_t t) {
  const std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string price(std::uint32_t cents) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%u.%02u", cents / 100, cents % 100);
  return buf;
}

std::string uuid(std::uint64_t hi, std::uint64_t lo) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xffff),
                static_cast<unsigned long long>(hi & 0xffff),
                static_cast<unsigned long long>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(par::Comm& comm) {
    std::string p;
    if (comm.rank() == 0) {
      char tmpl[] = "/tmp/ecom-synth-XXXXXX";
      p = mkdtemp(tmpl);
    }
    comm.bcast(p, 0);
    path = p;
    owner = comm.rank() == 0;
  }
  ~TempDir() {  // callers end with a barrier, so no rank still reads
    std::error_code ec;
    if (owner) std::filesystem::remove_all(path, ec);
  }
  bool owner = false;
};

void compare_with_serial(const synth::SynthOptions& opts, const synth::SynthStats& stats,
                         const std::filesystem::path& out);

void check_against_serial(const std::string& preset, const std::vector<std::string>& months) {
  auto comm = par::Comm::world();
  TempDir dir(comm);
  synth::SynthOptions opts;
  opts.model.preset = preset;
  opts.model.events = 20000;
  opts.model.months = months;
  opts.model.seed = 9;
  opts.block_users = 7;
  opts.out = dir.path.string();
  Context ctx{comm, Logger(comm.rank(), LogLevel::warn), Timers{}, false, "", ""};
  const synth::SynthStats stats = synth::run_synth(ctx, opts);
  // Every rank returns the same merged counts.
  const auto rows_max = comm.allreduce_max(stats.rows), rows_min = comm.allreduce_min(stats.rows);
  EXPECT_EQ(rows_max, rows_min);
  if (comm.rank() == 0) compare_with_serial(opts, stats, dir.path);
  comm.barrier();
}

void compare_with_serial(const synth::SynthOptions& opts, const synth::SynthStats& stats,
                         const std::filesystem::path& out) {
  const std::vector<std::string>& months = opts.model.months;
  const synth::Model model(opts.model);
  const auto& cat = model.catalogue();
  const auto& cal = model.calendar();
  std::vector<std::string> events(months.size(), std::string(synth::kHeader));
  std::string users = "user_id,archetype,taste_group\n", future = "user_id,product_id,event_time\n";
  std::uint64_t rows = 0, n_users = 0, sessions = 0, future_n = 0;
  synth::UserData u;
  synth::UserScratch sc;
  for (std::uint64_t i = 0; i < model.users(); ++i) {
    synth::generate_user(model, i, u, sc);
    const std::string uid = std::to_string(u.user_id);
    for (const auto& e : u.events) {
      const auto& p = cat.products()[e.product];
      const auto& c = cat.categories()[p.category];
      const auto& s = u.sessions[e.session];
      events[static_cast<std::size_t>(cal.month_of(e.time - cal.start()))] +=
          utc(e.time) + "," + std::string(name_of(e.type)) + "," + std::to_string(p.id) + "," +
          std::to_string(c.id) + "," + c.code + "," + (p.brand_empty ? "" : cat.brands()[p.brand]) +
          "," + price(p.price_cents) + "," + uid + "," + uuid(s.uuid_hi, s.uuid_lo) + "\n";
      ++rows;
    }
    n_users += !u.events.empty();
    for (const auto& s : u.sessions) sessions += s.rows > 0;
    users += uid + "," +
             std::string(synth::kArchetypeNames[static_cast<std::size_t>(u.archetype)]) + "," +
             std::to_string(u.taste_group) + "\n";
    for (const auto& f : u.future) {
      future += uid + "," + std::to_string(cat.products()[f.product].id) + "," + utc(f.time) + "\n";
      ++future_n;
    }
  }
  for (std::size_t m = 0; m < months.size(); ++m)
    EXPECT_TRUE(read_file(out / "events" / (months[m] + ".csv")) == events[m])
        << "event file of " << months[m] << " differs from the serial reference";
  EXPECT_EQ(read_file(out / "truth" / "users.csv"), users);
  EXPECT_EQ(read_file(out / "truth" / "future_purchases.csv"), future);
  EXPECT_EQ(stats.rows, rows);
  EXPECT_EQ(stats.users, n_users);
  EXPECT_EQ(stats.sessions, sessions);
  EXPECT_EQ(stats.future_purchases, future_n);
  const std::string summary = read_file(out / "truth" / "summary.json");
  EXPECT_NE(summary.find("\"rows\": " + std::to_string(rows) + ",\n"), std::string::npos);
  EXPECT_EQ(read_file(out / "truth" / "dirty.csv").substr(0, 27), "reason,count\nfield_count,0\n");
}

}  // namespace

TEST(Synth, MultiCategoryEqualsSerialReference) {
  check_against_serial("multi-category", {"2019-10"});
}

TEST(Synth, CosmeticsTwoMonthsEqualsSerialReference) {
  check_against_serial("cosmetics", {"2019-12", "2020-01"});
}
