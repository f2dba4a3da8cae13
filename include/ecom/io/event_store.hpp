#pragma once
// The event store (cleansed zone): one parallel HDF5 file, one partition group per ingest.
//
// Layout (schema version 1; docs/STORE.md describes every object):
//   /                      attrs: format "ecom-event-store", schema_version, vshards (V),
//                          partitions, events (total rows), writer (ecom version)
//   /manifest              attr files (count); one group /manifest/<NNNNNN> per ingested file
//                          whose attributes hold every FileManifest field (see below)
//   /strings/{ids,offsets,bytes}   the merged string table (brand, category_code): ids sorted
//                          (u64), offsets (u64, n+1) into bytes (u8); string i is
//                          bytes[offsets[i], offsets[i+1])
//   /partitions/<NNNN>/events/<column>  columns: user, time, event_type, product_id,
//                          category_id, category, brand, price, session — rows in global
//                          (user, time, type, product, session, price) order
//   /partitions/<NNNN>/vshard_offsets   V+1 row offsets: vshard v is rows [off[v], off[v+1])
//   /profile               the exploratory profile (written by `ecom profile`)
// Written collectively; each rank writes its hyperslab at an exscan offset. A store written
// with P ranks reads with any other P (ranks read their vshard ranges through the offsets).
// Every write goes to `path + ".tmp"` (a copy of the old store when appending) and is renamed
// over `path` when complete, so a killed run never leaves a store that looks complete.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecom/core/types.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/vshard.hpp"

namespace ecom::io {

inline constexpr int kStoreSchemaVersion = 1;
inline constexpr std::string_view kStoreFormat = "ecom-event-store";

// Missing (empty) values per input column, counted on raw rows before cleaning, in header order.
inline constexpr int kInputColumns = 9;
inline constexpr std::array<std::string_view, kInputColumns> kInputColumnNames = {
    "event_time", "event_type", "product_id", "category_id", "category_code",
    "brand",      "price",      "user_id",    "user_session"};

struct FileManifest {
  std::string name;        // path as given
  std::uint64_t size = 0;  // bytes
  std::string sha256;      // 64 hex digits of the file's bytes
  // rows_read: data rows read (header excluded); rows_kept: rows stored (after rejects and
  // duplicate removal); duplicates: exact duplicates removed (NOT also in `rejects`).
  std::uint64_t rows_read = 0, rows_kept = 0, duplicates = 0;
  // zero_price: rows among rows_kept whose price is 0 (kept, not rejected: "a zero price is kept
  // and counted"). Stores written before this count existed read as 0.
  std::uint64_t zero_price = 0;
  std::map<std::string, std::uint64_t> rejects;        // reason -> count (stored exactly as given)
  std::array<std::uint64_t, kInputColumns> missing{};  // per input column, before cleaning
  std::string ingest_time;                             // ISO 8601 UTC
  int partition = 0;  // set by append_partition to the partition it creates

  bool operator==(const FileManifest&) const = default;
};

// One entry of the store's audit log (/manifest/audit/<NNNNNN>, attributes): what retention
// (`ecom purge`) or erasure (`ecom forget`) removed, and when. Never holds a user id or pseudonym.
struct AuditRecord {
  std::string action;  // "purge" or "forget"
  std::string time;    // ISO 8601 UTC
  std::uint64_t events_removed = 0;
  std::uint64_t partitions_removed = 0;
  std::string note;  // policy or request reference (no personal data)

  bool operator==(const AuditRecord&) const = default;
};

// Rows and event-time range of one partition (times 0 when it is empty).
struct PartitionSummary {
  std::uint64_t events = 0;
  std::uint32_t first_time = 0, last_time = 0;
};

// id -> string (lower-cased brand or category_code). Sorted by id, unique.
using StringTable = std::vector<std::pair<std::uint64_t, std::string>>;

class EventStore {
 public:
  // Opens an existing store (collective): reads its attributes, manifest and string table on
  // every rank. Throws ecom::Error with ExitCode::input, collectively (par::agree), if
  // missing, not a store, or of another schema version.
  static EventStore open(par::Comm& comm, const std::string& path);
  // True if `path` exists and is an event store (checked by rank 0, agreed on all).
  static bool exists(par::Comm& comm, const std::string& path);

  // Collective. Creates the store if needed (with `vshards`) and appends one partition with
  // this rank's `local_events`, which must be sorted by the total order and all belong to this
  // rank's vshard range under VShardMap(vshards(), comm.size()) (checked: Error otherwise).
  // An existing store keeps its own V; `vshards` must then equal it (UserError otherwise).
  // Merges `strings` (each rank may pass a part; overlaps allowed) into the string table and
  // appends `files` (identical on every rank) to the manifest, with `partition` set to the new
  // partition's index. Old partitions are never rewritten. Writes to `path + ".tmp"` (a copy of
  // the old store) and renames when complete. Returns the new partition's index.
  static int append_partition(par::Comm& comm, const std::string& path, std::uint32_t vshards,
                              std::span<const Event> local_events, const StringTable& strings,
                              const std::vector<FileManifest>& files);

  const std::string& path() const { return path_; }
  std::uint32_t vshards() const { return vshards_; }
  int partitions() const { return partitions_; }
  std::uint64_t events() const { return events_; }  // rows over all partitions
  const std::vector<FileManifest>& manifest() const { return manifest_; }
  const std::vector<AuditRecord>& audit() const { return audit_; }
  const StringTable& strings() const { return strings_; }
  bool has_file(const std::string& sha256) const;
  // The string of `id` ("" for kUnknownStringId or an id not in the table).
  std::string_view string_of(std::uint64_t id) const;

  // Collective. Reads this rank's events (vshards of VShardMap(vshards(), comm.size())) from
  // every partition, merged into the total order (ties between partitions: lower partition
  // first).
  std::vector<Event> read_my_events(par::Comm& comm) const;
  // Collective. Reads the events of vshards [first, end) on this rank (others may pass other
  // ranges, or empty ones).
  std::vector<Event> read_vshards(par::Comm& comm, std::uint32_t first, std::uint32_t end) const;
  // Collective. This rank's events (its vshards) of partition `partition` only.
  std::vector<Event> read_partition(par::Comm& comm, int partition) const;
  // Collective. Rows and time range of a partition (reads only its time column).
  PartitionSummary partition_summary(par::Comm& comm, int partition) const;

  // Collective. Rewrites the store into a fresh file (so removed data leaves no bytes behind,
  // unlike unlinking HDF5 objects): keeps the partitions p with keep_partition[p] (renumbered
  // in order, their manifest entries with them), removes the events for which `erase` is true
  // (if given), keeps the string table, drops /profile, and appends `record` to the audit log.
  // Written to `path + ".tmp"` and renamed. Returns the number of events removed (dropped
  // partitions included), the same on every rank.
  static std::uint64_t rewrite(par::Comm& comm, const std::string& path,
                               const std::vector<bool>& keep_partition,
                               const std::function<bool(const Event&)>& erase,
                               const AuditRecord& record);

 private:
  std::string path_;
  std::uint32_t vshards_ = par::kDefaultVShards;
  int partitions_ = 0;
  std::uint64_t events_ = 0;
  std::vector<FileManifest> manifest_;
  std::vector<AuditRecord> audit_;
  StringTable strings_;
};

// The total order of events in the store: (user, time, type, product, session, price).
bool event_less(const Event& a, const Event& b);

// Name of partition `index`'s group: "/partitions/0000".
std::string partition_group(int index);

}  // namespace ecom::io
