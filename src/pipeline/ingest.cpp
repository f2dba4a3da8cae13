// `ecom ingest`: the design is ARCHITECTURE.md §4–5 (Parse, Clean, Shuffle); the store format is
// io/event_store.hpp.
#include "ecom/pipeline/ingest.hpp"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <thread>
#include <unordered_map>

#include "ecom/core/clock.hpp"
#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/core/progress.hpp"
#include "ecom/core/timer.hpp"
#include "ecom/io/event_sort.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/io/input.hpp"
#include "ecom/io/mapped_array.hpp"
#include "ecom/io/quarantine.hpp"
#include "ecom/io/read_plan.hpp"
#include "ecom/io/sha256.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/stats.hpp"
#include "ecom/par/vshard.hpp"
#include "ecom/pipeline/commands.hpp"
#include "ecom/pipeline/options.hpp"
#include "ecom/privacy/pseudonym.hpp"

namespace ecom::pipeline {

namespace {

constexpr std::size_t kMB = std::size_t{1} << 20;

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// CPU seconds of the calling (main) thread, added to `sum` over the scope. The gzip decoder
// thread (io::GzipSource) is not counted here: it runs beside the main thread.
class CpuTimer {
 public:
  explicit CpuTimer(double& sum) : sum_(sum), start_(cpu_seconds(CLOCK_THREAD_CPUTIME_ID)) {}
  ~CpuTimer() { sum_ += cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - start_; }
  CpuTimer(const CpuTimer&) = delete;
  CpuTimer& operator=(const CpuTimer&) = delete;

 private:
  double& sum_;
  double start_;
};

// ---- per-file facts and counters ------------------------------------------------------------

struct InputFile {
  std::string path;
  std::uint64_t size = 0;
  bool gzip = false;
  std::string sha256;
};

// Counters of one input file on this rank; summed over ranks for the manifest.
struct FileCounts {
  std::uint64_t rows_read = 0;
  std::array<std::uint64_t, io::kReasons> rejects{};
  std::array<std::uint64_t, io::kInputColumns> missing{};
  std::uint64_t kept = 0, duplicates = 0, zero_price = 0;  // zero_price: kept rows, price 0
  static constexpr std::size_t kFields = 1 + io::kReasons + io::kInputColumns + 3;
  void to(std::uint64_t* out) const {
    std::size_t k = 0;
    out[k++] = rows_read;
    for (auto v : rejects) out[k++] = v;
    for (auto v : missing) out[k++] = v;
    out[k++] = kept;
    out[k++] = duplicates;
    out[k++] = zero_price;
  }
  void from(const std::uint64_t* in) {
    std::size_t k = 0;
    rows_read = in[k++];
    for (auto& v : rejects) v = in[k++];
    for (auto& v : missing) v = in[k++];
    kept = in[k++];
    duplicates = in[k++];
    zero_price = in[k++];
  }
};

// One collective decision about per-file errors: the error of the lowest file index among those
// found wins. Reading stops in the round in which the first error is found, so with several bad
// files the one named can depend on the number of ranks (the exit code does not).
void agree_file_error(par::Comm& comm, std::uint64_t file, const std::string& error,
                      ExitCode code = ExitCode::input) {
  const std::uint64_t mine = error.empty() ? UINT64_MAX : file;
  const std::uint64_t first = comm.allreduce_min(mine);
  if (first == UINT64_MAX) return;
  par::agree(comm, mine == first ? error : std::string(), code);
}

std::string describe_errno(int err) {
  if (err == ENOENT) return "does not exist";
  return std::string("cannot read: ") + std::strerror(err);
}

// Rank 0 checks that every input exists, is a readable regular file and is not empty.
std::vector<InputFile> stat_inputs(par::Comm& comm, const std::vector<std::string>& paths) {
  std::vector<InputFile> files(paths.size());
  std::vector<std::uint64_t> sizes(paths.size(), 0);
  std::string error;
  if (comm.rank() == 0) {
    for (std::size_t i = 0; i < paths.size() && error.empty(); ++i) {
      struct stat st {};
      if (::stat(paths[i].c_str(), &st) != 0) {
        error = "input file " + paths[i] + ": " + describe_errno(errno);
      } else if (!S_ISREG(st.st_mode)) {
        error = "input file " + paths[i] + ": not a regular file";
      } else if (::access(paths[i].c_str(), R_OK) != 0) {
        error = "input file " + paths[i] + ": " + describe_errno(errno);
      } else if (st.st_size == 0) {
        error = "input file " + paths[i] + ": empty file";
      }
      if (error.empty()) sizes[i] = static_cast<std::uint64_t>(st.st_size);
    }
  }
  par::agree(comm, error, ExitCode::input);
  comm.bcast(sizes, 0);
  for (std::size_t i = 0; i < paths.size(); ++i)
    files[i] = InputFile{paths[i], sizes[i], io::is_gzip_name(paths[i]), ""};
  return files;
}

// The first line of a file (decompressed for gzip); nullopt if the file has no bytes of text.
std::optional<std::string> first_line(const InputFile& f) {
  std::unique_ptr<io::LineReader> reader =
      f.gzip ? io::open_gzip(f.path, 64 << 10)
             : io::open_range(f.path, io::ByteRange{0, 0, f.size}, 64 << 10);
  std::string_view line;
  if (!reader->next(line)) return std::nullopt;
  return std::string(line);
}

// Runs check(i) for each file index i in `which`, on one rank per file (largest first); check
// returns an error message ("" if none) or throws Error. Fatal errors are agreed collectively.
template <class Check>
void on_file_owners(par::Comm& comm, const std::vector<InputFile>& files,
                    const std::vector<std::size_t>& which, Check&& check) {
  std::vector<std::uint64_t> sizes;
  for (const std::size_t i : which) sizes.push_back(files[i].size);
  const std::vector<int> owner = io::assign_whole_files(sizes, comm.size());
  std::string error;
  std::uint64_t error_file = 0;
  for (std::size_t k = 0; k < which.size() && error.empty(); ++k) {
    if (owner[k] != comm.rank()) continue;
    try {
      error = check(which[k]);
    } catch (const Error& e) {
      error = e.what();
    }
    if (!error.empty()) error_file = which[k];
  }
  agree_file_error(comm, error_file, error);
}

// Each file's header, checked by one rank per file.
void check_headers(par::Comm& comm, const std::vector<InputFile>& files) {
  std::vector<std::size_t> all(files.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  on_file_owners(comm, files, all, [&](std::size_t i) -> std::string {
    const auto header = first_line(files[i]);
    if (!header) return "input file " + files[i].path + ": empty file";
    if (!io::is_rees_header(*header))
      return "input file " + files[i].path + ": wrong header (expected " +
             std::string(io::kReesHeader) + ")";
    return "";
  });
}

// Shares the digests of `files` that their owner computed (`digests`: 64 hex digits per file
// this rank owns, zeros elsewhere): every digest has one owner, so a max-reduction shares them.
void share_digests(par::Comm& comm, std::vector<InputFile>& files, std::vector<char>& digests) {
  std::vector<std::int8_t> shared(digests.begin(), digests.end());
  comm.allreduce_max(std::span<std::int8_t>(shared));
  for (std::size_t i = 0; i < files.size(); ++i)
    if (shared[i * 64] != 0)
      files[i].sha256.assign(reinterpret_cast<const char*>(shared.data()) + i * 64, 64);
}

// The SHA-256 of the files with need[i], computed now by one rank per file.
void hash_now(par::Comm& comm, std::vector<InputFile>& files, const std::vector<bool>& need) {
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < files.size(); ++i)
    if (need[i]) which.push_back(i);
  if (which.empty()) return;
  std::vector<char> digests(files.size() * 64, '\0');
  on_file_owners(comm, files, which, [&](std::size_t i) -> std::string {
    const std::string d = io::sha256_file(files[i].path);
    std::memcpy(digests.data() + i * 64, d.data(), 64);
    return "";
  });
  share_digests(comm, files, digests);
}

// The digests this rank computes beside its reading, one file after the other, a chunk per step.
class DigestQueue {
 public:
  void add(std::size_t file, const std::string& path) {
    jobs_.push_back(Job{file, std::make_unique<io::FileDigest>(path)});
  }
  // One chunk of the current file; false when every digest is done.
  bool step() {
    while (next_ < jobs_.size()) {
      if (jobs_[next_].digest->step()) return true;
      ++next_;
    }
    return false;
  }
  void finish() {
    while (step()) {
    }
  }
  // 64 hex digits per file of the run at the index of each file done here; zeros elsewhere.
  std::vector<char> digests(std::size_t files) const {
    std::vector<char> out(files * 64, '\0');
    for (const auto& j : jobs_) std::memcpy(out.data() + j.file * 64, j.digest->hex().data(), 64);
    return out;
  }

 private:
  struct Job {
    std::size_t file;
    std::unique_ptr<io::FileDigest> digest;
  };
  std::vector<Job> jobs_;
  std::size_t next_ = 0;
};

// ---- caches for the hot loop ----------------------------------------------------------------

// Direct-mapped cache raw user id (canonical decimal) -> pseudonym: users recur, HMAC is slow.
class PseudonymCache {
 public:
  explicit PseudonymCache(const privacy::Pseudonymizer& p, std::size_t slots_log2 = 18)
      : p_(p), slots_(std::size_t{1} << slots_log2), mask_(slots_.size() - 1) {}
  std::uint64_t get(std::string_view raw) {
    // Canonical decimals only (no leading zero): "007" and "7" hash differently.
    if (raw.size() > 19 || (raw.size() > 1 && raw[0] == '0')) return p_.pseudonym(raw);
    std::uint64_t id = 0;
    for (char c : raw) id = id * 10 + static_cast<std::uint64_t>(c - '0');
    Slot& s = slots_[mix64(id) & mask_];
    if (s.key == id + 1) return s.value;
    s.key = id + 1;
    s.value = p_.pseudonym(raw);
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
// category_id for category_code) and checked against the raw text; the local string table
// collects every (id, cleaned text) seen.
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

// ---- the streaming shuffle ------------------------------------------------------------------

// Per-destination buffers of parsed events; a shuffle round sends them all. The storage is left
// uninitialised so that only the part actually filled becomes resident.
class ShuffleBuffers {
 public:
  ShuffleBuffers(int ranks, std::size_t per_dest)
      : per_dest_(std::max<std::size_t>(per_dest, 1)),
        fill_(static_cast<std::size_t>(ranks), 0),
        storage_(
            std::make_unique_for_overwrite<std::byte[]>(per_dest_ * fill_.size() * sizeof(Event))),
        events_(reinterpret_cast<Event*>(storage_.get())) {}
  // Adds an event for `dest`; true when that buffer is now full.
  bool add(int dest, const Event& e) {
    const auto d = static_cast<std::size_t>(dest);
    std::memcpy(static_cast<void*>(events_ + d * per_dest_ + fill_[d]++), &e, sizeof(Event));
    return fill_[d] == per_dest_;
  }
  // The exchange reads the buffers in place: destination d's events start at d * per_dest.
  const Event* base() const { return events_; }
  std::span<const std::size_t> counts() const { return fill_; }
  std::vector<std::uint64_t> displacements() const {
    std::vector<std::uint64_t> out(fill_.size());
    for (std::size_t d = 0; d < out.size(); ++d) out[d] = d * per_dest_;
    return out;
  }
  void clear() { std::fill(fill_.begin(), fill_.end(), 0); }

 private:
  std::size_t per_dest_;
  std::vector<std::size_t> fill_;
  std::unique_ptr<std::byte[]> storage_;
  Event* events_;
};

// Lines of gzip files that their decoding rank hands to other ranks to parse. One rank inflates a
// .csv.gz much faster than it parses it (ISA-L ~1 GB/s of text, parsing ~0.4 GB/s), so without
// this the other ranks would wait for it. Blocks of whole lines, each with its file and the
// number of its first line, travel with the shuffle rounds; a rank parses what it received
// before its own input. Flow control: a rank that still held at least half a block's worth of
// unparsed text from earlier rounds when this round's blocks arrived is sent nothing next round.
class TextShare {
 public:
  static constexpr std::uint64_t kGroupLines = 256;  // lines per block

  TextShare(int ranks, int rank, std::size_t cap)
      : rank_(rank),
        cap_(cap),
        out_(static_cast<std::size_t>(ranks)),
        hungry_(static_cast<std::size_t>(ranks), true) {}

  // ---- the decoding rank: which rank parses the next group of lines, and the shipping ------
  // The next rank in rotation that is this rank or a hungry rank with room; this rank if none.
  int next_taker() {
    const auto p = out_.size();
    for (std::size_t k = 1; k <= p; ++k) {
      const std::size_t r = (cursor_ + k) % p;
      if (static_cast<int>(r) == rank_ || (hungry_[r] && out_[r].size() < cap_)) {
        cursor_ = r;
        return static_cast<int>(r);
      }
    }
    return rank_;
  }
  // True when every rank that was hungry at the start of the round has a full block: the round
  // should end so that they get it.
  bool others_served() const {
    bool any = false;
    for (std::size_t r = 0; r < out_.size(); ++r) {
      if (static_cast<int>(r) == rank_ || !hungry_[r]) continue;
      if (out_[r].size() < cap_) return false;
      any = true;
    }
    return any;
  }
  void begin_block(int dest, std::uint32_t file, std::uint64_t first_line) {
    std::string& o = out_[static_cast<std::size_t>(dest)];
    open_ = o.size();
    const std::uint64_t head[3] = {file, first_line, 0};
    o.append(reinterpret_cast<const char*>(head), sizeof head);
  }
  void add_line(int dest, std::string_view line) {
    std::string& o = out_[static_cast<std::size_t>(dest)];
    o.append(line);
    o.push_back('\n');
    std::uint64_t bytes = 0;
    std::memcpy(&bytes, o.data() + open_ + 16, 8);
    bytes += line.size() + 1;
    std::memcpy(o.data() + open_ + 16, &bytes, 8);
  }
  bool outgoing() const {
    for (const auto& o : out_)
      if (!o.empty()) return true;
    return false;
  }

  // ---- collective: ships the blocks, keeps what arrives, learns who is hungry ---------------
  void exchange(par::Comm& comm, std::size_t budget) {
    std::vector<std::uint64_t> counts(out_.size()), displs(out_.size());
    std::string packed;
    for (std::size_t r = 0; r < out_.size(); ++r) {
      counts[r] = out_[r].size();
      displs[r] = packed.size();
      packed += out_[r];
      out_[r].clear();
    }
    in_.erase(0, pos_);
    pos_ = 0;
    // Hungry: it parsed (nearly) all it had before this round's blocks arrive, so it can take
    // another block while it parses these (two blocks in flight at most).
    const std::vector<std::uint64_t> left = comm.allgather<std::uint64_t>(in_.size());
    for (std::size_t r = 0; r < out_.size(); ++r) hungry_[r] = left[r] < cap_ / 2;
    // The blocks land straight after what is left to parse.
    comm.exchange_into<char>(packed.data(), counts, displs, budget, [&](std::uint64_t n) {
      const std::size_t old = in_.size();
      in_.resize(old + n);
      return in_.data() + old;
    });
  }

  // ---- every rank: the lines it received --------------------------------------------------
  bool queued() const { return pos_ < in_.size(); }
  // The next received line with its file and 0-based line index; false when none is left.
  bool next(std::uint32_t& file, std::uint64_t& index, std::string_view& line) {
    if (pos_ >= in_.size()) return false;
    if (left_ == 0) {  // a block header
      std::uint64_t head[3];
      std::memcpy(head, in_.data() + pos_, sizeof head);
      pos_ += sizeof head;
      file_ = static_cast<std::uint32_t>(head[0]);
      line_ = head[1];
      left_ = head[2];
    }
    const char* start = in_.data() + pos_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', left_));
    const auto len = static_cast<std::size_t>(nl - start);
    line = std::string_view(start, len);
    file = file_;
    index = line_++;
    pos_ += len + 1;
    left_ -= len + 1;
    return true;
  }

 private:
  int rank_;
  std::size_t cap_;
  std::vector<std::string> out_;
  std::vector<bool> hungry_;
  std::size_t cursor_ = 0, open_ = 0;
  std::string in_;
  std::size_t pos_ = 0;
  std::uint64_t left_ = 0, line_ = 0;
  std::uint32_t file_ = 0;
};

// What this rank reads: plain byte ranges of the concatenated plain files (in file order), then
// whole gzip files assigned to it (largest first over ranks).
struct Piece {
  std::uint32_t file;
  io::ByteRange range;
  bool gzip;
};

std::vector<Piece> plan_reading(const std::vector<InputFile>& files, const io::ReadPlan& plan,
                                int rank) {
  std::vector<std::uint32_t> plain;
  std::vector<std::uint64_t> plain_sizes;
  for (std::uint32_t i = 0; i < files.size(); ++i)
    if (!files[i].gzip) {
      plain.push_back(i);
      plain_sizes.push_back(files[i].size);
    }
  std::vector<Piece> out;
  for (const auto& r : io::split_by_shares(plain_sizes, plan.plain_share, rank))
    out.push_back(Piece{plain[r.file], io::ByteRange{plain[r.file], r.begin, r.end}, false});
  // Whole gzip files, largest first (the order the plan assigned them in).
  std::vector<std::uint32_t> gz;
  for (std::uint32_t i = 0; i < files.size(); ++i)
    if (plan.gzip_owner[i] == rank) gz.push_back(i);
  std::stable_sort(gz.begin(), gz.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return files[a].size > files[b].size; });
  for (const std::uint32_t i : gz)
    out.push_back(Piece{i, io::ByteRange{i, 0, files[i].size}, true});
  return out;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

// ---- the ingest -----------------------------------------------------------------------------

IngestResult run_ingest(Context& ctx, const IngestOptions& opts) {
  par::Comm& comm = ctx.comm;
  const int ranks = comm.size();
  const int rank = comm.rank();
  IngestResult result;
  ScopedTimer total_timer(ctx.timers, "ingest");

  // Options (identical on every rank, so every rank finds the same error).
  std::string error;
  io::TimeWindow window;
  if (opts.inputs.empty())
    error = "ingest: no --input given";
  else if (opts.store.empty())
    error = "ingest: no --store given";
  else if (opts.shuffle_buffer_mb == 0)
    error = "ingest: --shuffle-buffer-mb must be at least 1";
  else if (opts.read_chunk_kb == 0)
    error = "ingest: --read-chunk-kb must be at least 1";
  if (error.empty() && !opts.window_start.empty()) {
    const auto t = io::parse_time_option(opts.window_start);
    if (!t)
      error = "ingest: --window-start '" + opts.window_start + "' is not YYYY-MM-DD[ HH:MM:SS]";
    else
      window.begin = *t;
  }
  if (error.empty() && !opts.window_end.empty()) {
    const auto t = io::parse_time_option(opts.window_end);
    if (!t)
      error = "ingest: --window-end '" + opts.window_end + "' is not YYYY-MM-DD[ HH:MM:SS]";
    else
      window.end = *t;
  }
  par::agree(comm, error, ExitCode::usage);

  std::string key;
  try {
    key = privacy::read_key_file(opts.key_file);
  } catch (const Error& e) {
    error = e.what();
  }
  par::agree(comm, error, ExitCode::usage);
  const privacy::Pseudonymizer pseudonymizer(std::move(key));

  // Inputs: patterns expanded on rank 0, checked, hashed.
  std::vector<std::string> paths;
  if (rank == 0) {
    try {
      paths = io::expand_inputs(opts.inputs);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  par::agree(comm, error, ExitCode::usage);
  {
    std::uint64_t n = paths.size();
    comm.bcast(n, 0);
    paths.resize(n);
    for (auto& p : paths) comm.bcast(p, 0);
  }
  if (paths.size() > io::kMaxFilesPerRun) {
    par::agree(comm, "ingest: at most " + std::to_string(io::kMaxFilesPerRun) + " files per run",
               ExitCode::usage);
  }
  // Idempotence: files whose content is already in the store (or earlier in this run) are
  // skipped. Equal content has equal size, so only a file whose size equals that of a stored
  // file or of another input needs its SHA-256 before reading; the others are new for sure and
  // get theirs beside the reading (DigestQueue), on ranks that would otherwise wait.
  const bool store_exists = io::EventStore::exists(comm, opts.store);
  std::uint32_t vshards = opts.vshards != 0 ? opts.vshards : par::kDefaultVShards;
  std::vector<io::FileManifest> stored;
  if (store_exists) {
    const io::EventStore store = io::EventStore::open(comm, opts.store);
    if (opts.vshards == 0) vshards = store.vshards();
    stored = store.manifest();
  }
  std::vector<InputFile> candidates;
  {
    ScopedTimer t(ctx.timers, "check");
    CpuTimer cpu_0(result.cpu_seconds[0]);
    candidates = stat_inputs(comm, paths);
    check_headers(comm, candidates);
    std::map<std::uint64_t, int> same_size;
    for (const auto& m : stored) same_size[m.size] += 1;
    for (const auto& f : candidates) same_size[f.size] += 1;
    std::vector<bool> need(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) need[i] = same_size[candidates[i].size] > 1;
    hash_now(comm, candidates, need);
  }
  std::map<std::string, std::string> known;  // sha256 -> where that content was seen
  for (const auto& m : stored) known.emplace(m.sha256, m.name + " in the store");
  std::vector<InputFile> files;
  for (const auto& f : candidates) {
    if (f.sha256.empty()) {  // a size no other file has: new content
      files.push_back(f);
      continue;
    }
    const auto [it, fresh] = known.emplace(f.sha256, f.path);
    if (!fresh) {
      ctx.log.info("ingest: skipping ", f.path, ": already ingested (same SHA-256 as ", it->second,
                   ")");
      ++result.files_skipped;
      continue;
    }
    files.push_back(f);
  }
  if (files.empty()) {
    ctx.log.info("ingest: nothing to ingest (", result.files_skipped, " file(s) already in ",
                 opts.store, ")");
    return result;
  }
  try {
    par::VShardMap check(vshards, ranks);
  } catch (const Error& e) {
    error = e.what();
  }
  par::agree(comm, error, ExitCode::usage);
  const par::VShardMap vmap(vshards, ranks);
  const std::size_t nfiles = files.size();
  for (const auto& f : files) result.input_bytes += f.size;
  ctx.log.info("ingest: ", nfiles, " file(s), ",
               human_bytes(static_cast<double>(result.input_bytes)), ", ", ranks, " rank(s), ",
               vshards, " virtual shards, gzip decoder ", io::gzip_backend());

  // ---- read, parse, validate, clean, pseudonymise; shuffle in rounds ------------------------
  std::vector<io::PlanFile> plan_files;
  for (const auto& f : files) plan_files.push_back(io::PlanFile{f.size, f.gzip, f.sha256.empty()});
  const io::ReadPlan plan = io::plan_read(plan_files, ranks);
  const std::vector<Piece> pieces = plan_reading(files, plan, rank);
  DigestQueue digests;
  for (std::size_t i = 0; i < nfiles; ++i)
    if (plan.digest_owner[i] == rank) digests.add(i, files[i].path);
  std::uint64_t my_bytes = 0;
  for (const auto& p : pieces) my_bytes += p.range.end - p.range.begin;
  const std::size_t chunk = opts.read_chunk_kb * 1024;
  const std::size_t budget = opts.shuffle_buffer_mb * kMB;
  ShuffleBuffers buffers(ranks, budget / 4 / (sizeof(Event) * static_cast<std::size_t>(ranks)));
  const std::size_t exchange_budget = std::max<std::size_t>(budget / 4, 1 << 16);

  std::vector<FileCounts> counts(nfiles);
  std::vector<std::uint64_t> lines(nfiles, 0);  // lines of each plain file read by this rank
  bool any_gzip = false;                        // the same on every rank
  for (const auto& f : files) any_gzip = any_gzip || f.gzip;
  io::Quarantine quarantine;
  std::unordered_map<std::uint64_t, std::string> strings;
  PseudonymCache users(pseudonymizer);
  LabelCache categories(strings), brands(strings);
  io::RowSplitter splitter;
  io::ParsedRow row;
  io::MappedArray<Event> mine;  // events this rank owns (received)
  std::uint64_t text_bytes = 0;

  std::size_t next_piece = 0;
  std::unique_ptr<io::LineReader> reader;
  std::uint64_t bytes_done = 0;  // input bytes of finished pieces
  Progress progress("ingest: read", my_bytes / 1000000, "MB", ctx.progress && rank == 0);
  // A decoding rank holds about a quarter of the shuffle budget of blocks for the others (at
  // least 1 MiB per rank, and a block may pass the cap by its last group of lines).
  TextShare text(ranks, rank,
                 std::max<std::size_t>(
                     budget / 4 / static_cast<std::size_t>(std::max(ranks - 1, 1)), 1 << 20));
  std::uint64_t group_left = 0;  // lines left in the current group of a gzip piece
  int taker = rank;              // the rank that parses the current group
  std::uint64_t shipped_lines = 0;

  // Parses, validates and cleans one row (line `index`, 0-based, of file `fi`) and buffers its
  // event for the owner of its user; true when that buffer is now full.
  auto parse_row = [&](std::uint32_t fi, std::uint64_t index, std::string_view line) -> bool {
    FileCounts& fc = counts[fi];
    ++fc.rows_read;
    if (splitter.split(line) != io::kInputColumns) {
      ++fc.rejects[static_cast<std::size_t>(io::Reason::field_count)];
      quarantine.add(fi, index, io::Reason::field_count, line);
      return false;
    }
    const auto& f = splitter.fields();
    for (std::size_t c = 0; c < io::kInputColumns; ++c) fc.missing[c] += f[c].empty();
    if (const auto reason = io::validate_fields(f, window, row)) {
      ++fc.rejects[static_cast<std::size_t>(*reason)];
      quarantine.add(fi, index, *reason, line);
      return false;
    }
    Event e;
    e.user = users.get(row.user_id);
    e.product = row.product;
    e.category_id = row.category_id;
    e.category = categories.get(row.category_id, row.category_code);
    e.brand = brands.get(row.product, row.brand);
    e.session = string_id(row.user_session);
    e.price = row.price;
    e.time = static_cast<std::uint32_t>(row.time);  // truncated (option) after duplicates
    e.type = row.type;
    io::set_file_tag(e, static_cast<std::uint16_t>(fi));
    return buffers.add(vmap.owner_of(e.user), e);
  };

  // Reads until one destination buffer is full or the lines handed to others should go (true),
  // or this rank's input is exhausted (false). Lines received from decoding ranks come first.
  // A gzip file's lines carry their line index in the whole file (its first line is 1 on every
  // rank); a plain piece's are local and made global by the exscan of lines at the end.
  auto fill = [&]() -> bool {
    std::uint32_t qf = 0;
    std::uint64_t qi = 0;
    std::string_view line;
    while (text.next(qf, qi, line))
      if (parse_row(qf, qi, line)) return true;
    while (true) {
      if (!reader) {
        if (next_piece == pieces.size()) return false;
        const Piece& p = pieces[next_piece];
        reader = p.gzip ? io::open_gzip(files[p.file].path, chunk)
                        : io::open_range(files[p.file].path, p.range, chunk);
        group_left = 0;
      }
      const Piece& p = pieces[next_piece];
      const std::uint32_t fi = p.file;
      const bool has_header = p.gzip || p.range.begin == 0;
      bool full = false;
      while (!full && reader->next(line)) {
        const std::uint64_t index = reader->lines() - 1;
        if (index == 0 && has_header) {
          if (!io::is_rees_header(line))
            throw InputError("input file " + files[fi].path + ": wrong header (expected " +
                             std::string(io::kReesHeader) + ")");
          continue;
        }
        if (p.gzip && ranks > 1) {
          if (group_left == 0) {
            taker = text.next_taker();
            group_left = TextShare::kGroupLines;
            if (taker != rank) text.begin_block(taker, fi, index);
          }
          --group_left;
          if (taker != rank) {
            text.add_line(taker, line);
            ++shipped_lines;
            if (group_left == 0 && text.others_served()) full = true;
            continue;
          }
        }
        full = parse_row(fi, index, line);
        if ((counts[fi].rows_read & 0xffff) == 0)
          progress.update((bytes_done + reader->file_bytes_read()) / 1000000);
      }
      if (full) return true;
      if (!p.gzip) lines[fi] = reader->lines();
      text_bytes += reader->stream_bytes();
      bytes_done += p.range.end - p.range.begin;
      reader.reset();
      ++next_piece;
    }
  };

  std::string read_error, digest_error;
  std::uint64_t read_error_file = 0;
  std::vector<std::uint64_t> dest_counts;
  const std::vector<std::uint64_t> send_displs = buffers.displacements();
  std::uint64_t rounds = 0;
  while (true) {
    bool more = false;
    if (read_error.empty()) {
      ScopedTimer t(ctx.timers, "read+parse");
      CpuTimer cpu_1(result.cpu_seconds[1]);
      try {
        more = fill();
      } catch (const Error& e) {
        read_error = e.what();
        read_error_file = next_piece < pieces.size() ? pieces[next_piece].file : 0;
      }
    }
    ScopedTimer t(ctx.timers, "shuffle");
    CpuTimer cpu_2(result.cpu_seconds[2]);
    ctx.observer.set_stage("ingest/shuffle");
    // Lines shipped this round are parsed in the next one.
    more = more || text.outgoing() || text.queued();
    std::array<int, 2> flags = {more ? 1 : 0, read_error.empty() ? 0 : 1};
    // While slower ranks are still reading, this rank works on its digests; with nothing left
    // to do it sleeps between tests instead of spinning, so that a core it shares goes to a
    // thread with work (a gzip decoder when ranks + decoders outnumber the cores).
    comm.allreduce_max_while(std::span<int>(flags), [&] {
      if (digest_error.empty()) {
        try {
          if (digests.step()) return true;
        } catch (const Error& e) {
          digest_error = e.what();
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      return true;
    });
    if (flags[1] != 0) break;
    // The events go from the per-destination buffers straight to the end of `mine`.
    dest_counts.assign(buffers.counts().begin(), buffers.counts().end());
    comm.exchange_into<Event>(buffers.base(), dest_counts, send_displs, exchange_budget,
                              [&](std::uint64_t n) { return mine.extend(n); });
    buffers.clear();
    if (any_gzip) text.exchange(comm, exchange_budget);
    ++rounds;
    if (flags[0] == 0) break;
  }
  progress.update(my_bytes / 1000000);
  progress.finish();
  agree_file_error(comm, read_error_file, read_error);
  buffers = ShuffleBuffers(1, 1);  // free
  {
    // What is left of this rank's digests (the others wait here), then every rank gets them.
    ScopedTimer t(ctx.timers, "digest");
    CpuTimer cpu_6(result.cpu_seconds[6]);
    if (digest_error.empty()) {
      try {
        digests.finish();
      } catch (const Error& e) {
        digest_error = e.what();
      }
    }
    par::agree(comm, digest_error, ExitCode::input);
    std::vector<char> hex = digests.digests(nfiles);
    share_digests(comm, files, hex);
  }
  ctx.log.debug("ingest: ", rounds, " shuffle round(s), pseudonym cache misses ", users.misses());
  if (any_gzip) {
    const auto shipped = comm.allreduce_sum<std::uint64_t>(shipped_lines);  // collective
    ctx.log.debug("ingest: gzip lines parsed by a rank other than their decoding rank: ", shipped);
  }

  // ---- sort, remove duplicates --------------------------------------------------------------
  {
    ScopedTimer t(ctx.timers, "sort");
    CpuTimer cpu_3(result.cpu_seconds[3]);
    io::sort_events(mine.span());
    const std::size_t kept = io::remove_duplicates(
        mine.span(), [&](const Event& e) { ++counts[io::file_tag(e)].duplicates; });
    mine.truncate(kept);
    for (Event& e : mine) {
      FileCounts& fc = counts[io::file_tag(e)];
      ++fc.kept;
      fc.zero_price += e.price == 0 ? 1 : 0;
      io::set_file_tag(e, 0);
    }
    // Truncating only now keeps events that differ by seconds (duplicates are exact ones);
    // the order by the truncated time is then restored.
    if (opts.truncate_to_minute) {
      for (Event& e : mine) e.time -= e.time % 60;
      io::sort_events(mine.span());
    }
  }

  // ---- per-file manifest, summed over ranks -------------------------------------------------
  std::vector<std::uint64_t> flat(nfiles * FileCounts::kFields);
  for (std::size_t i = 0; i < nfiles; ++i) counts[i].to(flat.data() + i * FileCounts::kFields);
  comm.allreduce_sum(std::span<std::uint64_t>(flat));
  std::string ingest_time = utc_now_iso();
  comm.bcast(ingest_time, 0);
  std::vector<io::FileManifest> manifest(nfiles);
  for (std::size_t i = 0; i < nfiles; ++i) {
    FileCounts total;
    total.from(flat.data() + i * FileCounts::kFields);
    io::FileManifest& m = manifest[i];
    m.name = files[i].path;
    m.size = files[i].size;
    m.sha256 = files[i].sha256;
    m.rows_read = total.rows_read;
    m.rows_kept = total.kept;
    m.duplicates = total.duplicates;
    m.zero_price = total.zero_price;
    for (int r = 0; r < io::kReasons; ++r)
      m.rejects[std::string(io::kReasonNames[static_cast<std::size_t>(r)])] =
          total.rejects[static_cast<std::size_t>(r)];
    m.missing = total.missing;
    m.ingest_time = ingest_time;
    result.rows_read += total.rows_read;
    result.rows_kept += total.kept;
    result.duplicates += total.duplicates;
    result.zero_price += total.zero_price;
    for (std::size_t r = 0; r < io::kReasons; ++r) result.rejects[r] += total.rejects[r];
  }
  result.text_bytes = comm.allreduce_sum<std::uint64_t>(text_bytes);
  result.files_ingested = nfiles;

  // ---- the store, then the quarantine -------------------------------------------------------
  {
    ScopedTimer t(ctx.timers, "write");
    CpuTimer cpu_4(result.cpu_seconds[4]);
    io::StringTable table(strings.begin(), strings.end());
    std::sort(table.begin(), table.end());
    strings.clear();
    result.partition =
        io::EventStore::append_partition(comm, opts.store, vshards, mine.span(), table, manifest);
  }
  mine = io::MappedArray<Event>();
  {
    ScopedTimer t(ctx.timers, "quarantine");
    CpuTimer cpu_5(result.cpu_seconds[5]);
    const std::string qpath =
        opts.quarantine.empty() ? io::default_quarantine_path(opts.store) : opts.quarantine;
    // Lines: this rank's first line of each file is after the lines of lower ranks.
    const std::vector<std::uint64_t> all_lines = comm.allgatherv<std::uint64_t>(lines);
    std::vector<std::uint64_t> first(nfiles, 1);
    for (int r = 0; r < rank; ++r)
      for (std::size_t i = 0; i < nfiles; ++i)
        first[i] += all_lines[static_cast<std::size_t>(r) * nfiles + i];
    std::vector<std::string> names;
    for (const auto& f : files) names.push_back(f.path);
    // Appending to a store keeps the quarantine of its earlier ingests.
    std::string prefix(io::kQuarantineHeader);
    if (rank == 0 && store_exists && std::filesystem::exists(qpath)) {
      std::string old = read_text_file(qpath);
      if (old.rfind(io::kQuarantineHeader, 0) == 0) prefix = std::move(old);
    }
    quarantine.write(comm, qpath, names, first, prefix, exchange_budget);
  }

  ctx.log.info("ingest: rows read ", result.rows_read, ", kept ", result.rows_kept, " (",
               result.zero_price, " with price 0), rejected ", result.rejected(), ", duplicates ",
               result.duplicates, " -> partition ", result.partition, " of ", opts.store);
  for (std::size_t r = 0; r < io::kReasons; ++r)
    if (result.rejects[r] > 0)
      ctx.log.info("ingest:   rejected ", io::kReasonNames[r], ": ", result.rejects[r]);
  return result;
}

// ---- the command ----------------------------------------------------------------------------

namespace {
int run_ingest_command(Context& ctx, const IngestOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  const double process_cpu_start = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const IngestResult r = run_ingest(ctx, opts);
  const double process_cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - process_cpu_start;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto stats = par::reduce_timers(ctx.comm, ctx.timers);
  par::log_stage_stats(ctx.log, stats);
  const auto rss = par::reduce_peak_rss(ctx.comm);
  std::array<double, kIngestStages.size()> cpu_max = r.cpu_seconds, cpu_sum = r.cpu_seconds;
  ctx.comm.allreduce_max(std::span<double>(cpu_max));
  ctx.comm.allreduce_sum(std::span<double>(cpu_sum));
  double cpu_total = 0;  // this rank's; with a core per rank the ingest's wall time is the max
  for (const double c : r.cpu_seconds) cpu_total += c;
  const double cpu_total_max = ctx.comm.allreduce_max(cpu_total);
  const double process_cpu_max = ctx.comm.allreduce_max(process_cpu);
  if (r.files_ingested > 0) {
    std::string cpu;
    for (std::size_t i = 0; i < kIngestStages.size(); ++i)
      cpu += std::string(i ? ", " : "") + kIngestStages[i] + " " + fixed(cpu_max[i], 3) + "/" +
             fixed(cpu_sum[i] / ctx.comm.size(), 3);
    ctx.log.info("ingest: cpu seconds per rank (max/avg): ", cpu, "; all stages, max over ranks ",
                 fixed(cpu_total_max, 3), "; all threads (gzip decoder included) ",
                 fixed(process_cpu_max, 3));
    ctx.log.info("ingest: ", fixed(static_cast<double>(r.input_bytes) / 1e6 / seconds, 1),
                 " MB/s, ", human_count(static_cast<double>(r.rows_read) / seconds), " rows/s in ",
                 fixed(seconds, 2), " s; peak RSS per rank max ", human_bytes(rss.max), ", total ",
                 human_bytes(rss.total), " (",
                 fixed(rss.total / static_cast<double>(std::max<std::uint64_t>(r.rows_read, 1)), 1),
                 " B per row)");
  }
  return 0;
}
}  // namespace

}  // namespace ecom::pipeline

namespace ecom {

void add_ingest_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<pipeline::IngestOptions>();
  auto* sub = app.add_subcommand(
      "ingest",
      "Raw REES46 CSV / CSV.GZ -> validated, pseudonymised, sorted events in the event store "
      "(one new partition; files already ingested are skipped). Rejected rows go to the "
      "quarantine CSV (raw-zone data: it holds raw user ids)");
  pipeline::add_input_options(sub, opts->inputs, opts->key_file);
  pipeline::add_ingest_options(sub, *opts, true, "Event store (HDF5), created or appended to");
  sub->callback([opts, &action] {
    action = [opts](Context& ctx) { return pipeline::run_ingest_command(ctx, *opts); };
  });
}

}  // namespace ecom
