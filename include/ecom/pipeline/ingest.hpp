#pragma once
// `ecom ingest`: raw REES46 CSV / CSV.GZ -> parse, validate (quarantine), clean, pseudonymise,
// shuffle to the owners of the users' virtual shards, sort, remove exact duplicates -> one new
// partition of the event store.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ecom/core/types.hpp"
#include "ecom/io/csv.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/io/mapped_array.hpp"

namespace CLI {
class App;
}
namespace ecom {
struct Context;
}

namespace ecom::pipeline {

// One default for every command that shuffles raw events (ingest, run, score): per rank, the
// shuffle's send buffers, the exchange's staging and the gzip text share each take at most a
// quarter of it, so about 48 MiB are used; 64 ranks on a node then hold about 3 GiB.
inline constexpr std::size_t kDefaultShuffleBufferMb = 64;

struct IngestOptions {
  std::vector<std::string> inputs;  // files or glob patterns
  std::string store;                // event store (HDF5)
  std::string key_file;             // secret pseudonymisation key
  std::string quarantine;           // rejected rows; "" -> store path with .h5 -> .quarantine.csv
  std::uint32_t vshards = 0;        // 0: the store's V, or par::kDefaultVShards for a new store
  std::size_t shuffle_buffer_mb =
      kDefaultShuffleBufferMb;              // per-rank memory for the shuffle's buffers
  std::size_t read_chunk_kb = 1024;         // read / inflate chunk
  bool truncate_to_minute = false;          // privacy: event times truncated to the minute
  std::string window_start, window_end;     // accepted event times [start, end); "" = unbounded
  double max_price = io::kDefaultMaxPrice;  // prices above are rejected as bad_price
  double lock_timeout_s = 0;  // wait for another writer's store lock (0: fail at once, exit 5)
};

struct IngestResult {
  std::size_t files_ingested = 0, files_skipped = 0;
  std::uint64_t input_bytes = 0;  // bytes of the ingested files (compressed for .gz)
  std::uint64_t text_bytes = 0;   // bytes of CSV text parsed (decompressed)
  std::uint64_t rows_read = 0, rows_kept = 0, duplicates = 0;
  std::uint64_t zero_price = 0;  // kept rows (in rows_kept) whose price is 0
  std::array<std::uint64_t, io::kReasons> rejects{};
  std::uint64_t rejected() const {
    std::uint64_t n = 0;
    for (auto r : rejects) n += r;
    return n;
  }
  int partition = -1;  // the new partition, -1 when nothing was ingested
  // CPU seconds of this rank's main thread per stage (kIngestStages order), for benchmarks: wall
  // times mislead on a shared machine. MPI waits spin, so they count as CPU too.
  std::array<double, 7> cpu_seconds{};
};
// "digest": what is left of the SHA-256 of new input files once reading is done (most of it is
// computed during read+parse/shuffle, on ranks that would otherwise wait).
inline constexpr std::array<const char*, 7> kIngestStages = {
    "check", "read+parse", "shuffle", "sort", "write", "quarantine", "digest"};

// Collective. Runs the ingest; timers under "ingest/..." in ctx.timers. Throws (collectively)
// UserError for bad options, InputError for unusable input files (also one that changed while
// being read), Error with ExitCode::locked when another writer holds the store's lock
// (io/store_lock.hpp; waited for up to opts.lock_timeout_s).
IngestResult run_ingest(Context& ctx, const IngestOptions& opts);

// What an ingest holds before it writes the store: the events of this rank's vshards
// (VShardMap(vshards, ranks)), sorted by io::sort_events, exact duplicates removed, file tags
// cleared, times truncated if asked: exactly the rows the new partition would hold on this rank.
struct IngestedEvents {
  IngestResult result;                     // partition stays -1
  io::MappedArray<Event> events;           // this rank's
  io::StringTable strings;                 // labels of this rank's rows (sorted; the union over
                                           // ranks is what the store's table would gain)
  std::vector<io::FileManifest> manifest;  // one entry per ingested file, as the store's would
                                           // be (partition 0), identical on every rank
  std::uint32_t vshards = 0;
};

// Collective. The ingest without a store: opts.store is ignored (no skipping of files already
// in a store, no lock); opts.vshards (0: par::kDefaultVShards) gives the owners. The quarantine
// is written to opts.quarantine unless it is empty (a new file, not appended to). Same errors
// as run_ingest.
IngestedEvents ingest_in_memory(Context& ctx, const IngestOptions& opts);

}  // namespace ecom::pipeline
