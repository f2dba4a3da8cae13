#include "ecom/io/event_store.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <filesystem>

#include "ecom/io/h5.hpp"

namespace ecom::io {

bool event_less(const Event& a, const Event& b) {
  if (a.user != b.user) return a.user < b.user;
  if (a.time != b.time) return a.time < b.time;
  if (a.type != b.type) return a.type < b.type;
  if (a.product != b.product) return a.product < b.product;
  if (a.session != b.session) return a.session < b.session;
  return a.price < b.price;
}

std::string partition_group(int index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/partitions/%04d", index);
  return buf;
}

namespace {

// "<parent>/<NNNNNN>"
std::string numbered_group(const char* parent, std::size_t index) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s/%06zu", parent, index);
  return buf;
}

std::string manifest_group(std::size_t index) { return numbered_group("/manifest", index); }
std::string audit_group(std::size_t index) { return numbered_group("/manifest/audit", index); }

// ---- manifest -------------------------------------------------------------------------

void write_manifest_entry(const h5::Group& g, const FileManifest& m) {
  const auto a = g.attrs();
  a.set("name", m.name);
  a.set("size", m.size);
  a.set("sha256", m.sha256);
  a.set("rows_read", m.rows_read);
  a.set("rows_kept", m.rows_kept);
  a.set("duplicates", m.duplicates);
  a.set("zero_price", m.zero_price);
  std::vector<std::string> reasons;
  std::vector<std::uint64_t> counts;
  for (const auto& [reason, count] : m.rejects) {
    reasons.push_back(reason);
    counts.push_back(count);
  }
  a.set("reject_reasons", reasons);
  a.set("reject_counts", counts);
  a.set("missing", std::vector<std::uint64_t>(m.missing.begin(), m.missing.end()));
  a.set("ingest_time", m.ingest_time);
  a.set("partition", static_cast<std::int32_t>(m.partition));
}

FileManifest read_manifest_entry(const h5::Group& g) {
  const auto a = g.attrs();
  FileManifest m;
  m.name = a.get_string("name");
  m.size = a.get<std::uint64_t>("size");
  m.sha256 = a.get_string("sha256");
  m.rows_read = a.get<std::uint64_t>("rows_read");
  m.rows_kept = a.get<std::uint64_t>("rows_kept");
  m.duplicates = a.get<std::uint64_t>("duplicates");
  m.zero_price = a.has("zero_price") ? a.get<std::uint64_t>("zero_price") : 0;
  const auto reasons = a.get_strings("reject_reasons");
  const auto counts = a.get_vector<std::uint64_t>("reject_counts");
  if (reasons.size() != counts.size()) throw InputError("store manifest: reject lists differ");
  for (std::size_t i = 0; i < reasons.size(); ++i) m.rejects[reasons[i]] = counts[i];
  const auto missing = a.get_vector<std::uint64_t>("missing");
  if (missing.size() != m.missing.size()) throw InputError("store manifest: bad missing counts");
  std::copy(missing.begin(), missing.end(), m.missing.begin());
  m.ingest_time = a.get_string("ingest_time");
  m.partition = a.get<std::int32_t>("partition");
  return m;
}

void write_audit_entry(const h5::Group& g, const AuditRecord& r) {
  const auto a = g.attrs();
  a.set("action", r.action);
  a.set("time", r.time);
  a.set("events_removed", r.events_removed);
  a.set("partitions_removed", r.partitions_removed);
  a.set("note", r.note);
}

AuditRecord read_audit_entry(const h5::Group& g) {
  const auto a = g.attrs();
  AuditRecord r;
  r.action = a.get_string("action");
  r.time = a.get_string("time");
  r.events_removed = a.get<std::uint64_t>("events_removed");
  r.partitions_removed = a.get<std::uint64_t>("partitions_removed");
  r.note = a.get_string("note");
  return r;
}

// Writes manifest entries [first, manifest.size()) and the manifest group's attributes.
void write_manifest(const h5::Group& root, const std::vector<FileManifest>& manifest,
                    std::size_t first) {
  h5::Group mg = root.require_group("manifest");
  for (std::size_t i = first; i < manifest.size(); ++i) {
    h5::Group g = root.create_group(manifest_group(i));
    write_manifest_entry(g, manifest[i]);
    g.close();
  }
  mg.attrs().set("files", static_cast<std::uint64_t>(manifest.size()));
  std::vector<std::string> columns(kInputColumnNames.begin(), kInputColumnNames.end());
  mg.attrs().set("missing_columns", columns);
  mg.close();
}

// ---- string table ---------------------------------------------------------------------

void write_strings(par::Comm& comm, const h5::Group& root, const StringTable& table) {
  if (root.exists("strings")) root.remove("strings");
  h5::Group g = root.create_group("strings");
  std::vector<std::uint64_t> ids, offsets{0};
  std::vector<std::uint8_t> bytes;
  for (const auto& [id, s] : table) {
    ids.push_back(id);
    bytes.insert(bytes.end(), s.begin(), s.end());
    offsets.push_back(bytes.size());
  }
  h5::write_replicated<std::uint64_t>(comm, g, "ids", ids);
  h5::write_replicated<std::uint64_t>(comm, g, "offsets", offsets);
  h5::write_replicated<std::uint8_t>(comm, g, "bytes", bytes);
  g.attrs().set("count", static_cast<std::uint64_t>(table.size()));
}

StringTable read_strings(const h5::Group& root) {
  StringTable table;
  if (!root.exists("strings")) return table;
  h5::Group g = root.open_group("strings");
  const auto ids = h5::read_all<std::uint64_t>(g, "ids");
  const auto offsets = h5::read_all<std::uint64_t>(g, "offsets");
  const auto bytes = h5::read_all<std::uint8_t>(g, "bytes");
  if (offsets.size() != ids.size() + 1 || offsets.back() != bytes.size())
    throw InputError("store string table is inconsistent");
  table.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i)
    table.emplace_back(ids[i],
                       std::string(bytes.begin() + static_cast<std::ptrdiff_t>(offsets[i]),
                                   bytes.begin() + static_cast<std::ptrdiff_t>(offsets[i + 1])));
  return table;
}

// Union of every rank's part and `existing`, sorted by id. Deterministic on every rank; an id
// with two different strings (a 64-bit hash collision) is an error raised on every rank.
StringTable merge_strings(par::Comm& comm, const StringTable& existing, const StringTable& local) {
  std::vector<std::uint64_t> ids, lengths;
  std::string bytes;
  for (const auto& [id, s] : local) {
    ids.push_back(id);
    lengths.push_back(s.size());
    bytes += s;
  }
  const auto all_ids = comm.allgatherv<std::uint64_t>(ids);
  const auto all_lengths = comm.allgatherv<std::uint64_t>(lengths);
  const auto all_bytes = comm.allgatherv<char>(std::span<const char>(bytes.data(), bytes.size()));
  StringTable merged = existing;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < all_ids.size(); ++i) {
    merged.emplace_back(all_ids[i], std::string(all_bytes.data() + pos, all_lengths[i]));
    pos += all_lengths[i];
  }
  std::sort(merged.begin(), merged.end());
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  for (std::size_t i = 1; i < merged.size(); ++i)
    if (merged[i].first == merged[i - 1].first) {
      Error e("string table: id " + std::to_string(merged[i].first) +
              " names two different strings (hash collision)");
      e.set_collective(true);
      throw e;
    }
  return merged;
}

// ---- event columns --------------------------------------------------------------------

// Creates the nine event columns (collective) and writes this rank's events into them, block
// by block: one pass over the events fills every column's block (each event is read once, not
// once per column), and each block goes out with one collective write per column (every rank
// joins every round; on a local disk independent writes were 0.05 s faster for 10M events, but
// collective I/O lets MPI-IO aggregate on parallel file systems). Memory: one block per column (61
// bytes a row), never a whole column (that would add to the ingest's peak memory).
// append_partition's contract for row i of this rank's events: sorted, every user in this
// rank's vshard range [first, end), a valid event type.
bool event_ok(std::span<const Event> events, std::size_t i, const par::VShardMap& map,
              std::uint32_t first, std::uint32_t end) {
  const std::uint32_t v = map.vshard_of(events[i].user);
  return v >= first && v < end && !(i > 0 && event_less(events[i], events[i - 1])) &&
         static_cast<int>(events[i].type) < kEventTypes;
}
// The message for a row where event_ok is false.
std::string violation(int rank, std::span<const Event> events, std::size_t i,
                      const par::VShardMap& map, std::uint32_t first, std::uint32_t end) {
  const std::uint32_t v = map.vshard_of(events[i].user);
  if (v < first || v >= end)
    return "append_partition: rank " + std::to_string(rank) + " holds an event of vshard " +
           std::to_string(v) + " outside its range [" + std::to_string(first) + ", " +
           std::to_string(end) + ")";
  if (i > 0 && event_less(events[i], events[i - 1]))
    return "append_partition: rank " + std::to_string(rank) + " events not sorted at row " +
           std::to_string(i);
  return "append_partition: bad event type at row " + std::to_string(i);
}

void write_event_columns(par::Comm& comm, const h5::Group& ev, std::span<const Event> events,
                         const par::VShardMap& map) {
  constexpr std::size_t kBlockRows = std::size_t{1} << 16;  // 4 MiB of column blocks
  const h5::RowSplit split = h5::RowSplit::of(comm, events.size());
  h5::ColumnWriter<std::uint64_t> user(ev, "user", split, true);
  h5::ColumnWriter<std::uint32_t> time(ev, "time", split, true);
  h5::ColumnWriter<std::uint8_t> type(ev, "event_type", split, true);
  h5::ColumnWriter<std::uint64_t> product(ev, "product_id", split, true);
  h5::ColumnWriter<std::uint64_t> category_id(ev, "category_id", split, true);
  h5::ColumnWriter<std::uint64_t> category(ev, "category", split, true);
  h5::ColumnWriter<std::uint64_t> brand(ev, "brand", split, true);
  h5::ColumnWriter<double> price(ev, "price", split, true);
  h5::ColumnWriter<std::uint64_t> session(ev, "session", split, true);
  const std::uint32_t first = map.first_vshard(comm.rank());
  const std::uint32_t end = map.end_vshard(comm.rank());
  std::string error;  // the caller's contract, checked in the same pass
  const std::size_t block = std::min(kBlockRows, events.size());
  std::vector<std::uint64_t> b_user(block), b_product(block), b_category_id(block),
      b_category(block), b_brand(block), b_session(block);
  std::vector<std::uint32_t> b_time(block);
  std::vector<std::uint8_t> b_type(block);
  std::vector<double> b_price(block);
  // Collective writes: every rank takes part in as many rounds as the rank with most blocks.
  const std::uint64_t rounds =
      comm.allreduce_max<std::uint64_t>(block > 0 ? (events.size() + block - 1) / block : 0);
  for (std::size_t r = 0; r < rounds; ++r) {
    const std::size_t lo = std::min(events.size(), r * block);
    const std::size_t n = std::min(block, events.size() - lo);
    const Event* e = events.data() + lo;
    bool ok = true;
    for (std::size_t i = 0; i < n; ++i) {
      ok &= event_ok(events, lo + i, map, first, end);
      b_user[i] = e[i].user;
      b_time[i] = e[i].time;
      b_type[i] = static_cast<std::uint8_t>(e[i].type);
      b_product[i] = e[i].product;
      b_category_id[i] = e[i].category_id;
      b_category[i] = e[i].category;
      b_brand[i] = e[i].brand;
      b_price[i] = e[i].price;
      b_session[i] = e[i].session;
    }
    for (std::size_t i = 0; !ok && error.empty() && i < n; ++i)
      if (!event_ok(events, lo + i, map, first, end))
        error = violation(comm.rank(), events, lo + i, map, first, end);
    const auto part = [n](const auto& v) { return std::span(v.data(), n); };
    user.write(lo, part(b_user));
    time.write(lo, part(b_time));
    type.write(lo, part(b_type));
    product.write(lo, part(b_product));
    category_id.write(lo, part(b_category_id));
    category.write(lo, part(b_category));
    brand.write(lo, part(b_brand));
    price.write(lo, part(b_price));
    session.write(lo, part(b_session));
  }
  // Before anything is closed or written beyond the columns: every rank throws the same error
  // (the file is left unfinished and is never renamed over the store).
  par::agree(comm, error, ExitCode::internal);
  user.close();
  time.close();
  type.close();
  product.close();
  category_id.close();
  category.close();
  brand.close();
  price.close();
  session.close();
}

// Reads rows [first, first + out.size()) of column `name` into `scratch` (reused across
// columns: one allocation instead of one per column) and stores them with `set`.
template <class T, class Set>
void read_column(par::Comm& comm, const h5::Group& g, const char* name, std::uint64_t first,
                 std::span<Event> out, std::vector<std::byte>& scratch, Set set) {
  h5::Dataset ds = g.open_dataset(name);
  if (ds.cols() != 1) throw InputError("event store column " + std::string(name) + " is not 1-D");
  if (scratch.size() < out.size() * sizeof(T)) scratch.resize(out.size() * sizeof(T));
  auto* column = reinterpret_cast<T*>(scratch.data());  // byte storage: implicit objects
  h5::detail::read_rows_bytes(&comm, ds, h5::native_type<T>(), sizeof(T), column, first, out.size(),
                              h5::kMaxRoundBytes);
  for (std::size_t i = 0; i < out.size(); ++i) set(out[i], column[i]);
}

// Collective. Creates partition group `index` with this rank's `local_events` (sorted, all in
// this rank's vshard range under `map`: checked while the columns are written, Error with
// ExitCode::internal on every rank otherwise) and its vshard offsets. Returns the partition's
// rows.
std::uint64_t write_partition(par::Comm& comm, const h5::Group& root, int index,
                              std::span<const Event> local_events, const par::VShardMap& map) {
  const std::uint32_t first = map.first_vshard(comm.rank());
  const std::uint32_t end = map.end_vshard(comm.rank());
  // vshard offsets: this rank's entries [first, end), plus the final total on the last rank.
  const std::uint64_t base = comm.exscan_sum<std::uint64_t>(local_events.size());
  const std::uint64_t total = comm.allreduce_sum<std::uint64_t>(local_events.size());
  // The events are sorted by user and vshard_of is monotonic in the user: vshard v starts at
  // the first event of a vshard >= v (a binary search per vshard, not a pass over the events).
  std::vector<std::uint64_t> offsets;
  offsets.reserve(end - first + 1);
  {
    auto it = local_events.begin();
    for (std::uint32_t v = first; v < end; ++v) {
      it = std::partition_point(it, local_events.end(),
                                [&](const Event& e) { return map.vshard_of(e.user) < v; });
      offsets.push_back(base + static_cast<std::uint64_t>(it - local_events.begin()));
    }
    if (comm.rank() == comm.size() - 1) offsets.push_back(total);
  }
  h5::Group part = root.create_group(partition_group(index));
  part.attrs().set("events", total);
  h5::Group ev = part.create_group("events");
  write_event_columns(comm, ev, local_events, map);
  ev.attrs().set("event_types",
                 std::vector<std::string>(kEventTypeNames.begin(), kEventTypeNames.end()));
  ev.close();
  h5::write_rows<std::uint64_t>(comm, part, "vshard_offsets", offsets);
  part.close();
  return total;
}

// Collective. Rows [lo, hi) of partition p holding vshards [first, end) (hi - lo of them).
std::pair<std::uint64_t, std::uint64_t> partition_rows(par::Comm& comm, const h5::File& f,
                                                       const std::string& path, int p,
                                                       std::uint32_t vshards, std::uint32_t first,
                                                       std::uint32_t end) {
  h5::Dataset off = f.root().open_dataset(partition_group(p) + "/vshard_offsets");
  if (off.rows() != std::uint64_t{vshards} + 1)
    throw InputError("event store " + path + ": partition " + std::to_string(p) +
                     " has a vshard index of " + std::to_string(off.rows()) + " entries");
  // An empty range still reads one entry (collective: every rank joins).
  const auto o = h5::read_rows<std::uint64_t>(comm, off, first, end - first + 1);
  if (o.back() < o.front()) throw InputError("event store " + path + ": bad vshard index");
  return {o.front(), o.back()};
}

// Collective. This rank's rows [lo, hi) of partition p (its vshards under `vshards` and the
// communicator's size).
std::pair<std::uint64_t, std::uint64_t> my_partition_rows(par::Comm& comm, const h5::File& f,
                                                          const std::string& path,
                                                          std::uint32_t vshards, int partitions,
                                                          int p) {
  if (p < 0 || p >= partitions)
    throw Error("event store " + path + ": no partition " + std::to_string(p));
  const par::VShardMap map(vshards, comm.size());
  return partition_rows(comm, f, path, p, vshards, map.first_vshard(comm.rank()),
                        map.end_vshard(comm.rank()));
}

// Collective. Reads rows [lo, lo + out.size()) of partition p into `out`.
void read_partition_rows(par::Comm& comm, const h5::File& f, const std::string& path, int p,
                         std::uint64_t lo, std::span<Event> out, std::vector<std::byte>& scratch) {
  h5::Group part = f.root().open_group(partition_group(p));
  h5::Group g = part.open_group("events");
  read_column<std::uint64_t>(comm, g, "user", lo, out, scratch,
                             [](Event& e, std::uint64_t v) { e.user = v; });
  read_column<std::uint32_t>(comm, g, "time", lo, out, scratch,
                             [](Event& e, std::uint32_t v) { e.time = v; });
  std::string bad;
  read_column<std::uint8_t>(comm, g, "event_type", lo, out, scratch,
                            [&bad](Event& e, std::uint8_t v) {
                              if (v >= kEventTypes) bad = "bad event type " + std::to_string(v);
                              e.type = static_cast<EventType>(v);
                            });
  read_column<std::uint64_t>(comm, g, "product_id", lo, out, scratch,
                             [](Event& e, std::uint64_t v) { e.product = v; });
  read_column<std::uint64_t>(comm, g, "category_id", lo, out, scratch,
                             [](Event& e, std::uint64_t v) { e.category_id = v; });
  read_column<std::uint64_t>(comm, g, "category", lo, out, scratch,
                             [](Event& e, std::uint64_t v) { e.category = v; });
  read_column<std::uint64_t>(comm, g, "brand", lo, out, scratch,
                             [](Event& e, std::uint64_t v) { e.brand = v; });
  read_column<double>(comm, g, "price", lo, out, scratch, [](Event& e, double v) { e.price = v; });
  read_column<std::uint64_t>(comm, g, "session", lo, out, scratch,
                             [](Event& e, std::uint64_t v) { e.session = v; });
  if (!bad.empty())
    throw InputError("event store " + path + ", partition " + std::to_string(p) + ": " + bad);
}

}  // namespace

// ---- EventStore -----------------------------------------------------------------------

bool EventStore::exists(par::Comm& comm, const std::string& path) {
  int ok = 0;
  if (comm.rank() == 0 && h5::File::is_hdf5(path)) {
    try {
      auto f = h5::File::open_serial(path, false);
      const auto a = f.root().attrs();
      ok = a.has("format") && a.get_string("format") == kStoreFormat;
      f.close();
    } catch (const Hdf5Error&) {
      ok = 0;
    }
  }
  comm.bcast(ok, 0);
  return ok != 0;
}

EventStore EventStore::open(par::Comm& comm, const std::string& path) {
  std::string error;
  if (comm.rank() == 0) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
      error = "event store not found: " + path;
    else if (!h5::File::is_hdf5(path))
      error = "not an event store (not an HDF5 file): " + path;
  }
  par::agree(comm, error, ExitCode::input);
  EventStore store;
  store.path_ = path;
  {
    h5::File f = h5::File::open(comm, path, false);
    const auto a = f.root().attrs();
    if (!a.has("format") || a.get_string("format") != kStoreFormat)
      error =
          "not an event store (no format attribute \"" + std::string(kStoreFormat) + "\"): " + path;
    else if (const int v = a.get<std::int32_t>("schema_version"); v != kStoreSchemaVersion)
      error = "event store " + path + " has schema version " + std::to_string(v) +
              "; this ecom reads version " + std::to_string(kStoreSchemaVersion);
    if (error.empty()) {
      store.vshards_ = a.get<std::uint32_t>("vshards");
      store.partitions_ = a.get<std::int32_t>("partitions");
      store.events_ = a.get<std::uint64_t>("events");
      const h5::Group& root = f.root();
      const auto files = root.exists("manifest")
                             ? root.open_group("manifest").attrs().get<std::uint64_t>("files")
                             : 0;
      for (std::uint64_t i = 0; i < files; ++i)
        store.manifest_.push_back(read_manifest_entry(root.open_group(manifest_group(i))));
      const std::uint64_t audits =
          root.exists("manifest/audit")
              ? root.open_group("manifest/audit").attrs().get<std::uint64_t>("records")
              : 0;
      for (std::uint64_t i = 0; i < audits; ++i)
        store.audit_.push_back(read_audit_entry(root.open_group(audit_group(i))));
      store.strings_ = read_strings(root);
    }
    f.close();
  }
  // Every rank read the same file: the outcome is the same everywhere.
  par::agree(comm, error, ExitCode::input);
  return store;
}

bool EventStore::has_file(const std::string& sha256) const {
  return std::any_of(manifest_.begin(), manifest_.end(),
                     [&](const FileManifest& m) { return m.sha256 == sha256; });
}

std::string_view EventStore::string_of(std::uint64_t id) const {
  auto it = std::lower_bound(strings_.begin(), strings_.end(), id,
                             [](const auto& entry, std::uint64_t v) { return entry.first < v; });
  if (it == strings_.end() || it->first != id) return {};
  return it->second;
}

int EventStore::append_partition(par::Comm& comm, const std::string& path, std::uint32_t vshards,
                                 std::span<const Event> local_events, const StringTable& strings,
                                 const std::vector<FileManifest>& files) {
  EventStore old;
  const bool existed = exists(comm, path);
  if (existed) {
    old = open(comm, path);
    if (old.vshards_ != vshards) {
      Error e("event store " + path + " has " + std::to_string(old.vshards_) +
                  " virtual shards, not " + std::to_string(vshards),
              ExitCode::usage);
      e.set_collective(true);
      throw e;
    }
  }
  const par::VShardMap map(vshards, comm.size());
  const std::uint64_t total = comm.allreduce_sum<std::uint64_t>(local_events.size());
  const StringTable merged = merge_strings(comm, old.strings_, strings);
  const int index = old.partitions_;
  std::vector<FileManifest> manifest = old.manifest_;
  for (FileManifest m : files) {
    m.partition = index;
    manifest.push_back(std::move(m));
  }

  h5::update_file(comm, path, [&](h5::File& f) {
    const h5::Group& root = f.root();
    const auto a = root.attrs();
    if (!existed) {
      a.set("format", std::string(kStoreFormat));
      a.set("schema_version", static_cast<std::int32_t>(kStoreSchemaVersion));
      a.set("vshards", vshards);
    }
    write_partition(comm, root, index, local_events, map);
    write_strings(comm, root, merged);
    write_manifest(root, manifest, old.manifest_.size());
    a.set("partitions", static_cast<std::int32_t>(index + 1));
    a.set("events", old.events_ + total);
    a.set("writer", std::string("ecom ") + ECOM_VERSION + " (" + ECOM_GIT_REVISION + ")");
  });
  return index;
}

std::vector<Event> EventStore::read_my_events(par::Comm& comm) const {
  const par::VShardMap map(vshards_, comm.size());
  return read_vshards(comm, map.first_vshard(comm.rank()), map.end_vshard(comm.rank()));
}

std::vector<Event> EventStore::read_vshards(par::Comm& comm, std::uint32_t first,
                                            std::uint32_t end) const {
  if (first > end || end > vshards_)
    throw Error("read_vshards: bad range [" + std::to_string(first) + ", " + std::to_string(end) +
                ") of " + std::to_string(vshards_) + " vshards");
  std::vector<Event> events;
  std::vector<std::byte> scratch;      // one column at a time
  std::vector<std::size_t> bounds{0};  // partition p is events[bounds[p], bounds[p+1])
  h5::File f = h5::File::open(comm, path_, false);
  // Row ranges of every partition first, so the events are allocated once.
  std::vector<std::uint64_t> row_lo(static_cast<std::size_t>(partitions_)), row_hi(row_lo.size());
  std::uint64_t total = 0;
  for (int p = 0; p < partitions_; ++p) {
    const auto [lo, hi] = partition_rows(comm, f, path_, p, vshards_, first, end);
    row_lo[static_cast<std::size_t>(p)] = lo;
    row_hi[static_cast<std::size_t>(p)] = hi;
    total += hi - lo;
  }
  events.resize(total);
  for (int p = 0; p < partitions_; ++p) {
    const std::uint64_t lo = row_lo[static_cast<std::size_t>(p)],
                        hi = row_hi[static_cast<std::size_t>(p)];
    const std::size_t at = bounds.back();
    read_partition_rows(comm, f, path_, p, lo, std::span<Event>(events.data() + at, hi - lo),
                        scratch);
    bounds.push_back(at + (hi - lo));
  }
  f.close();
  // Each partition's slice is sorted; merge them (stable: lower partition first on ties).
  for (std::size_t p = 2; p < bounds.size(); ++p)
    std::inplace_merge(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(bounds[p - 1]),
                       events.begin() + static_cast<std::ptrdiff_t>(bounds[p]), event_less);
  return events;
}

std::vector<Event> EventStore::read_partition(par::Comm& comm, int partition) const {
  h5::File f = h5::File::open(comm, path_, false);
  const auto [lo, hi] = my_partition_rows(comm, f, path_, vshards_, partitions_, partition);
  std::vector<Event> events(hi - lo);
  std::vector<std::byte> scratch;
  read_partition_rows(comm, f, path_, partition, lo, events, scratch);
  f.close();
  return events;
}

PartitionSummary EventStore::partition_summary(par::Comm& comm, int partition) const {
  h5::File f = h5::File::open(comm, path_, false);
  const auto [lo, hi] = my_partition_rows(comm, f, path_, vshards_, partitions_, partition);
  std::vector<Event> events(hi - lo);  // the time column's sink (only `time` is read)
  std::vector<std::byte> scratch;
  std::uint32_t first = UINT32_MAX, last = 0;
  {
    h5::Group g = f.root().open_group(partition_group(partition) + "/events");
    read_column<std::uint32_t>(comm, g, "time", lo, events, scratch, [&](Event&, std::uint32_t v) {
      first = std::min(first, v);
      last = std::max(last, v);
    });
  }
  f.close();
  PartitionSummary s;
  s.events = comm.allreduce_sum<std::uint64_t>(hi - lo);
  s.first_time = comm.allreduce_min(first);
  s.last_time = comm.allreduce_max(last);
  if (s.events == 0) s.first_time = s.last_time = 0;
  return s;
}

std::uint64_t EventStore::rewrite(par::Comm& comm, const std::string& path,
                                  const std::vector<bool>& keep_partition,
                                  const std::function<bool(const Event&)>& erase,
                                  const AuditRecord& record) {
  const EventStore old = open(comm, path);
  if (keep_partition.size() != static_cast<std::size_t>(old.partitions_))
    throw Error("rewrite: keep_partition has " + std::to_string(keep_partition.size()) +
                " entries for " + std::to_string(old.partitions_) + " partitions");
  const par::VShardMap map(old.vshards_, comm.size());
  std::uint64_t kept_total = 0, erased_local = 0, dropped = 0;
  std::vector<FileManifest> manifest;
  int index = 0;
  h5::write_file(comm, path, [&](h5::File& f) {
    h5::File src = h5::File::open(comm, path, false);
    const h5::Group& root = f.root();
    std::vector<std::byte> scratch;
    for (int p = 0; p < old.partitions_; ++p) {
      const auto [lo, hi] = my_partition_rows(comm, src, path, old.vshards_, old.partitions_, p);
      if (!keep_partition[static_cast<std::size_t>(p)]) {
        dropped += comm.allreduce_sum<std::uint64_t>(hi - lo);
        continue;
      }
      std::vector<Event> events(hi - lo);
      read_partition_rows(comm, src, path, p, lo, events, scratch);
      if (erase) {
        const auto before = events.size();
        events.erase(std::remove_if(events.begin(), events.end(), erase), events.end());
        erased_local += before - events.size();
      }
      kept_total += write_partition(comm, root, index, events, map);
      for (FileManifest m : old.manifest_)
        if (m.partition == p) {
          m.partition = index;
          manifest.push_back(std::move(m));
        }
      ++index;
    }
    src.close();
    const auto a = root.attrs();
    a.set("format", std::string(kStoreFormat));
    a.set("schema_version", static_cast<std::int32_t>(kStoreSchemaVersion));
    a.set("vshards", old.vshards_);
    write_strings(comm, root, old.strings_);
    write_manifest(root, manifest, 0);
    {
      std::vector<AuditRecord> audit = old.audit_;
      audit.push_back(record);
      h5::Group ag = root.require_group("manifest/audit");
      for (std::size_t i = 0; i < audit.size(); ++i) {
        h5::Group g = root.create_group(audit_group(i));
        write_audit_entry(g, audit[i]);
        g.close();
      }
      ag.attrs().set("records", static_cast<std::uint64_t>(audit.size()));
      ag.close();
    }
    a.set("partitions", static_cast<std::int32_t>(index));
    a.set("events", kept_total);
    a.set("writer", std::string("ecom ") + ECOM_VERSION + " (" + ECOM_GIT_REVISION + ")");
  });
  return dropped + comm.allreduce_sum(erased_local);
}

}  // namespace ecom::io
