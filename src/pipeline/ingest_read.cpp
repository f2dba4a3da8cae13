// Ingest part 3: reading (plain byte ranges, whole gzip files whose lines are shared with other
// ranks), parsing, and the streaming shuffle of events to the owners of their users' vshards.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/progress.hpp"
#include "ecom/core/timer.hpp"
#include "ecom/io/input.hpp"
#include "ecom/io/read_plan.hpp"
#include "ecom/io/sha256.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/line_share.hpp"
#include "ecom/par/vshard.hpp"
#include "ecom/pipeline/ingest_parts.hpp"

namespace ecom::pipeline {

void FileCounts::to(std::uint64_t* out) const {
  std::size_t k = 0;
  out[k++] = rows_read;
  for (auto v : rejects) out[k++] = v;
  for (auto v : missing) out[k++] = v;
  out[k++] = kept;
  out[k++] = duplicates;
  out[k++] = zero_price;
}

void FileCounts::from(const std::uint64_t* in) {
  std::size_t k = 0;
  rows_read = in[k++];
  for (auto& v : rejects) v = in[k++];
  for (auto& v : missing) v = in[k++];
  kept = in[k++];
  duplicates = in[k++];
  zero_price = in[k++];
}

namespace {

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

// Test hook: ECOM_TEST_CHANGE_INPUT=PATH truncates PATH to half its planned size as soon as a
// rank has opened a piece of it (a file changed while being read).
void change_input_for_test(const InputFile& f) {
  const char* env = std::getenv("ECOM_TEST_CHANGE_INPUT");
  if (env != nullptr && f.path == env && ::truncate(f.path.c_str(), f.size / 2) != 0)
    throw Error("ECOM_TEST_CHANGE_INPUT: cannot truncate " + f.path);
}

// One rank's reading: its pieces in order, the lines other ranks shared with it first. Parsed
// events go to the shuffle buffers; lines of its gzip pieces go, a group at a time, to the
// ranks that can take them (par::LineShare).
class PieceReader {
 public:
  PieceReader(const std::vector<InputFile>& files, std::vector<Piece> pieces, EventParser& parser,
              ShuffleBuffers& buffers, const par::VShardMap& vmap, par::LineShare& share, int ranks,
              int rank, std::size_t chunk, bool progress)
      : files_(files),
        pieces_(std::move(pieces)),
        parser_(parser),
        buffers_(buffers),
        vmap_(vmap),
        share_(share),
        ranks_(ranks),
        rank_(rank),
        chunk_(chunk),
        lines_(files.size(), 0),
        progress_("ingest: read", my_bytes() / 1000000, "MB", progress) {}

  // Reads until one destination buffer is full or the lines handed to others should go (true),
  // or this rank's input is exhausted (false). A gzip file's lines carry their line index in
  // the whole file (its first line is 1 on every rank); a plain piece's are local and made
  // global by the exscan of lines when the quarantine is written.
  bool fill() {
    std::uint32_t qf = 0;
    std::uint64_t qi = 0;
    std::string_view line;
    while (share_.next(qf, qi, line))
      if (parse(qf, qi, line)) return true;
    while (next_piece_ < pieces_.size()) {
      if (read_piece()) return true;
      const Piece& p = pieces_[next_piece_];
      if (!p.gzip) lines_[p.file] = reader_->lines();
      text_bytes_ += reader_->stream_bytes();
      bytes_done_ += p.range.end - p.range.begin;
      reader_.reset();
      ++next_piece_;
    }
    return false;
  }

  // The file being read when an error was thrown.
  std::uint32_t current_file() const {
    return next_piece_ < pieces_.size() ? pieces_[next_piece_].file : 0;
  }
  std::uint64_t my_bytes() const {
    std::uint64_t n = 0;
    for (const auto& p : pieces_) n += p.range.end - p.range.begin;
    return n;
  }
  void finish_progress() {
    progress_.update(my_bytes() / 1000000);
    progress_.finish();
  }
  std::vector<std::uint64_t>& lines() { return lines_; }
  std::uint64_t text_bytes() const { return text_bytes_; }
  std::uint64_t shipped_lines() const { return shipped_lines_; }

 private:
  bool parse(std::uint32_t file, std::uint64_t index, std::string_view line) {
    Event e;
    return parser_.parse(file, index, line, e) && buffers_.add(vmap_.owner_of(e.user), e);
  }

  // Reads the current piece (opened if needed) until a buffer is full (true) or its end (false).
  bool read_piece() {
    const Piece& p = pieces_[next_piece_];
    const InputFile& f = files_[p.file];
    if (!reader_) {
      reader_ = p.gzip ? io::open_gzip(f.path, chunk_) : io::open_range(f.path, p.range, chunk_);
      change_input_for_test(f);
      group_left_ = 0;
    }
    const bool has_header = p.gzip || p.range.begin == 0;
    std::string_view line;
    while (reader_->next(line)) {
      const std::uint64_t index = reader_->lines() - 1;
      if (index == 0 && has_header) {
        if (!io::is_rees_header(line))
          throw InputError("input file " + f.path + ": wrong header (expected " +
                           std::string(io::kReesHeader) + ")");
        continue;
      }
      if (p.gzip && ranks_ > 1) {
        if (group_left_ == 0) {
          taker_ = share_.next_taker();
          group_left_ = par::LineShare::kGroupLines;
          if (taker_ != rank_) share_.begin_block(taker_, p.file, index);
        }
        --group_left_;
        if (taker_ != rank_) {
          share_.add_line(taker_, line);
          ++shipped_lines_;
          if (group_left_ == 0 && share_.others_served()) return true;
          continue;
        }
      }
      const bool full = parse(p.file, index, line);
      if ((parser_.counts()[p.file].rows_read & 0xffff) == 0)
        progress_.update((bytes_done_ + reader_->file_bytes_read()) / 1000000);
      if (full) return true;
    }
    return false;
  }

  const std::vector<InputFile>& files_;
  std::vector<Piece> pieces_;
  EventParser& parser_;
  ShuffleBuffers& buffers_;
  const par::VShardMap& vmap_;
  par::LineShare& share_;
  int ranks_, rank_;
  std::size_t chunk_;
  std::vector<std::uint64_t> lines_;  // lines of each plain file read by this rank
  Progress progress_;
  std::size_t next_piece_ = 0;
  std::unique_ptr<io::LineReader> reader_;
  std::uint64_t bytes_done_ = 0;  // input bytes of finished pieces
  std::uint64_t group_left_ = 0;  // lines left in the current group of a gzip piece
  int taker_ = 0;                 // the rank that parses the current group
  std::uint64_t text_bytes_ = 0, shipped_lines_ = 0;
};

// What is left of this rank's digests (the others wait here), then every rank gets them all.
void finish_digests(Context& ctx, DigestQueue& digests, std::string& digest_error,
                    std::vector<InputFile>& files, double& cpu_seconds) {
  ScopedTimer t(ctx.timers, "digest");
  CpuTimer cpu(cpu_seconds);
  if (digest_error.empty()) {
    try {
      digests.finish();
    } catch (const Error& e) {
      digest_error = e.what();
    }
  }
  par::agree(ctx.comm, digest_error, ExitCode::input);
  std::vector<char> hex = digests.digests(files.size());
  share_digests(ctx.comm, files, hex);
}

}  // namespace

ReadOutput read_and_shuffle(Context& ctx, std::vector<InputFile>& files, EventParser& parser,
                            const ReadSettings& settings, std::array<double, 7>& cpu) {
  par::Comm& comm = ctx.comm;
  const int ranks = comm.size(), rank = comm.rank();
  const par::VShardMap vmap(settings.vshards, ranks);
  std::vector<io::PlanFile> plan_files;
  for (const auto& f : files) plan_files.push_back(io::PlanFile{f.size, f.gzip, f.sha256.empty()});
  const io::ReadPlan plan = io::plan_read(plan_files, ranks);
  DigestQueue digests;
  for (std::size_t i = 0; i < files.size(); ++i)
    if (plan.digest_owner[i] == rank) digests.add(i, files[i].path);
  const std::size_t budget = settings.shuffle_budget;
  ShuffleBuffers buffers(ranks, budget / 4 / (sizeof(Event) * static_cast<std::size_t>(ranks)));
  const std::size_t exchange_budget = std::max<std::size_t>(budget / 4, 1 << 16);
  bool any_gzip = false;  // the same on every rank
  for (const auto& f : files) any_gzip = any_gzip || f.gzip;
  // A decoding rank holds about a quarter of the shuffle budget of blocks for the others (at
  // least 1 MiB per rank, and a block may pass the cap by its last group of lines).
  par::LineShare share(ranks, rank,
                       std::max<std::size_t>(
                           budget / 4 / static_cast<std::size_t>(std::max(ranks - 1, 1)), 1 << 20));
  PieceReader reader(files, plan_reading(files, plan, rank), parser, buffers, vmap, share, ranks,
                     rank, settings.read_chunk, settings.progress && rank == 0);
  ReadOutput out;
  std::string read_error, digest_error;
  std::uint64_t read_error_file = 0, rounds = 0;
  std::vector<std::uint64_t> dest_counts;
  const std::vector<std::uint64_t> send_displs = buffers.displacements();
  while (true) {
    bool more = false;
    if (read_error.empty()) {
      ScopedTimer t(ctx.timers, "read+parse");
      CpuTimer cpu_1(cpu[1]);
      try {
        more = reader.fill();
      } catch (const Error& e) {
        read_error_file = reader.current_file();
        const std::string changed = changed_since_planned(files[read_error_file]);
        read_error = changed.empty() ? e.what() : changed;
      }
    }
    ScopedTimer t(ctx.timers, "shuffle");
    CpuTimer cpu_2(cpu[2]);
    ctx.observer.set_stage("ingest/shuffle");
    // Lines shipped this round are parsed in the next one.
    more = more || share.outgoing() || share.queued();
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
    // The events go from the per-destination buffers straight to the end of this rank's.
    dest_counts.assign(buffers.counts().begin(), buffers.counts().end());
    comm.exchange_into<Event>(buffers.base(), dest_counts, send_displs, exchange_budget,
                              [&](std::uint64_t n) { return out.events.extend(n); });
    buffers.clear();
    if (any_gzip) share.exchange(comm, exchange_budget);
    ++rounds;
    if (flags[0] == 0) break;
  }
  reader.finish_progress();
  agree_file_error(comm, read_error_file, read_error);
  buffers = ShuffleBuffers(1, 1);  // free
  finish_digests(ctx, digests, digest_error, files, cpu[6]);
  check_unchanged(comm, files);
  ctx.log.debug("ingest: ", rounds, " shuffle round(s), pseudonym cache misses ",
                parser.pseudonym_misses());
  if (any_gzip) {
    const auto shipped = comm.allreduce_sum<std::uint64_t>(reader.shipped_lines());  // collective
    ctx.log.debug("ingest: gzip lines parsed by a rank other than their decoding rank: ", shipped);
  }
  out.counts = std::move(parser.counts());
  out.lines = std::move(reader.lines());
  out.quarantine = std::move(parser.quarantine());
  out.strings = std::move(parser.strings());
  out.text_bytes = reader.text_bytes();
  return out;
}

}  // namespace ecom::pipeline
