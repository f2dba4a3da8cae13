#pragma once
// The parts of `ecom ingest` (ingest.hpp), in the order they run:
//   1. input planning: patterns expanded, files checked, SHA-256 skipping (plan_inputs);
//   2. the event parser: one row -> one event or one quarantine record, with the hot-loop caches
//      and per-file counts (EventParser: pure, no MPI);
//   3. reading with gzip line sharing (par::LineShare) and the streaming shuffle to the owners
//      of the users' virtual shards (read_and_shuffle);
//   4. sort and de-duplication, the manifest, the store and the quarantine (ingest.cpp).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/core/types.hpp"
#include "ecom/io/csv.hpp"
#include "ecom/io/event_sort.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/io/mapped_array.hpp"
#include "ecom/io/quarantine.hpp"
#include "ecom/pipeline/ingest.hpp"
#include "ecom/privacy/pseudonym.hpp"

namespace ecom {
struct Context;
}
namespace ecom::par {
class Comm;
}

namespace ecom::pipeline {

// CPU seconds of the calling thread, added to `sum` over the scope (a gzip decoder thread runs
// beside it and is not counted).
class CpuTimer {
 public:
  explicit CpuTimer(double& sum) : sum_(sum), start_(thread_cpu_seconds()) {}
  ~CpuTimer() { sum_ += thread_cpu_seconds() - start_; }
  CpuTimer(const CpuTimer&) = delete;
  CpuTimer& operator=(const CpuTimer&) = delete;
  static double thread_cpu_seconds();

 private:
  double& sum_;
  double start_;
};

// Collective: the error of the lowest file index among those found on any rank wins (exit
// `code`); nothing happens when no rank found one. Reading stops in the round in which the first
// error is found, so with several bad files the one named can depend on the number of ranks.
void agree_file_error(par::Comm& comm, std::uint64_t file, const std::string& error,
                      ExitCode code = ExitCode::input);

// ---- 1. input planning -----------------------------------------------------------------------

// Collective: `patterns` expanded on rank 0 (io::expand_inputs), shared; exit 2 if a pattern
// matches nothing or there are more than io::kMaxFilesPerRun files.
std::vector<std::string> expand_patterns(par::Comm& comm, const std::vector<std::string>& patterns);

struct InputFile {
  std::string path;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;  // modification time when planned (checked again after reading)
  bool gzip = false;
  std::string sha256;  // "" until known
};

struct InputPlan {
  std::vector<InputFile> files;  // to read, in input order
  std::size_t skipped = 0;       // files whose content is already in the store or run
};

// Collective. Checks every file (exists, regular, readable, not empty, right header; exit 3
// otherwise) and notes its size and modification time.
std::vector<InputFile> check_inputs(Context& ctx, const std::vector<std::string>& paths,
                                    double& cpu_seconds);

// Collective. Leaves out the `candidates` whose SHA-256 equals that of a file in `stored` or of
// an earlier input (logged). Only files of a size shared with another file are hashed here; the
// others get their SHA-256 during the reading (read_and_shuffle).
InputPlan plan_inputs(Context& ctx, std::vector<InputFile> candidates,
                      const std::vector<io::FileManifest>& stored, double& cpu_seconds);

// Collective: `digests` holds 64 hex digits at the index of each file whose SHA-256 this rank
// computed (zeros elsewhere); afterwards every rank has every such digest in `files`.
void share_digests(par::Comm& comm, std::vector<InputFile>& files, std::vector<char>& digests);

// Collective (rank 0 checks, all agree): exit 3 `input file F: changed while being read` if the
// size or modification time of a file differs from its plan.
void check_unchanged(par::Comm& comm, const std::vector<InputFile>& files);
// Local: the message for `file` if it changed since planned, else "".
std::string changed_since_planned(const InputFile& file);

// ---- 2. the event parser ---------------------------------------------------------------------

// Counters of one input file on this rank; summed over ranks for the manifest.
struct FileCounts {
  std::uint64_t rows_read = 0;
  std::array<std::uint64_t, io::kReasons> rejects{};
  std::array<std::uint64_t, io::kInputColumns> missing{};
  std::uint64_t kept = 0, duplicates = 0, zero_price = 0;  // zero_price: kept rows, price 0
  static constexpr std::size_t kFields = 1 + io::kReasons + io::kInputColumns + 3;
  void to(std::uint64_t* out) const;
  void from(const std::uint64_t* in);
};

// Direct-mapped cache user id -> pseudonym (users recur, HMAC is slow), keyed by the id's
// numeric value: ids that differ only by leading zeros ("000596899981", "596899981") share one
// entry and get the pseudonym of the canonical decimal (no leading zero; "0" for zero).
// `raw` must be digits only (validated by io::validate_fields).
class PseudonymCache {
 public:
  explicit PseudonymCache(const privacy::Pseudonymizer& p, std::size_t slots_log2 = 18)
      : p_(p), slots_(std::size_t{1} << slots_log2), mask_(slots_.size() - 1) {}
  std::uint64_t get(std::string_view raw) {
    std::size_t lead = 0;
    while (lead + 1 < raw.size() && raw[lead] == '0') ++lead;
    const std::string_view canonical = raw.substr(lead);
    if (canonical.size() > 19) return p_.pseudonym(canonical);  // may exceed the key range
    std::uint64_t id = 0;
    for (char c : canonical) id = id * 10 + static_cast<std::uint64_t>(c - '0');
    Slot& s = slots_[mix64(id) & mask_];
    if (s.key == id + 1) return s.value;
    s.key = id + 1;
    s.value = p_.pseudonym(canonical);
    ++misses_;
    return s.value;
  }
  std::uint64_t misses() const { return misses_; }

 private:
  struct Slot {
    std::uint64_t key = 0;  // id + 1; 0 = empty (ids below 10^19 never overflow)
    std::uint64_t value = 0;
  };
  const privacy::Pseudonymizer& p_;
  std::vector<Slot> slots_;
  std::size_t mask_;
  std::uint64_t misses_ = 0;
};

// Cleaned-label ids (brand, category_code), cached by a related id (product for brand,
// category_id for category_code) and checked against the raw text; the string table collects
// every (id, cleaned text) seen.
class LabelCache {
 public:
  explicit LabelCache(std::unordered_map<std::uint64_t, std::string>& table) : table_(table) {}
  std::uint64_t get(std::uint64_t related, std::string_view raw) {
    if (raw.empty()) return kUnknownStringId;
    Slot& s = slots_[mix64(related) & (kSlots - 1)];
    if (s.used && s.related == related && s.raw == raw) return s.id;
    io::clean_label(raw, scratch_);
    const std::uint64_t id = string_id(scratch_);
    if (id != kUnknownStringId) table_.try_emplace(id, scratch_);
    s.used = true;
    s.related = related;
    s.raw.assign(raw);
    s.id = id;
    return id;
  }

 private:
  static constexpr std::size_t kSlots = 1 << 14;
  struct Slot {
    bool used = false;
    std::uint64_t related = 0, id = 0;
    std::string raw;
  };
  std::unordered_map<std::uint64_t, std::string>& table_;
  std::vector<Slot> slots_ = std::vector<Slot>(kSlots);
  std::string scratch_;
};

// Rows -> events: split, validated, cleaned, pseudonymised; rejects counted per file and
// recorded in the quarantine. Pure (no I/O, no MPI). Not movable: the caches refer to it.
class EventParser {
 public:
  EventParser(const privacy::Pseudonymizer& p, const io::TimeWindow& window, double max_price,
              std::size_t files)
      : window_(window), max_price_(max_price), counts_(files), users_(p) {}
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // Line `index` (0-based) of file `file`: true with `out` set (its file tag is `file`) when the
  // row is kept; false when it was quarantined.
  bool parse(std::uint32_t file, std::uint64_t index, std::string_view line, Event& out) {
    FileCounts& fc = counts_[file];
    ++fc.rows_read;
    if (splitter_.split(line) != io::kInputColumns) {
      reject(file, index, io::Reason::field_count, line);
      return false;
    }
    const auto& f = splitter_.fields();
    for (std::size_t c = 0; c < io::kInputColumns; ++c) fc.missing[c] += f[c].empty();
    if (const auto reason = io::validate_fields(f, window_, row_, max_price_)) {
      reject(file, index, *reason, line);
      return false;
    }
    out.user = users_.get(row_.user_id);
    out.product = row_.product;
    out.category_id = row_.category_id;
    out.category = categories_.get(row_.category_id, row_.category_code);
    out.brand = brands_.get(row_.product, row_.brand);
    out.session = string_id(row_.user_session);
    out.price = row_.price;
    out.time = static_cast<std::uint32_t>(row_.time);  // truncated (option) after duplicates
    out.type = row_.type;
    io::set_file_tag(out, static_cast<std::uint16_t>(file));
    return true;
  }

  std::vector<FileCounts>& counts() { return counts_; }
  io::Quarantine& quarantine() { return quarantine_; }
  // (id, cleaned text) of every label seen.
  std::unordered_map<std::uint64_t, std::string>& strings() { return strings_; }
  std::uint64_t pseudonym_misses() const { return users_.misses(); }

 private:
  void reject(std::uint32_t file, std::uint64_t index, io::Reason reason, std::string_view line) {
    ++counts_[file].rejects[static_cast<std::size_t>(reason)];
    quarantine_.add(file, index, reason, line);
  }

  io::TimeWindow window_;
  double max_price_;
  std::vector<FileCounts> counts_;
  io::Quarantine quarantine_;
  std::unordered_map<std::uint64_t, std::string> strings_;
  PseudonymCache users_;
  LabelCache categories_{strings_}, brands_{strings_};
  io::RowSplitter splitter_;
  io::ParsedRow row_;
};

// ---- 3. reading, line sharing and the streaming shuffle --------------------------------------

struct ReadSettings {
  std::size_t read_chunk = 1 << 20;       // bytes
  std::size_t shuffle_budget = 32 << 20;  // bytes per rank
  std::uint32_t vshards = 0;
  bool progress = false;
};

// What one rank holds after reading: the events it owns (unsorted, file-tagged) and the
// parser's records of the rows it parsed.
struct ReadOutput {
  io::MappedArray<Event> events;
  std::vector<FileCounts> counts;
  std::vector<std::uint64_t> lines;  // lines of each plain file read by this rank
  io::Quarantine quarantine;
  std::unordered_map<std::uint64_t, std::string> strings;
  std::uint64_t text_bytes = 0;  // CSV text parsed here (decompressed)
};

// Collective. Reads `files` (plain files as byte ranges, gzip files whole, their lines shared
// with other ranks), parses them with `parser`, shuffles the events to their owners in rounds,
// computes the SHA-256 still missing in `files` (set on every rank) and checks that no file
// changed while being read. CPU seconds go to cpu[1] (read+parse), cpu[2] (shuffle), cpu[6]
// (digest). Errors are agreed: exit 3 for unusable input.
ReadOutput read_and_shuffle(Context& ctx, std::vector<InputFile>& files, EventParser& parser,
                            const ReadSettings& settings, std::array<double, 7>& cpu);

}  // namespace ecom::pipeline
