// Retention and erasure under mpirun -np 1..4: the store rewrite (partitions dropped, events
// erased, manifest renumbered, audit record), `purge` decisions on partitions, quarantine rows
// and run directories (dry run changes nothing), and `forget` (no trace of the pseudonym left in
// the file's bytes, nothing else changed). Pure helpers too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ecom/core/context.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/vshard.hpp"
#include "ecom/pipeline/retention.hpp"
#include "ecom/privacy/pseudonym.hpp"

using namespace ecom;
namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t kV = 64;
constexpr std::uint32_t kDay = 86400;
// Partition p holds events of days [kBase + p*400, +30): 2019, 2020 and 2021.
constexpr std::uint32_t kBase = 1'570'000'000;  // 2019-10-02

std::string shared_dir(par::Comm& comm) {
  std::string dir;
  if (comm.rank() == 0) {
    char tmpl[] = "/tmp/ecom-retention-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  comm.bcast(dir, 0);
  return dir;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool less(const Event& a, const Event& b) { return io::event_less(a, b); }

// This rank's events of partition p: users u (pseudonym mix64(u)) owned by this rank.
std::vector<Event> partition_events(par::Comm& comm, int p, int users,
                                    std::uint64_t extra_user = 0) {
  const par::VShardMap map(kV, comm.size());
  std::vector<Event> ev;
  auto add = [&](std::uint64_t pseudo, int u) {
    if (map.owner_of(pseudo) != comm.rank()) return;
    for (int k = 0; k < 1 + (u + p) % 4; ++k) {
      Event e{};
      e.user = pseudo;
      e.product = 1000 + static_cast<std::uint64_t>(u % 17 + k);
      e.session = mix64(pseudo ^ static_cast<std::uint64_t>(k));
      e.price = 1.5 * k;
      e.time = kBase + static_cast<std::uint32_t>(p) * 400 * kDay +
               static_cast<std::uint32_t>(u % 30) * kDay + static_cast<std::uint32_t>(k) * 60;
      e.type = k == 2 ? EventType::purchase : EventType::view;
      ev.push_back(e);
    }
  };
  for (int u = 0; u < users; ++u) add(mix64(static_cast<std::uint64_t>(u) + 1), u);
  if (extra_user) add(extra_user, 7);
  std::sort(ev.begin(), ev.end(), less);
  return ev;
}

io::FileManifest file_entry(const std::string& name, const std::string& ingest_time) {
  io::FileManifest m;
  m.name = name;
  m.sha256 = std::string(64, 'a' + static_cast<char>(name.size() % 6));
  m.ingest_time = ingest_time;
  return m;
}

// A store of three partitions (2019, 2020, 2021), `extra_user` in each when given.
std::string make_store(par::Comm& comm, const std::string& dir, std::uint64_t extra_user = 0) {
  const std::string path = dir + "/store.h5";
  const char* times[3] = {"2019-11-05T00:00:00Z", "2020-12-01T00:00:00Z", "2022-01-10T00:00:00Z"};
  for (int p = 0; p < 3; ++p) {
    const auto ev = partition_events(comm, p, 120, extra_user);
    io::EventStore::append_partition(comm, path, kV, ev, {{7, "brand"}},
                                     {file_entry("month" + std::to_string(p) + ".csv", times[p])});
  }
  return path;
}

Context make_context(par::Comm& comm) {
  return Context{comm, Logger(comm.rank(), LogLevel::warn), Timers{}, false, "", ""};
}

}  // namespace

TEST(RetentionHelpers, ParsingAndCsv) {
  using namespace ecom::pipeline;
  EXPECT_EQ(parse_iso_utc("1970-01-02T00:00:01Z"), 86401);
  EXPECT_EQ(parse_iso_utc("2019-10-01T00:00:00Z"), 1569888000);
  EXPECT_EQ(parse_iso_utc("2019-10-01 00:00:00"), -1);
  EXPECT_EQ(parse_iso_utc("2019-13-01T00:00:00Z"), -1);
  EXPECT_TRUE(expired(0, 90 * 86400 + 1, 90));
  EXPECT_FALSE(expired(0, 90 * 86400, 90));
  EXPECT_EQ(split_csv_record("a,\"b,c\",\"d\"\"e\",,"),
            (std::vector<std::string>{"a", "b,c", "d\"e", "", ""}));
  const auto recs = csv_records("h1,h2\r\nx,\"multi\nline\"\ny,z");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0], "h1,h2");
  EXPECT_EQ(recs[1], "x,\"multi\nline\"");
  EXPECT_EQ(recs[2], "y,z");
  EXPECT_EQ(json_string_member("{\"a\": 1, \"run_time\": \"2026-01-01T00:00:00Z\"}", "run_time"),
            "2026-01-01T00:00:00Z");
  EXPECT_EQ(json_string_member("{}", "run_time"), "");
}

TEST(StoreRewrite, DropsPartitionsAndErasesEventsKeepingTheRest) {
  auto comm = par::Comm::world();
  const std::string dir = shared_dir(comm);
  const std::string path = make_store(comm, dir);
  const auto before = io::EventStore::open(comm, path);
  const auto p1 = before.read_partition(comm, 1);
  const auto p2 = before.read_partition(comm, 2);
  const std::uint64_t victim = mix64(5 + 1);
  const auto erase = [victim](const Event& e) { return e.user == victim; };
  std::uint64_t erased_local = 0;
  for (const auto& e : p1) erased_local += erase(e);
  for (const auto& e : p2) erased_local += erase(e);
  const std::uint64_t erased = comm.allreduce_sum(erased_local);
  ASSERT_GT(erased, 0u);
  const auto dropped = before.partition_summary(comm, 0).events;

  io::AuditRecord rec{"forget", "2026-01-01T00:00:00Z", erased, 1, "request=T-1"};
  EXPECT_EQ(io::EventStore::rewrite(comm, path, {false, true, true}, erase, rec), dropped + erased);

  const auto after = io::EventStore::open(comm, path);
  EXPECT_EQ(after.partitions(), 2);
  EXPECT_EQ(after.events(), before.events() - dropped - erased);
  ASSERT_EQ(after.manifest().size(), 2u);
  EXPECT_EQ(after.manifest()[0].name, "month1.csv");
  EXPECT_EQ(after.manifest()[0].partition, 0);
  EXPECT_EQ(after.manifest()[1].partition, 1);
  ASSERT_EQ(after.audit().size(), 1u);
  EXPECT_EQ(after.audit()[0], rec);
  EXPECT_EQ(after.strings(), before.strings());
  auto keep = [&](std::vector<Event> v) {
    v.erase(std::remove_if(v.begin(), v.end(), erase), v.end());
    return v;
  };
  auto same = [](const std::vector<Event>& a, const std::vector<Event>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)) == 0;
  };
  EXPECT_TRUE(same(after.read_partition(comm, 0), keep(p1)));
  EXPECT_TRUE(same(after.read_partition(comm, 1), keep(p2)));
  // A later append keeps the audit log.
  io::EventStore::append_partition(comm, path, kV, partition_events(comm, 3, 10), {},
                                   {file_entry("m3.csv", "x")});
  EXPECT_EQ(io::EventStore::open(comm, path).audit().size(), 1u);
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(dir);
}

TEST(StoreRewrite, ErasingEveryEventOfAPartitionLeavesAnEmptyReadablePartition) {
  auto comm = par::Comm::world();
  const std::string dir = shared_dir(comm);
  const std::string path = make_store(comm, dir);
  const auto all = [](const Event& e) { return e.time < kBase + 400 * kDay; };  // partition 0
  const auto before = io::EventStore::open(comm, path);
  const auto p0 = before.partition_summary(comm, 0);
  EXPECT_EQ(io::EventStore::rewrite(comm, path, {true, true, true}, all, {"forget", "t", 0, 0, ""}),
            p0.events);
  const auto after = io::EventStore::open(comm, path);
  EXPECT_EQ(after.partitions(), 3);
  EXPECT_TRUE(after.read_partition(comm, 0).empty());
  EXPECT_EQ(after.partition_summary(comm, 0).events, 0u);
  EXPECT_EQ(comm.allreduce_sum<std::uint64_t>(after.read_my_events(comm).size()),
            before.events() - p0.events);
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(dir);
}

TEST(Purge, PartitionsQuarantineAndRuns) {
  auto comm = par::Comm::world();
  const std::string dir = shared_dir(comm);
  const std::string path = make_store(comm, dir);
  if (comm.rank() == 0) {
    std::ofstream(dir + "/store.quarantine.csv") << "file,line,reason,row\n"
                                                 << "month0.csv,2,bad_price,\"a,b,c\"\n"
                                                 << "month1.csv,3,bad_time,x\n"
                                                 << "month2.csv,4,bad_time,\"multi\nline\"\n"
                                                 << "other.csv,5,bad_time,y\n";
    for (const auto& [name, time] :
         {std::pair{"old", "2021-06-01T00:00:00Z"}, std::pair{"mid", "2023-11-01T00:00:00Z"},
          std::pair{"new", "2023-12-30T00:00:00Z"}}) {
      fs::create_directories(dir + "/runs/" + name);
      std::ofstream(dir + "/runs/" + name + "/run.json")
          << "{\n  \"version\": \"0.1\",\n  \"run_time\": \"" << time << "\"\n}\n";
      std::ofstream(dir + "/runs/" + name + "/events.quarantine.csv") << "file,line,reason,row\n";
    }
    fs::create_directories(dir + "/runs/unfinished");
  }
  comm.barrier();
  // now = 2024-01-01: processed 730 days -> before 2022-01-01 goes (partitions 0 and 1, whose
  // newest events are in 2019 and 2020; run "old"); raw 30 days -> quarantine rows of files
  // ingested before 2023-12-02 (month0..2 all) and the raw files of run "mid".
  pipeline::PurgeOptions o;
  o.store = path;
  o.runs = dir + "/runs";
  o.raw_days = 30;
  o.processed_days = 730;
  o.now = "2024-01-01T00:00:00Z";
  o.dry_run = true;
  auto ctx = make_context(comm);
  const std::string bytes_before = comm.rank() == 0 ? slurp(path) : "";
  const std::string q_before = comm.rank() == 0 ? slurp(dir + "/store.quarantine.csv") : "";
  const auto dry = pipeline::run_purge(ctx, o);
  EXPECT_EQ(dry.partitions_dropped, (std::vector<int>{0, 1}));
  EXPECT_EQ(dry.quarantine_rows_removed, 3u);
  EXPECT_EQ(dry.runs_removed, (std::vector<std::string>{dir + "/runs/old"}));
  EXPECT_EQ(dry.raw_files_removed,
            (std::vector<std::string>{dir + "/runs/mid/events.quarantine.csv"}));
  if (comm.rank() == 0) {
    EXPECT_EQ(slurp(path), bytes_before);
    EXPECT_EQ(slurp(dir + "/store.quarantine.csv"), q_before);
    EXPECT_TRUE(fs::exists(dir + "/runs/old"));
    EXPECT_TRUE(fs::exists(dir + "/runs/mid/events.quarantine.csv"));
  }
  comm.barrier();

  const auto before = io::EventStore::open(comm, path);
  const auto kept = before.read_partition(comm, 2);
  const std::uint64_t gone =
      before.partition_summary(comm, 0).events + before.partition_summary(comm, 1).events;
  o.dry_run = false;
  const auto done = pipeline::run_purge(ctx, o);
  EXPECT_EQ(done.events_removed, gone);
  const auto after = io::EventStore::open(comm, path);
  EXPECT_EQ(after.partitions(), 1);
  EXPECT_EQ(after.events(), before.events() - gone);
  const auto now_kept = after.read_partition(comm, 0);
  ASSERT_EQ(now_kept.size(), kept.size());
  EXPECT_EQ(std::memcmp(now_kept.data(), kept.data(), kept.size() * sizeof(Event)), 0);
  ASSERT_EQ(after.audit().size(), 1u);
  EXPECT_EQ(after.audit()[0].action, "purge");
  EXPECT_EQ(after.audit()[0].events_removed, gone);
  EXPECT_EQ(after.audit()[0].partitions_removed, 2u);
  if (comm.rank() == 0) {
    EXPECT_EQ(slurp(dir + "/store.quarantine.csv"),
              "file,line,reason,row\nother.csv,5,bad_time,y\n");
    EXPECT_FALSE(fs::exists(dir + "/runs/old"));
    EXPECT_TRUE(fs::exists(dir + "/runs/mid/run.json"));
    EXPECT_FALSE(fs::exists(dir + "/runs/mid/events.quarantine.csv"));
    EXPECT_TRUE(fs::exists(dir + "/runs/new/events.quarantine.csv"));
    EXPECT_TRUE(fs::exists(dir + "/runs/unfinished"));
  }
  // Idempotent: a second purge finds nothing.
  const auto again = pipeline::run_purge(ctx, o);
  EXPECT_TRUE(again.partitions_dropped.empty());
  EXPECT_EQ(again.quarantine_rows_removed, 0u);
  EXPECT_TRUE(again.runs_removed.empty());
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(dir);
}

TEST(Forget, RemovesEveryTraceOfThePseudonym) {
  auto comm = par::Comm::world();
  const std::string dir = shared_dir(comm);
  const std::string key_path = dir + "/key";
  const std::string raw_id = "541312140";
  if (comm.rank() == 0) {
    std::ofstream(key_path) << "retention-test-key";
    fs::permissions(key_path, fs::perms::owner_read | fs::perms::owner_write);
  }
  comm.barrier();
  const std::uint64_t pseudo = privacy::Pseudonymizer("retention-test-key").pseudonym(raw_id);
  const std::string path = make_store(comm, dir, pseudo);
  if (comm.rank() == 0)
    std::ofstream(dir + "/store.quarantine.csv")
        << "file,line,reason,row\n"
        << "month0.csv,2,bad_price,\"2019-10-01 00:00:00 UTC,view,1,2,,,-1," << raw_id << ",s\"\n"
        << "month0.csv,3,bad_price,\"2019-10-01 00:00:00 UTC,view,1,2,,,-1,5413121400,s\"\n";
  comm.barrier();
  const auto before = io::EventStore::open(comm, path);
  const auto mine_before = before.read_my_events(comm);

  pipeline::ForgetOptions o;
  o.store = path;
  o.key_file = key_path;
  o.user_ids = {raw_id};
  o.request = "DPO-42";
  auto ctx = make_context(comm);
  const auto report = pipeline::run_forget(ctx, o);
  std::uint64_t had = 0;
  for (const auto& e : mine_before) had += e.user == pseudo;
  had = comm.allreduce_sum(had);
  EXPECT_EQ(report.events_removed, had);
  EXPECT_EQ(had, 4u + 1u + 2u);  // partition p holds 1 + (7 + p) % 4 of its events
  EXPECT_EQ(report.quarantine_rows_removed, 1u);

  const auto after = io::EventStore::open(comm, path);
  auto expected = mine_before;
  expected.erase(std::remove_if(expected.begin(), expected.end(),
                                [&](const Event& e) { return e.user == pseudo; }),
                 expected.end());
  const auto mine_after = after.read_my_events(comm);
  ASSERT_EQ(mine_after.size(), expected.size());
  EXPECT_EQ(std::memcmp(mine_after.data(), expected.data(), expected.size() * sizeof(Event)), 0);
  ASSERT_EQ(after.audit().size(), 1u);
  EXPECT_EQ(after.audit()[0].action, "forget");
  EXPECT_EQ(after.audit()[0].events_removed, had);
  EXPECT_NE(after.audit()[0].note.find("request=DPO-42"), std::string::npos);
  if (comm.rank() == 0) {
    const std::string bytes = slurp(path);
    char le[8];
    std::memcpy(le, &pseudo, 8);
    EXPECT_EQ(bytes.find(std::string(le, 8)), std::string::npos)
        << "pseudonym bytes left in the store";
    EXPECT_EQ(bytes.find(privacy::to_hex(pseudo)), std::string::npos);
    EXPECT_EQ(bytes.find(raw_id), std::string::npos);
    const std::string q = slurp(dir + "/store.quarantine.csv");
    EXPECT_EQ(q.find(raw_id + ","), std::string::npos);
    EXPECT_NE(q.find("5413121400"), std::string::npos);  // another person's row stays
  }
  // Forgetting again: nothing left, nothing changes.
  const auto again = pipeline::run_forget(ctx, o);
  EXPECT_EQ(again.events_removed, 0u);
  EXPECT_EQ(io::EventStore::open(comm, path).audit().size(), 1u);
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(dir);
}
