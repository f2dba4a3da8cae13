// The event store: write with P ranks, read back with P and with other splits (as another
// number of ranks would), append partitions (merged reads), manifest and string table round
// trips, contract checks. Compared with a serial reference: the same events sorted in memory.
//
// With ECOM_STORE_TEST_OUT=path set, the test WriteStoreForComparison writes a fixed store
// there (used by tests/e2e/test_profile_np.sh to h5diff stores written with np 1..4).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/vshard.hpp"

using ecom::Event;
using ecom::EventType;
using ecom::io::EventStore;
using ecom::io::FileManifest;
using ecom::io::StringTable;
using ecom::par::Comm;
using ecom::par::VShardMap;

namespace {

std::string shared_path(Comm& comm, const std::string& name) {
  long pid = comm.rank() == 0 ? static_cast<long>(::getpid()) : 0;
  comm.bcast(pid, 0);
  return (std::filesystem::temp_directory_path() /
          ("ecom_mpi_io_store_" + std::to_string(pid) + "_" + name))
      .string();
}

void remove_store(Comm& comm, const std::string& path) {
  comm.barrier();
  if (comm.rank() == 0) {
    std::filesystem::remove(path);
    std::filesystem::remove(path + ".tmp");
  }
  comm.barrier();
}

const char* const kCategories[] = {"", "electronics.smartphone", "appliances.kitchen.washer",
                                   "computers.notebook", "apparel.shoes"};
const char* const kBrands[] = {"", "samsung", "apple", "xiaomi", "", "bosch", "lenovo"};

// The global test events: a pure function of (seed, i), identical on every rank. Events with
// equal sort keys are identical in every field (all attributes derive from the product).
std::vector<Event> make_events(std::uint64_t seed, std::size_t n, std::uint64_t users) {
  std::vector<Event> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t j = (i % 97 == 5) ? i - 1 : i;  // some exact duplicates
    const std::uint64_t h = ecom::mix64(seed * 1000003ULL + j);
    Event e{};
    const std::uint64_t u = h % users;
    e.user = ecom::mix64(u + 0x1234);
    e.time = 1569888000u + static_cast<std::uint32_t>(ecom::mix64(h + 1) % (3 * 86400));
    const auto t = ecom::mix64(h + 2) % 100;
    e.type = t < 85   ? EventType::view
             : t < 93 ? EventType::cart
             : t < 96 ? EventType::remove_from_cart
                      : EventType::purchase;
    e.product = 1000000 + ecom::mix64(h + 3) % 400;
    e.category_id = 2053013550000000000ULL + e.product % 37;
    e.category = ecom::string_id(kCategories[e.product % 5]);
    e.brand = ecom::string_id(kBrands[e.product % 7]);
    e.session = ecom::mix64(e.user ^ (ecom::mix64(h + 4) % 3));
    e.price = static_cast<double>(ecom::mix64(h + 5) % 50000) / 100.0;
    out.push_back(e);
  }
  return out;
}

StringTable all_strings() {
  StringTable t;
  for (const char* s : kCategories)
    if (*s) t.emplace_back(ecom::string_id(s), s);
  for (const char* s : kBrands)
    if (*s) t.emplace_back(ecom::string_id(s), s);
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

// This rank's part of the string table: every P-th entry, plus the first one on every rank
// (overlaps are allowed).
StringTable my_strings(const Comm& comm) {
  const auto all = all_strings();
  StringTable mine;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (i == 0 || static_cast<int>(i % static_cast<std::size_t>(comm.size())) == comm.rank())
      mine.push_back(all[i]);
  return mine;
}

std::vector<Event> sorted(std::vector<Event> v) {
  std::stable_sort(v.begin(), v.end(), ecom::io::event_less);
  return v;
}

// Events of `events` whose user falls in vshards [first, end) under `map`, in total order.
std::vector<Event> in_vshards(const std::vector<Event>& events, const VShardMap& map,
                              std::uint32_t first, std::uint32_t end) {
  std::vector<Event> out;
  for (const auto& e : events) {
    const auto v = map.vshard_of(e.user);
    if (v >= first && v < end) out.push_back(e);
  }
  return sorted(out);
}

std::vector<Event> my_part(const Comm& comm, const std::vector<Event>& events, std::uint32_t v) {
  const VShardMap map(v, comm.size());
  return in_vshards(events, map, map.first_vshard(comm.rank()), map.end_vshard(comm.rank()));
}

bool same(const std::vector<Event>& a, const std::vector<Event>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)) == 0);
}

FileManifest manifest_for(const std::string& name, std::uint64_t rows) {
  FileManifest m;
  m.name = name;
  m.size = 123456789012ULL;
  m.sha256 = std::string(63, 'a') + name.substr(0, 1);
  m.rows_read = rows + 10;
  m.rows_kept = rows;
  m.duplicates = 3;
  m.zero_price = rows / 7 + 1;  // round-trips through the manifest's attributes
  m.rejects = {{"bad_price", 4}, {"bad_time", 2}, {"field_count", 1}, {"out_of_window", 0}};
  for (int c = 0; c < ecom::io::kInputColumns; ++c)
    m.missing[static_cast<std::size_t>(c)] = static_cast<std::uint64_t>(c * c);
  m.ingest_time = "2024-05-01T12:00:00Z";
  m.partition = 99;  // overwritten by the store
  return m;
}

}  // namespace

TEST(EventLess, IsTheDocumentedTotalOrder) {
  Event a{}, b{};
  a.user = 1;
  b.user = 2;
  a.time = 9;
  b.time = 1;
  EXPECT_TRUE(ecom::io::event_less(a, b));
  b.user = 1;
  EXPECT_FALSE(ecom::io::event_less(a, b));  // time decides
  b.time = 9;
  a.type = EventType::purchase;
  b.type = EventType::view;
  EXPECT_TRUE(ecom::io::event_less(b, a));  // then type
  b.type = EventType::purchase;
  a.product = 5;
  b.product = 4;
  EXPECT_TRUE(ecom::io::event_less(b, a));  // then product
  b.product = 5;
  a.session = 1;
  b.session = 2;
  EXPECT_TRUE(ecom::io::event_less(a, b));  // then session
  b.session = 1;
  a.price = 2.5;
  b.price = 2.0;
  EXPECT_TRUE(ecom::io::event_less(b, a));  // then price
  b.price = 2.5;
  a.brand = 7;
  EXPECT_FALSE(ecom::io::event_less(a, b));  // the rest does not order
  EXPECT_FALSE(ecom::io::event_less(b, a));
}

TEST(EventStore, WriteReadAppendAndReadWithOtherSplits) {
  auto comm = Comm::world();
  const auto path = shared_path(comm, "store.h5");
  const std::uint32_t v = 64;
  const auto first_events = make_events(1, 3000, 150);
  const auto second_events = make_events(2, 2000, 200);
  EXPECT_FALSE(EventStore::exists(comm, path));

  const auto mine = my_part(comm, first_events, v);
  const int p0 = EventStore::append_partition(comm, path, v, mine, my_strings(comm),
                                              {manifest_for("oct.csv", first_events.size())});
  EXPECT_EQ(p0, 0);
  EXPECT_TRUE(EventStore::exists(comm, path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  {
    auto store = EventStore::open(comm, path);
    EXPECT_EQ(store.vshards(), v);
    EXPECT_EQ(store.partitions(), 1);
    EXPECT_EQ(store.events(), first_events.size());
    EXPECT_EQ(store.strings(), all_strings());
    EXPECT_EQ(store.string_of(ecom::string_id("samsung")), "samsung");
    EXPECT_EQ(store.string_of(0), "");
    ASSERT_EQ(store.manifest().size(), 1u);
    auto expect = manifest_for("oct.csv", first_events.size());
    expect.partition = 0;
    EXPECT_EQ(store.manifest()[0], expect);
    EXPECT_TRUE(store.has_file(expect.sha256));
    EXPECT_FALSE(store.has_file(std::string(64, 'f')));
    EXPECT_TRUE(same(store.read_my_events(comm), mine));
  }

  // Second partition: a new ingest appends, the first partition is untouched.
  const auto mine2 = my_part(comm, second_events, v);
  StringTable extra = {{ecom::string_id("new.brand"), "new.brand"}};
  const int p1 = EventStore::append_partition(
      comm, path, v, mine2, comm.rank() == 0 ? extra : StringTable{},
      {manifest_for("nov.csv", second_events.size()), manifest_for("dec.csv", 0)});
  EXPECT_EQ(p1, 1);
  auto store = EventStore::open(comm, path);
  EXPECT_EQ(store.partitions(), 2);
  EXPECT_EQ(store.events(), first_events.size() + second_events.size());
  auto strings = all_strings();
  strings.push_back(extra[0]);
  std::sort(strings.begin(), strings.end());
  EXPECT_EQ(store.strings(), strings);
  ASSERT_EQ(store.manifest().size(), 3u);
  EXPECT_EQ(store.manifest()[0].partition, 0);
  EXPECT_EQ(store.manifest()[1].partition, 1);
  EXPECT_EQ(store.manifest()[2].partition, 1);
  EXPECT_EQ(store.manifest()[2].name, "dec.csv");

  // Reads merge the partitions into the total order.
  auto both = first_events;
  both.insert(both.end(), second_events.begin(), second_events.end());
  EXPECT_TRUE(same(store.read_my_events(comm), my_part(comm, both, v)));

  // As if read with Q ranks: virtual rank q is read by rank q % P (one collective per q).
  for (int q_ranks = 1; q_ranks <= 6; ++q_ranks) {
    const VShardMap map(v, q_ranks);
    for (int q = 0; q < q_ranks; ++q) {
      const bool me = q % comm.size() == comm.rank();
      const std::uint32_t f = me ? map.first_vshard(q) : 0, e = me ? map.end_vshard(q) : 0;
      const auto got = store.read_vshards(comm, f, e);
      EXPECT_TRUE(same(got, in_vshards(both, map, f, e))) << "Q=" << q_ranks << " q=" << q;
    }
  }
  // Everything on one rank (the others read nothing).
  const auto whole = store.read_vshards(comm, 0, comm.rank() == 0 ? v : 0);
  if (comm.rank() == 0) {
    EXPECT_TRUE(same(whole, sorted(both)));
  }
  remove_store(comm, path);
}

TEST(EventStore, UnevenVShardsAndEmptyRanks) {
  auto comm = Comm::world();
  const auto path = shared_path(comm, "uneven.h5");
  const std::uint32_t v = 5;                   // with 4 ranks: 1,1,1,2 vshards
  const auto events = make_events(3, 400, 3);  // three users: some ranks hold none
  EventStore::append_partition(comm, path, v, my_part(comm, events, v), {}, {});
  auto store = EventStore::open(comm, path);
  EXPECT_TRUE(same(store.read_my_events(comm), my_part(comm, events, v)));
  EXPECT_TRUE(store.strings().empty());
  EXPECT_TRUE(store.manifest().empty());
  // The vshard index is V+1 entries, from 0 to the total, monotone.
  {
    auto f = ecom::io::h5::File::open(comm, path, false);
    const auto off =
        ecom::io::h5::read_all<std::uint64_t>(f.root(), "partitions/0000/vshard_offsets");
    ASSERT_EQ(off.size(), v + 1);
    EXPECT_EQ(off.front(), 0u);
    EXPECT_EQ(off.back(), events.size());
    EXPECT_TRUE(std::is_sorted(off.begin(), off.end()));
    const VShardMap map(v, 1);
    for (std::uint32_t s = 0; s < v; ++s)
      EXPECT_EQ(off[s + 1] - off[s], in_vshards(events, map, s, s + 1).size());
    f.close();
  }
  remove_store(comm, path);
}

TEST(EventStore, DefaultVShardsEmptyStore) {
  auto comm = Comm::world();
  const auto path = shared_path(comm, "empty.h5");
  EventStore::append_partition(comm, path, ecom::par::kDefaultVShards, {}, {},
                               {manifest_for("x", 0)});
  auto store = EventStore::open(comm, path);
  EXPECT_EQ(store.events(), 0u);
  EXPECT_EQ(store.vshards(), ecom::par::kDefaultVShards);
  EXPECT_TRUE(store.read_my_events(comm).empty());
  remove_store(comm, path);
}

TEST(EventStore, ContractViolationsAndMissingStores) {
  auto comm = Comm::world();
  const auto path = shared_path(comm, "bad.h5");
  const std::uint32_t v = 16;
  const auto events = make_events(4, 200, 20);
  // Unsorted on the last rank only: every rank throws the same error.
  auto mine = my_part(comm, events, v);
  if (comm.rank() == comm.size() - 1 && mine.size() > 1) std::swap(mine.front(), mine.back());
  bool last_has_two = comm.rank() == comm.size() - 1 ? my_part(comm, events, v).size() > 1 : false;
  comm.bcast(last_has_two, comm.size() - 1);
  if (last_has_two) {
    try {
      EventStore::append_partition(comm, path, v, mine, {}, {});
      ADD_FAILURE() << "no error";
    } catch (const ecom::Error& e) {
      EXPECT_TRUE(e.collective());
      EXPECT_NE(std::string(e.what()).find("not sorted"), std::string::npos) << e.what();
    }
  }
  // An event of another rank's vshard range.
  if (comm.size() > 1) {
    auto wrong = my_part(comm, events, v);
    std::vector<Event> foreign;
    const VShardMap map(v, comm.size());
    for (const auto& e : events)
      if (map.owner_of(e.user) != comm.rank()) foreign.push_back(e);
    EXPECT_THROW(EventStore::append_partition(comm, path, v, foreign, {}, {}), ecom::Error);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));  // the unfinished copy is removed too
  // Missing store and wrong files.
  try {
    EventStore::open(comm, path);
    ADD_FAILURE() << "no error";
  } catch (const ecom::Error& e) {  // raised on every rank through par::agree
    EXPECT_EQ(std::string(e.what()), "event store not found: " + path);
    EXPECT_EQ(e.code(), ecom::ExitCode::input);
    EXPECT_TRUE(e.collective());
  }
  EventStore::append_partition(comm, path, v, my_part(comm, events, v), {}, {});
  // Another V on append is refused.
  EXPECT_THROW(EventStore::append_partition(comm, path, v * 2, {}, {}, {}), ecom::Error);
  // An HDF5 file that is not a store.
  const auto other = shared_path(comm, "other.h5");
  ecom::io::h5::update_file(comm, other,
                            [](ecom::io::h5::File& f) { f.root().attrs().set("x", 1); });
  EXPECT_FALSE(EventStore::exists(comm, other));
  try {
    EventStore::open(comm, other);
    ADD_FAILURE() << "no error";
  } catch (const ecom::Error& e) {
    EXPECT_EQ(e.code(), ecom::ExitCode::input);
    EXPECT_NE(std::string(e.what()).find("not an event store"), std::string::npos) << e.what();
  }
  remove_store(comm, path);
  remove_store(comm, other);
}

// Writes a fixed two-partition store to $ECOM_STORE_TEST_OUT (skipped when unset).
TEST(EventStore, WriteStoreForComparison) {
  const char* out = std::getenv("ECOM_STORE_TEST_OUT");
  if (!out) GTEST_SKIP() << "ECOM_STORE_TEST_OUT not set";
  auto comm = Comm::world();
  const std::uint32_t v = 128;
  const std::size_t n = std::getenv("ECOM_STORE_TEST_EVENTS")
                            ? std::strtoull(std::getenv("ECOM_STORE_TEST_EVENTS"), nullptr, 10)
                            : 20000;
  const auto a = make_events(11, n, n / 8 + 1);
  const auto b = make_events(12, n / 2, n / 8 + 1);
  if (comm.rank() == 0) {
    std::filesystem::remove(out);
  }
  comm.barrier();
  auto fa = manifest_for("first.csv", a.size());
  fa.rejects = {{"bad_price", 1}};
  fa.missing = {0, 0, 0, 0, a.size() / 3, a.size() / 7, 0, 0, 0};
  fa.rows_read = a.size() + 1 + fa.duplicates;
  EventStore::append_partition(comm, out, v, my_part(comm, a, v), my_strings(comm), {fa});
  auto fb = manifest_for("second.csv", b.size());
  fb.rejects = {{"bad_time", 2}, {"unknown_event_type", 1}};
  fb.duplicates = 0;
  fb.rows_read = b.size() + 3;
  EventStore::append_partition(comm, out, v, my_part(comm, b, v), my_strings(comm), {fb});
}
