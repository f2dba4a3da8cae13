// `ecom purge` (retention policy) and `ecom forget` (right to erasure); see retention.hpp.
#include "ecom/pipeline/retention.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "ecom/core/cli.hpp"
#include "ecom/core/clock.hpp"
#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/io/csv.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/io/quarantine.hpp"
#include "ecom/io/store_lock.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/file.hpp"
#include "ecom/par/vshard.hpp"
#include "ecom/pipeline/commands.hpp"
#include "ecom/privacy/pseudonym.hpp"

namespace ecom::pipeline {

namespace fs = std::filesystem;

// ---- pure helpers ---------------------------------------------------------------------------

std::int64_t parse_iso_utc(std::string_view s) {
  if (s.size() != 20 || s[10] != 'T' || s[19] != 'Z') return -1;
  std::string t(s.substr(0, 19));
  t[10] = ' ';
  const auto v = io::parse_time_option(t);
  return v ? *v : -1;
}

bool expired(std::int64_t newest, std::int64_t now, int days) {
  return now - newest > static_cast<std::int64_t>(days) * 86400;
}

std::vector<std::string_view> csv_records(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"')
      quoted = !quoted;
    else if (text[i] == '\n' && !quoted) {
      std::size_t end = i;
      if (end > start && text[end - 1] == '\r') --end;
      out.push_back(text.substr(start, end - start));
      start = i + 1;
    }
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

std::vector<std::string> split_csv_record(std::string_view record) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < record.size(); ++i) {
    const char c = record[i];
    if (quoted) {
      if (c == '"' && i + 1 < record.size() && record[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::string json_string_member(std::string_view json, std::string_view name) {
  const std::string key = "\"" + std::string(name) + "\"";
  std::size_t at = json.find(key);
  if (at == std::string_view::npos) return "";
  at = json.find(':', at + key.size());
  if (at == std::string_view::npos) return "";
  at = json.find('"', at);
  if (at == std::string_view::npos) return "";
  const std::size_t end = json.find('"', at + 1);
  if (end == std::string_view::npos) return "";
  return std::string(json.substr(at + 1, end - at - 1));
}

namespace {

std::string iso_of(std::int64_t t) {
  std::string s = io::format_time(t);
  s[10] = 'T';
  return s + "Z";
}

std::int64_t resolve_now(par::Comm& comm, const std::string& now_option) {
  std::int64_t now = 0;
  std::string error;
  if (now_option.empty()) {
    now = static_cast<std::int64_t>(std::time(nullptr));
  } else {
    now = parse_iso_utc(now_option);
    if (now < 0) error = "--now '" + now_option + "' is not YYYY-MM-DDTHH:MM:SSZ";
  }
  par::agree(comm, error, ExitCode::usage);
  comm.bcast(now, 0);
  return now;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Rank 0: keeps the quarantine's header and the records for which `drop` is false; rewrites the
// file (temporary name, then rename) unless dry_run or nothing goes. Returns rows dropped, or an
// error in `error`; a file that cannot be read is skipped with a line in `warning`. Collective
// result: broadcast by the caller.
template <class Drop>
std::uint64_t filter_quarantine(const std::string& path, bool dry_run, Drop&& drop,
                                std::string& error, std::string& warning) {
  std::error_code ec;
  std::ifstream probe(path, std::ios::binary);
  if (!probe || fs::is_directory(path, ec)) {
    warning = "cannot read the quarantine " + path + " (" +
              (fs::exists(path, ec) ? "not a readable file" : "no such file") +
              "): its raw rows, if any, are not handled";
    return 0;
  }
  probe.close();
  const std::string text = read_text(path);
  const auto records = csv_records(text);
  if (records.empty()) return 0;
  std::string kept(records[0]);
  kept += '\n';
  std::uint64_t dropped = 0;
  for (std::size_t i = 1; i < records.size(); ++i) {
    const auto fields = split_csv_record(records[i]);
    if (fields.size() != 4) {
      error = path + ": record " + std::to_string(i + 1) + " has " + std::to_string(fields.size()) +
              " fields, not 4 (file,line,reason,row)";
      return 0;
    }
    if (drop(fields)) {
      ++dropped;
    } else {
      kept.append(records[i]);
      kept += '\n';
    }
  }
  // Raw zone: 0600 whatever the umask. A write error is thrown (exit 4 through
  // par::Environment::fail; the others wait in the caller's agreement).
  if (dropped > 0 && !dry_run) par::write_file(path, kept, par::kRawDataMode);
  return dropped;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  for (std::string line; std::getline(is, line);) out.push_back(line);
  return out;
}

}  // namespace

// ---- purge ------------------------------------------------------------------------------------

namespace {

struct PurgeRun {  // what every part of a purge shares
  const PurgeOptions& opts;
  std::int64_t now;
  std::string tag, would;
};

std::string age_days(std::int64_t t, std::int64_t now) {
  return std::to_string((now - t) / 86400) + " days old";
}

// Store partitions past processed_days, and quarantine rows by their file's ingest time.
void purge_store(Context& ctx, const PurgeRun& pr, RetentionReport& report) {
  auto& comm = ctx.comm;
  const auto& log = ctx.log;
  const auto& opts = pr.opts;
  std::optional<io::StoreLock> lock;  // one writer at a time (io/store_lock.hpp)
  if (!opts.dry_run) lock.emplace(io::StoreLock::acquire(comm, opts.store, 0, ctx.command_line));
  const auto store = io::EventStore::open(comm, opts.store);
  std::vector<bool> keep(static_cast<std::size_t>(store.partitions()), true);
  std::uint64_t dropped_events = 0;
  for (int p = 0; p < store.partitions(); ++p) {
    const auto s = store.partition_summary(comm, p);
    if (!expired(s.events ? s.last_time : 0, pr.now, opts.processed_days)) continue;
    keep[static_cast<std::size_t>(p)] = false;
    report.partitions_dropped.push_back(p);
    dropped_events += s.events;
    std::string files;
    for (const auto& f : store.manifest())
      if (f.partition == p) files += (files.empty() ? "" : ", ") + f.name;
    log.info(pr.tag, pr.would, "drop partition ", p, ": ", s.events, " events, newest ",
             s.events ? io::format_time(s.last_time) : std::string("none"), " UTC (",
             s.events ? age_days(s.last_time, pr.now) : std::string("empty"), ", processed-days ",
             opts.processed_days, "); files: ", files);
  }
  report.events_removed = dropped_events;

  // Quarantine rows: by the ingest time of their file, or with their file's partition.
  const std::string qpath =
      opts.quarantine.empty() ? io::default_quarantine_path(opts.store) : opts.quarantine;
  std::string error, warning;
  std::uint64_t qdropped = 0, unknown = 0;
  if (comm.rank() == 0) {
    std::map<std::string, bool> file_goes;  // name -> every manifest entry of it goes
    for (const auto& f : store.manifest()) {
      const std::int64_t t = parse_iso_utc(f.ingest_time);
      const bool goes = !keep[static_cast<std::size_t>(f.partition)] ||
                        (t >= 0 && expired(t, pr.now, opts.raw_days));
      auto [it, fresh] = file_goes.emplace(f.name, goes);
      if (!fresh) it->second = it->second && goes;
    }
    qdropped = filter_quarantine(
        qpath, opts.dry_run,
        [&](const std::vector<std::string>& fields) {
          const auto it = file_goes.find(fields[0]);
          if (it == file_goes.end()) {
            ++unknown;
            return false;
          }
          return it->second;
        },
        error, warning);
    if (!warning.empty()) log.warn(pr.tag, warning);
  }
  par::agree(comm, error, ExitCode::input);
  comm.bcast(qdropped, 0);
  comm.bcast(unknown, 0);
  report.quarantine_rows_removed = qdropped;
  if (qdropped > 0)
    log.info(pr.tag, pr.would, "remove ", qdropped, " quarantine rows (raw zone) from ", qpath);
  if (unknown > 0)
    log.warn(pr.tag, unknown, " quarantine rows name a file missing from the manifest: kept");

  if (!report.partitions_dropped.empty() && !opts.dry_run) {
    io::AuditRecord record;
    record.action = "purge";
    record.time = iso_of(pr.now);
    record.partitions_removed = report.partitions_dropped.size();
    record.note = "raw_days=" + std::to_string(opts.raw_days) +
                  " processed_days=" + std::to_string(opts.processed_days) +
                  " quarantine_rows_removed=" + std::to_string(qdropped);
    record.events_removed = dropped_events;
    const std::uint64_t removed = io::EventStore::rewrite(comm, opts.store, keep, {}, record);
    if (removed != dropped_events) {
      Error e("purge: removed " + std::to_string(removed) + " events but counted " +
              std::to_string(dropped_events));
      e.set_collective(true);
      throw e;
    }
    log.info(pr.tag, "rewrote ", opts.store, " without ", removed,
             " events; its /profile was dropped (run `ecom profile` again)");
  }
}

// Rank 0: the directories (`dirs`) or regular files in `dir`, sorted. Symbolic links are never
// followed: each is reported and left alone with its target.
std::vector<fs::path> entries(const Logger& log, const PurgeRun& pr, const fs::path& dir,
                              bool dirs) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_symlink(ec))
      log.warn(pr.tag, "skip ", entry.path().string(),
               ": a symbolic link (not followed; it and its target are left alone)");
    else if (dirs ? entry.is_directory(ec) : entry.is_regular_file(ec))
      out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Rank 0: one run directory (run time t): removed past processed_days, its raw-zone files past
// raw_days. Symbolic links are reported and left alone with their targets.
void purge_run_directory(const Logger& log, const PurgeRun& pr, const fs::path& dir,
                         const std::string& run_time, std::int64_t t, std::string& removed,
                         std::string& raw, std::string& error) {
  std::error_code ec;
  const auto& opts = pr.opts;
  if (expired(t, pr.now, opts.processed_days)) {
    log.info(pr.tag, pr.would, "remove run directory ", dir.string(), ": run time ", run_time, " (",
             age_days(t, pr.now), ") is past processed-days ", opts.processed_days);
    if (!opts.dry_run) fs::remove_all(dir, ec);
    if (ec) error = "cannot remove " + dir.string() + ": " + ec.message();
    removed += dir.string() + "\n";
  } else if (expired(t, pr.now, opts.raw_days)) {
    std::vector<fs::path> qfiles;
    for (const auto& q : entries(log, pr, dir, false)) {
      const std::string name = q.filename().string();
      if (name.size() > 15 && name.ends_with(".quarantine.csv")) qfiles.push_back(q);
    }
    for (const auto& q : qfiles) {
      log.info(pr.tag, pr.would, "remove raw-zone file ", q.string(), ": run time ", run_time, " (",
               age_days(t, pr.now), ") is past raw-days ", opts.raw_days);
      if (!opts.dry_run) fs::remove(q, ec);
      raw += q.string() + "\n";
    }
  }
}

// The run directories under --runs, each dated by its run.json run_time.
void purge_runs(Context& ctx, const PurgeRun& pr, RetentionReport& report) {
  auto& comm = ctx.comm;
  const auto& log = ctx.log;
  const auto& opts = pr.opts;
  std::string error, removed, raw;
  if (comm.rank() == 0) {
    std::error_code ec;
    if (!fs::is_directory(opts.runs, ec)) error = "--runs " + opts.runs + " is not a directory";
    const std::vector<fs::path> dirs = entries(log, pr, opts.runs, true);
    for (const auto& dir : dirs) {
      const fs::path run_json = dir / "run.json";
      if (!fs::exists(run_json, ec)) {
        log.info(pr.tag, "skip ", dir.string(), ": no run.json (not a finished run)");
        continue;
      }
      const std::string run_time = json_string_member(read_text(run_json.string()), "run_time");
      const std::int64_t t = parse_iso_utc(run_time);
      if (t < 0) {
        log.warn(pr.tag, "skip ", dir.string(), ": run.json has no valid run_time");
        continue;
      }
      purge_run_directory(log, pr, dir, run_time, t, removed, raw, error);
      if (!error.empty()) break;
    }
  }
  par::agree(comm, error, ExitCode::input);
  comm.bcast(removed, 0);
  comm.bcast(raw, 0);
  report.runs_removed = split_lines(removed);
  report.raw_files_removed = split_lines(raw);
}

}  // namespace

RetentionReport run_purge(Context& ctx, const PurgeOptions& opts) {
  auto& comm = ctx.comm;
  const auto& log = ctx.log;
  {
    std::string error;
    if (opts.raw_days < 0 || opts.processed_days < 0)
      error = "--raw-days and --processed-days must be >= 0";
    else if (opts.store.empty() && opts.runs.empty())
      error = "purge needs --store or --runs (or both)";
    par::agree(comm, error, ExitCode::usage);
  }
  const PurgeRun pr{opts, resolve_now(comm, opts.now),
                    opts.dry_run ? "purge (dry run): " : "purge: ", opts.dry_run ? "would " : ""};
  log.info(pr.tag, "now ", iso_of(pr.now), "; processed data kept ", opts.processed_days,
           " days, raw-zone data ", opts.raw_days, " days");
  RetentionReport report;
  if (!opts.store.empty()) purge_store(ctx, pr, report);
  if (!opts.runs.empty()) purge_runs(ctx, pr, report);
  log.info(pr.tag, report.partitions_dropped.size(), " partitions (", report.events_removed,
           " events), ", report.quarantine_rows_removed, " quarantine rows, ",
           report.runs_removed.size(), " run directories, ", report.raw_files_removed.size(),
           " raw-zone files ", opts.dry_run ? "would go" : "removed");
  return report;
}

// ---- forget -----------------------------------------------------------------------------------

RetentionReport run_forget(Context& ctx, const ForgetOptions& opts) {
  auto& comm = ctx.comm;
  const auto& log = ctx.log;
  const std::string tag = opts.dry_run ? "forget (dry run): " : "forget: ";
  std::string key, error;
  try {
    key = privacy::read_key_file(opts.key_file);
  } catch (const Error& e) {
    error = e.what();
  }
  std::vector<std::string> user_ids = opts.user_ids;
  if (error.empty() && !opts.user_id_file.empty()) {
    std::ifstream in(opts.user_id_file);
    if (!in) error = "cannot read --user-id-file " + opts.user_id_file;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) user_ids.push_back(line);
    }
  }
  if (error.empty() && user_ids.empty())
    error = "forget needs at least one user id (--user-id or --user-id-file)";
  for (auto& id : user_ids) {  // canonical form: one person, one pseudonym
    const auto canonical = privacy::canonical_user_id(id);
    if (error.empty() && !canonical)
      error = "forget: user id '" + id.substr(0, 40) +
              "' is not a plain decimal integer below 2^64 (bad_user_id)";
    if (canonical) id = std::string(*canonical);
  }
  par::agree(comm, error, ExitCode::usage);

  std::set<std::uint64_t> pseudonyms;
  {
    privacy::Pseudonymizer p(std::move(key));
    for (const auto& id : user_ids) pseudonyms.insert(p.pseudonym(id));
  }
  RetentionReport report;
  std::optional<io::StoreLock> lock;  // one writer at a time (io/store_lock.hpp)
  if (!opts.dry_run) lock.emplace(io::StoreLock::acquire(comm, opts.store, 0, ctx.command_line));
  const auto store = io::EventStore::open(comm, opts.store);

  // Count first, reading only the vshard of each pseudonym (on its owner rank).
  const par::VShardMap map(store.vshards(), comm.size());
  std::uint64_t found = 0;
  for (const std::uint64_t u : pseudonyms) {
    const std::uint32_t v = map.vshard_of(u);
    const bool mine = map.owner_of(u) == comm.rank();
    const auto events = store.read_vshards(comm, mine ? v : 0, mine ? v + 1 : 0);
    for (const Event& e : events) found += e.user == u;
  }
  found = comm.allreduce_sum(found);

  const std::string qpath =
      opts.quarantine.empty() ? io::default_quarantine_path(opts.store) : opts.quarantine;
  std::uint64_t qdropped = 0;
  std::string warning;
  if (comm.rank() == 0) {
    const std::set<std::string> raw(user_ids.begin(), user_ids.end());
    qdropped = filter_quarantine(
        qpath, opts.dry_run,
        [&](const std::vector<std::string>& fields) {
          for (std::string f : split_csv_record(fields[3])) {
            const auto b = f.find_first_not_of(" \t\"");
            const auto e = f.find_last_not_of(" \t\"\r");
            if (b == std::string::npos) continue;
            const auto id = privacy::canonical_user_id(std::string_view(f).substr(b, e - b + 1));
            if (id && raw.count(std::string(*id))) return true;
          }
          return false;
        },
        error, warning);
    if (!warning.empty()) log.warn(tag, warning);
  }
  par::agree(comm, error, ExitCode::input);
  comm.bcast(qdropped, 0);
  report.quarantine_rows_removed = qdropped;

  const std::string people =
      std::to_string(user_ids.size()) + (user_ids.size() == 1 ? " person" : " people");
  if (found == 0) {
    log.info(tag, "no events of the ", people, " in ", opts.store, ": the store is unchanged");
  } else if (opts.dry_run) {
    log.info(tag, "would remove ", found, " events of the ", people, " from ", opts.store);
  } else {
    io::AuditRecord record;
    record.action = "forget";
    record.time = utc_now_iso();
    comm.bcast(record.time, 0);
    record.note = "people=" + std::to_string(user_ids.size()) +
                  " quarantine_rows_removed=" + std::to_string(qdropped) +
                  (opts.request.empty() ? std::string() : " request=" + opts.request);
    record.events_removed = found;  // recorded before the rewrite; checked below
    const std::uint64_t removed = io::EventStore::rewrite(
        comm, opts.store, std::vector<bool>(static_cast<std::size_t>(store.partitions()), true),
        [&pseudonyms](const Event& e) { return pseudonyms.count(e.user) > 0; }, record);
    if (removed != found) {
      Error e("forget: removed " + std::to_string(removed) + " events but counted " +
              std::to_string(found));
      e.set_collective(true);
      throw e;
    }
    log.info(tag, "removed ", removed, " events of the ", people, " from ", opts.store,
             " (rewritten; erasure recorded in its manifest)");
  }
  report.events_removed = found;
  if (qdropped > 0)
    log.info(tag, opts.dry_run ? "would remove " : "removed ", qdropped,
             " quarantine rows (raw zone) from ", qpath);
  return report;
}

}  // namespace ecom::pipeline

namespace ecom {

void add_retention_commands(CLI::App& app, Action& action) {
  auto po = std::make_shared<pipeline::PurgeOptions>();
  auto* purge = app.add_subcommand("purge",
                                   "Retention: drop store partitions, quarantine rows and run "
                                   "directories older than the policy");
  purge->add_option("--store", po->store,
                    "Event store (its partitions by newest event; its quarantine by ingest time)");
  purge->add_option("--quarantine", po->quarantine,
                    "The store's quarantine CSV (default: STORE.quarantine.csv)");
  purge->add_option("--runs", po->runs,
                    "Directory of run directories (each by its run.json run_time)");
  ranged(
      purge->add_option("--raw-days", po->raw_days, "Days raw-zone data (quarantine rows) are kept")
          ->capture_default_str(),
      0, 36500);
  ranged(purge
             ->add_option("--processed-days", po->processed_days,
                          "Days processed data (store partitions, runs) are kept")
             ->capture_default_str(),
         0, 36500);
  purge->add_flag("--dry-run", po->dry_run, "Log what would go; change nothing");
  purge->add_option("--now", po->now, "Reference time, YYYY-MM-DDTHH:MM:SSZ (default: the clock)");
  purge->callback([po, &action] {
    action = [po](Context& ctx) {
      pipeline::run_purge(ctx, *po);
      return 0;
    };
  });

  auto fo = std::make_shared<pipeline::ForgetOptions>();
  auto* forget = app.add_subcommand(
      "forget",
      "Right to erasure: remove one person's events from the store and their raw rows from the "
      "quarantine; the erasure is recorded in the manifest without any identifier");
  forget->add_option("--store", fo->store, "Event store")->required();
  forget
      ->add_option("--key-file", fo->key_file,
                   "The pseudonymisation key used at ingest (mode 0600)")
      ->required();
  forget->add_option("--user-id", fo->user_ids,
                     "Raw user id (repeatable); prefer --user-id-file: argv is visible");
  forget->add_option("--user-id-file", fo->user_id_file, "File of raw user ids, one per line");
  forget->add_option("--quarantine", fo->quarantine,
                     "The store's quarantine CSV (default: STORE.quarantine.csv)");
  forget->add_option("--request", fo->request,
                     "Reference of the erasure request, recorded (no personal data)");
  forget->add_flag("--dry-run", fo->dry_run, "Count what would go; change nothing");
  forget->callback([fo, &action] {
    action = [fo](Context& ctx) {
      pipeline::run_forget(ctx, *fo);
      return 0;
    };
  });
}

}  // namespace ecom
