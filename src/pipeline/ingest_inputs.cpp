// Ingest part 1, input planning: patterns, file checks, SHA-256 skipping (ingest_parts.hpp).
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <optional>

#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/timer.hpp"
#include "ecom/io/input.hpp"
#include "ecom/io/sha256.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/pipeline/ingest_parts.hpp"

namespace ecom::pipeline {

double CpuTimer::thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void agree_file_error(par::Comm& comm, std::uint64_t file, const std::string& error,
                      ExitCode code) {
  const std::uint64_t mine = error.empty() ? UINT64_MAX : file;
  const std::uint64_t first = comm.allreduce_min(mine);
  if (first == UINT64_MAX) return;
  par::agree(comm, mine == first ? error : std::string(), code);
}

std::vector<std::string> expand_patterns(par::Comm& comm,
                                         const std::vector<std::string>& patterns) {
  std::vector<std::string> paths;
  std::string error;
  if (comm.rank() == 0) {
    try {
      paths = io::expand_inputs(patterns);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  par::agree(comm, error, ExitCode::usage);
  std::uint64_t n = paths.size();
  comm.bcast(n, 0);
  paths.resize(n);
  for (auto& p : paths) comm.bcast(p, 0);
  if (paths.size() > io::kMaxFilesPerRun) {
    par::agree(comm, "ingest: at most " + std::to_string(io::kMaxFilesPerRun) + " files per run",
               ExitCode::usage);
  }
  return paths;
}

namespace {

std::string describe_errno(int err) {
  if (err == ENOENT) return "does not exist";
  return std::string("cannot read: ") + std::strerror(err);
}

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// Rank 0 checks that every input exists, is a readable regular file and is not empty, and
// notes its size and modification time.
std::vector<InputFile> stat_inputs(par::Comm& comm, const std::vector<std::string>& paths) {
  std::vector<InputFile> files(paths.size());
  std::vector<std::int64_t> facts(2 * paths.size(), 0);  // size, mtime
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
      if (error.empty()) {
        facts[2 * i] = st.st_size;
        facts[2 * i + 1] = mtime_ns(st);
      }
    }
  }
  par::agree(comm, error, ExitCode::input);
  comm.bcast(facts, 0);
  for (std::size_t i = 0; i < paths.size(); ++i)
    files[i] = InputFile{paths[i], static_cast<std::uint64_t>(facts[2 * i]), facts[2 * i + 1],
                         io::is_gzip_name(paths[i]), ""};
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

}  // namespace

void share_digests(par::Comm& comm, std::vector<InputFile>& files, std::vector<char>& digests) {
  std::vector<std::int8_t> shared(digests.begin(), digests.end());
  comm.allreduce_max(std::span<std::int8_t>(shared));
  for (std::size_t i = 0; i < files.size(); ++i)
    if (shared[i * 64] != 0)
      files[i].sha256.assign(reinterpret_cast<const char*>(shared.data()) + i * 64, 64);
}

std::vector<InputFile> check_inputs(Context& ctx, const std::vector<std::string>& paths,
                                    double& cpu_seconds) {
  ScopedTimer t(ctx.timers, "check");
  CpuTimer cpu(cpu_seconds);
  std::vector<InputFile> files = stat_inputs(ctx.comm, paths);
  check_headers(ctx.comm, files);
  return files;
}

// Idempotence: files whose content is already in the store (or earlier in this run) are
// skipped. Equal content has equal size, so only a file whose size equals that of a stored file
// or of another input needs its SHA-256 before reading; the others are new for sure and get
// theirs beside the reading, on ranks that would otherwise wait.
InputPlan plan_inputs(Context& ctx, std::vector<InputFile> candidates,
                      const std::vector<io::FileManifest>& stored, double& cpu_seconds) {
  {
    ScopedTimer t(ctx.timers, "check");
    CpuTimer cpu(cpu_seconds);
    std::map<std::uint64_t, int> same_size;
    for (const auto& m : stored) same_size[m.size] += 1;
    for (const auto& f : candidates) same_size[f.size] += 1;
    std::vector<bool> need(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) need[i] = same_size[candidates[i].size] > 1;
    hash_now(ctx.comm, candidates, need);
  }
  InputPlan plan;
  std::map<std::string, std::string> known;  // sha256 -> where that content was seen
  for (const auto& m : stored) known.emplace(m.sha256, m.name + " in the store");
  for (auto& f : candidates) {
    if (f.sha256.empty()) {  // a size no other file has: new content
      plan.files.push_back(std::move(f));
      continue;
    }
    const auto [it, fresh] = known.emplace(f.sha256, f.path);
    if (!fresh) {
      ctx.log.info("ingest: skipping ", f.path, ": already ingested (same SHA-256 as ", it->second,
                   ")");
      ++plan.skipped;
      continue;
    }
    plan.files.push_back(std::move(f));
  }
  return plan;
}

std::string changed_since_planned(const InputFile& file) {
  struct stat st {};
  if (::stat(file.path.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != file.size ||
      mtime_ns(st) != file.mtime_ns)
    return "input file " + file.path + ": changed while being read";
  return "";
}

void check_unchanged(par::Comm& comm, const std::vector<InputFile>& files) {
  std::string error;
  if (comm.rank() == 0)
    for (std::size_t i = 0; i < files.size() && error.empty(); ++i)
      error = changed_since_planned(files[i]);
  par::agree(comm, error, ExitCode::input);
}

}  // namespace ecom::pipeline
