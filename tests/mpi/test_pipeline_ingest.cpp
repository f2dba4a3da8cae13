// The ingest's in-memory entry point against the store (np 1..4): ingest_in_memory returns
// exactly the events, string table and manifest that run_ingest writes into a new store, and
// the same quarantine.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ecom/core/context.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/pipeline/ingest.hpp"
#include "test_dirs.hpp"

using namespace ecom;
namespace fs = std::filesystem;

namespace {

// Rows of many users (some with leading zeros), labels, duplicates, zero prices and rejects.
std::string make_rows(int seed, int n) {
  std::string text =
      "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,"
      "user_session\n";
  const char* types[] = {"view", "cart", "purchase", "remove_from_cart"};
  const char* brands[] = {"", "Samsung", " apple", "XIAOMI"};
  for (int i = 0; i < n; ++i) {
    const int u = (i * 7 + seed) % 97;
    std::string user = std::to_string(500000000 + u);
    if (i % 11 == 0) user = "000" + user;
    std::string line = "2019-11-0" + std::to_string(1 + i % 5) +
                       " 10:" + std::to_string(10 + i % 50) + ":0" + std::to_string(i % 10) +
                       " UTC," + types[i % 4] + "," + std::to_string(1000 + i % 37) + ",20530," +
                       (i % 3 ? "electronics.phone" : "") + "," + brands[i % 4] + "," +
                       (i % 13 == 0 ? "0" : std::to_string(i % 200) + ".5") + "," + user + ",s" +
                       std::to_string(u * 3 + i % 2);
    if (i % 97 == 5) line = "broken,row";
    if (i % 83 == 2) line = line.replace(0, 4, "20x9");  // bad_time
    text += line + "\n";
    if (i % 41 == 0) text += line + "\n";  // an exact duplicate
  }
  return text;
}

void write_gzip(const std::string& path, const std::string& text) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  gzclose(f);
}

}  // namespace

TEST(IngestInMemory, EqualsWhatTheStoreHolds) {
  auto comm = par::Comm::world();
  const std::string dir = test::shared_dir(comm, "ecom-ingest");
  const std::string key = dir + "/key";
  if (comm.rank() == 0) {
    std::ofstream(key) << "ingest-test-key-of-32-bytes-long";
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
    std::ofstream(dir + "/a.csv") << make_rows(1, 3000);
    write_gzip(dir + "/b.csv.gz", make_rows(2, 2500));
  }
  comm.barrier();
  Context ctx{comm, Logger(comm.rank(), LogLevel::warn), Timers{}, false, "", ""};
  pipeline::IngestOptions o;
  o.inputs = {dir + "/a.csv", dir + "/b.csv.gz"};
  o.store = dir + "/s.h5";
  o.key_file = key;
  o.vshards = 64;
  o.shuffle_buffer_mb = 1;  // several rounds
  o.read_chunk_kb = 4;
  const pipeline::IngestResult stored_result = pipeline::run_ingest(ctx, o);
  ASSERT_EQ(stored_result.partition, 0);

  pipeline::IngestOptions m = o;
  m.store = "";
  m.quarantine = dir + "/memory.quarantine.csv";
  const pipeline::IngestedEvents mem = pipeline::ingest_in_memory(ctx, m);
  EXPECT_EQ(mem.result.partition, -1);
  EXPECT_EQ(mem.vshards, 64u);
  EXPECT_EQ(mem.result.rows_read, stored_result.rows_read);
  EXPECT_EQ(mem.result.rows_kept, stored_result.rows_kept);
  EXPECT_EQ(mem.result.duplicates, stored_result.duplicates);
  EXPECT_EQ(mem.result.rejects, stored_result.rejects);
  EXPECT_GT(stored_result.duplicates, 0u);
  EXPECT_GT(stored_result.rejected(), 0u);

  const io::EventStore store = io::EventStore::open(comm, o.store);
  const std::vector<Event> events = store.read_my_events(comm);
  ASSERT_EQ(events.size(), mem.events.size());
  EXPECT_TRUE(events.empty() ||
              std::memcmp(events.data(), mem.events.data(), events.size() * sizeof(Event)) == 0);
  EXPECT_EQ(comm.allreduce_sum<std::uint64_t>(events.size()), store.events());

  ASSERT_EQ(mem.manifest.size(), store.manifest().size());
  for (std::size_t i = 0; i < mem.manifest.size(); ++i) {
    io::FileManifest a = mem.manifest[i];
    a.ingest_time = store.manifest()[i].ingest_time;
    EXPECT_EQ(a, store.manifest()[i]) << "file " << i;
  }
  // The store's table is the union of the ranks' tables.
  std::vector<std::uint64_t> ids;
  for (const auto& [id, text] : mem.strings) {
    EXPECT_EQ(store.string_of(id), text);
    ids.push_back(id);
  }
  std::vector<std::uint64_t> all = comm.allgatherv<std::uint64_t>(ids);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), store.strings().size());

  comm.barrier();
  if (comm.rank() == 0) {
    EXPECT_EQ(test::slurp(m.quarantine), test::slurp(dir + "/s.quarantine.csv"));
    fs::remove_all(dir);
  }
  comm.barrier();
}
