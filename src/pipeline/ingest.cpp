// `ecom ingest`: the design is ARCHITECTURE.md §4–5 (Parse, Clean, Shuffle); the store format is
// io/event_store.hpp. The parts (input planning, parser, reading and shuffle) are in
// ingest_parts.hpp; this file runs them, then sorts, removes duplicates and writes.
#include "ecom/pipeline/ingest.hpp"

#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "ecom/core/clock.hpp"
#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/timer.hpp"
#include "ecom/io/event_sort.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/io/gzip.hpp"
#include "ecom/io/store_lock.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/stats.hpp"
#include "ecom/par/vshard.hpp"
#include "ecom/pipeline/commands.hpp"
#include "ecom/pipeline/ingest_parts.hpp"
#include "ecom/pipeline/options.hpp"
#include "ecom/privacy/pseudonym.hpp"

namespace ecom::pipeline {

namespace {

constexpr std::size_t kMB = std::size_t{1} << 20;

double process_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The options, checked identically on every rank (so every rank finds the same error), and the
// key.
struct CheckedOptions {
  io::TimeWindow window;
  std::string key;
};

std::string check_window(const IngestOptions& opts, io::TimeWindow& window) {
  if (!opts.window_start.empty()) {
    const auto t = io::parse_time_option(opts.window_start);
    if (!t)
      return "ingest: --window-start '" + opts.window_start + "' is not YYYY-MM-DD[ HH:MM:SS]";
    window.begin = *t;
  }
  if (!opts.window_end.empty()) {
    const auto t = io::parse_time_option(opts.window_end);
    if (!t) return "ingest: --window-end '" + opts.window_end + "' is not YYYY-MM-DD[ HH:MM:SS]";
    window.end = *t;
  }
  return "";
}

CheckedOptions check_options(par::Comm& comm, const IngestOptions& opts, bool need_store) {
  CheckedOptions out;
  std::string error;
  if (opts.inputs.empty())
    error = "ingest: no --input given";
  else if (need_store && opts.store.empty())
    error = "ingest: no --store given";
  else if (opts.shuffle_buffer_mb == 0)
    error = "ingest: --shuffle-buffer-mb must be at least 1";
  else if (opts.read_chunk_kb == 0)
    error = "ingest: --read-chunk-kb must be at least 1";
  else if (!(opts.max_price >= 0))
    error = "ingest: --max-price must be a number >= 0";
  else if (!(opts.lock_timeout_s >= 0))
    error = "ingest: --lock-timeout must be a number of seconds >= 0";
  if (error.empty()) error = check_window(opts, out.window);
  par::agree(comm, error, ExitCode::usage);
  try {
    out.key = privacy::read_key_file(opts.key_file);
  } catch (const Error& e) {
    error = e.what();
  }
  par::agree(comm, error, ExitCode::usage);
  return out;
}

// Sorts this rank's events, removes exact duplicates (counted per file), counts the kept rows,
// clears the file tags and truncates times to the minute if asked.
void sort_and_deduplicate(io::MappedArray<Event>& mine, std::vector<FileCounts>& counts,
                          bool truncate_to_minute) {
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
  // Truncating only now keeps events that differ by seconds (duplicates are exact ones); the
  // order by the truncated time is then restored.
  if (truncate_to_minute) {
    for (Event& e : mine) e.time -= e.time % 60;
    io::sort_events(mine.span());
  }
}

// Collective: the per-file manifest, counts summed over ranks; totals added to `result`.
std::vector<io::FileManifest> build_manifest(par::Comm& comm, const std::vector<InputFile>& files,
                                             const std::vector<FileCounts>& counts,
                                             IngestResult& result) {
  const std::size_t nfiles = files.size();
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
  return manifest;
}

// An ingest up to the store: the events and manifest, and what the quarantine needs.
struct Ingested {
  IngestedEvents out;
  std::vector<InputFile> files;
  io::Quarantine quarantine;
  std::vector<std::uint64_t> lines;  // lines of each plain file read by this rank
  std::size_t exchange_budget = 0;
};

// Collective: plans the checked `inputs` against the `stored` manifest, reads, parses, shuffles,
// sorts and removes duplicates. Returns with no files when every input was skipped.
Ingested ingest_events(Context& ctx, const IngestOptions& opts, const CheckedOptions& checked,
                       std::vector<InputFile> inputs, const std::vector<io::FileManifest>& stored,
                       std::uint32_t vshards, const IngestResult& checks) {
  par::Comm& comm = ctx.comm;
  Ingested in;
  in.out.result = checks;
  IngestResult& result = in.out.result;
  InputPlan plan = plan_inputs(ctx, std::move(inputs), stored, result.cpu_seconds[0]);
  result.files_skipped = plan.skipped;
  in.files = std::move(plan.files);
  if (in.files.empty()) return in;
  std::string error;
  try {
    par::VShardMap check(vshards, comm.size());
  } catch (const Error& e) {
    error = e.what();
  }
  par::agree(comm, error, ExitCode::usage);
  in.out.vshards = vshards;
  for (const auto& f : in.files) result.input_bytes += f.size;
  ctx.log.info("ingest: ", in.files.size(), " file(s), ",
               human_bytes(static_cast<double>(result.input_bytes)), ", ", comm.size(),
               " rank(s), ", vshards, " virtual shards, gzip decoder ", io::gzip_backend());

  const privacy::Pseudonymizer pseudonymizer(checked.key);
  EventParser parser(pseudonymizer, checked.window, opts.max_price, in.files.size());
  const ReadSettings settings{opts.read_chunk_kb * 1024, opts.shuffle_buffer_mb * kMB, vshards,
                              ctx.progress};
  in.exchange_budget = std::max<std::size_t>(settings.shuffle_budget / 4, 1 << 16);
  ReadOutput read = read_and_shuffle(ctx, in.files, parser, settings, result.cpu_seconds);
  {
    ScopedTimer t(ctx.timers, "sort");
    CpuTimer cpu(result.cpu_seconds[3]);
    sort_and_deduplicate(read.events, read.counts, opts.truncate_to_minute);
  }
  in.out.manifest = build_manifest(comm, in.files, read.counts, result);
  result.text_bytes = comm.allreduce_sum<std::uint64_t>(read.text_bytes);
  result.files_ingested = in.files.size();
  in.out.events = std::move(read.events);
  in.out.strings.assign(read.strings.begin(), read.strings.end());
  std::sort(in.out.strings.begin(), in.out.strings.end());
  in.quarantine = std::move(read.quarantine);
  in.lines = std::move(read.lines);
  return in;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Collective: the quarantine of `in` at `path`, after `prefix` (rank 0's).
void write_quarantine(Context& ctx, Ingested& in, const std::string& path,
                      const std::string& prefix) {
  ScopedTimer t(ctx.timers, "quarantine");
  CpuTimer cpu(in.out.result.cpu_seconds[5]);
  par::Comm& comm = ctx.comm;
  const std::size_t nfiles = in.files.size();
  // Lines: this rank's first line of each file is after the lines of lower ranks.
  const std::vector<std::uint64_t> all_lines = comm.allgatherv<std::uint64_t>(in.lines);
  std::vector<std::uint64_t> first(nfiles, 1);
  for (int r = 0; r < comm.rank(); ++r)
    for (std::size_t i = 0; i < nfiles; ++i)
      first[i] += all_lines[static_cast<std::size_t>(r) * nfiles + i];
  std::vector<std::string> names;
  for (const auto& f : in.files) names.push_back(f.path);
  in.quarantine.write(comm, path, names, first, prefix, in.exchange_budget);
}

// Collective: rank 0 renames the complete quarantine `pending` to `path` (after the partition
// it belongs to is published); a failure is agreed (exit 4).
void publish_quarantine(par::Comm& comm, const std::string& pending, const std::string& path) {
  std::string error;
  if (comm.rank() == 0) {
    std::error_code ec;
    std::filesystem::rename(pending, path, ec);
    if (ec) error = "cannot rename " + pending + " to " + path + ": " + ec.message();
  }
  par::agree(comm, error, ExitCode::comm);
}

void log_summary(Context& ctx, const IngestResult& result, const std::string& store) {
  ctx.log.info("ingest: rows read ", result.rows_read, ", kept ", result.rows_kept, " (",
               result.zero_price, " with price 0), rejected ", result.rejected(), ", duplicates ",
               result.duplicates, " -> partition ", result.partition, " of ", store);
  for (std::size_t r = 0; r < io::kReasons; ++r)
    if (result.rejects[r] > 0)
      ctx.log.info("ingest:   rejected ", io::kReasonNames[r], ": ", result.rejects[r]);
}

}  // namespace

// ---- the ingest -----------------------------------------------------------------------------

IngestResult run_ingest(Context& ctx, const IngestOptions& opts) {
  par::Comm& comm = ctx.comm;
  ScopedTimer total_timer(ctx.timers, "ingest");
  const CheckedOptions checked = check_options(comm, opts, true);
  const std::vector<std::string> paths = expand_patterns(comm, opts.inputs);
  IngestResult checks;
  std::vector<InputFile> inputs = check_inputs(ctx, paths, checks.cpu_seconds[0]);
  // One writer at a time: held until the store and its quarantine are written.
  const io::StoreLock lock =
      io::StoreLock::acquire(comm, opts.store, opts.lock_timeout_s, ctx.command_line);
  const bool store_exists = io::EventStore::exists(comm, opts.store);
  std::uint32_t vshards = opts.vshards != 0 ? opts.vshards : par::kDefaultVShards;
  std::vector<io::FileManifest> stored;
  if (store_exists) {
    const io::EventStore store = io::EventStore::open(comm, opts.store);
    if (opts.vshards == 0) vshards = store.vshards();
    stored = store.manifest();
  }
  Ingested in = ingest_events(ctx, opts, checked, std::move(inputs), stored, vshards, checks);
  IngestResult& result = in.out.result;
  if (in.files.empty()) {
    ctx.log.info("ingest: nothing to ingest (", result.files_skipped, " file(s) already in ",
                 opts.store, ")");
    return result;
  }
  // The quarantine is written completely (beside its final name) before the partition is
  // published, and renamed after it: a write error in either publishes neither, and a published
  // partition always has its rejected rows in the quarantine.
  const std::string qpath =
      opts.quarantine.empty() ? io::default_quarantine_path(opts.store) : opts.quarantine;
  const std::string qpending = qpath + ".pending";
  // Appending to a store keeps the quarantine of its earlier ingests.
  std::string prefix(io::kQuarantineHeader);
  if (comm.rank() == 0 && store_exists && std::filesystem::exists(qpath)) {
    std::string old = read_text_file(qpath);
    if (old.rfind(io::kQuarantineHeader, 0) == 0) prefix = std::move(old);
  }
  write_quarantine(ctx, in, qpending, prefix);
  try {
    ScopedTimer t(ctx.timers, "write");
    CpuTimer cpu(result.cpu_seconds[4]);
    result.partition = io::EventStore::append_partition(
        comm, opts.store, vshards, in.out.events.span(), in.out.strings, in.out.manifest);
  } catch (...) {
    std::error_code ec;
    if (comm.rank() == 0) std::filesystem::remove(qpending, ec);
    throw;
  }
  in.out.events = io::MappedArray<Event>();
  in.out.strings.clear();
  publish_quarantine(comm, qpending, qpath);
  log_summary(ctx, result, opts.store);
  return result;
}

IngestedEvents ingest_in_memory(Context& ctx, const IngestOptions& opts) {
  ScopedTimer total_timer(ctx.timers, "ingest");
  const CheckedOptions checked = check_options(ctx.comm, opts, false);
  const std::vector<std::string> paths = expand_patterns(ctx.comm, opts.inputs);
  IngestResult checks;
  std::vector<InputFile> inputs = check_inputs(ctx, paths, checks.cpu_seconds[0]);
  const std::uint32_t vshards = opts.vshards != 0 ? opts.vshards : par::kDefaultVShards;
  Ingested in = ingest_events(ctx, opts, checked, std::move(inputs), {}, vshards, checks);
  if (in.files.empty()) return std::move(in.out);
  if (!opts.quarantine.empty())
    write_quarantine(ctx, in, opts.quarantine, std::string(io::kQuarantineHeader));
  return std::move(in.out);
}

// ---- the command ----------------------------------------------------------------------------

namespace {
int run_ingest_command(Context& ctx, const IngestOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  const double process_cpu_start = process_cpu_seconds();
  const IngestResult r = run_ingest(ctx, opts);
  const double process_cpu = process_cpu_seconds() - process_cpu_start;
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
