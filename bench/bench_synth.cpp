// Rate of the synthetic generator (not a test: it prints figures).
//
//   mpirun -np P build/bench/bench_synth [events] [preset] [outdir]
//
// Defaults: 1000000 events, multi-category, a fresh directory under $TMPDIR (or /tmp), removed
// afterwards. Prints, as `key value` lines:
//  - generate_rows_per_s_per_rank: generate_user() alone (no formatting, no I/O) over this
//    rank's share of the users, rows per second, min/avg/max over ranks;
//  - synth_rows_per_s_per_rank: the whole `ecom synth` run_synth() (generation, formatting,
//    ordered collective writes of every file, truth and summary), rows per second of wall time
//    per rank (total rows / P / wall seconds), and the wall seconds.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "ecom/core/context.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/environment.hpp"
#include "ecom/synth/synth.hpp"

using namespace ecom;

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  par::Environment env(argc, argv);
  auto comm = par::Comm::world();
  const int rank = comm.rank(), size = comm.size();
  synth::SynthOptions opts;
  opts.model.events = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  opts.model.preset = argc > 2 ? argv[2] : "multi-category";
  std::string out = argc > 3 ? argv[3] : "";
  const bool own_dir = out.empty();
  if (own_dir) {
    const char* tmp = std::getenv("TMPDIR");
    out = std::string(tmp ? tmp : "/tmp") + "/bench_synth." + std::to_string(getpid());
    comm.bcast(out, 0);
  }
  opts.out = out;

  // 1. Generation alone: this rank's contiguous share of the users.
  const synth::Model model(opts.model);
  const std::uint64_t n = model.users();
  const std::uint64_t u0 = n * static_cast<std::uint64_t>(rank) / static_cast<std::uint64_t>(size);
  const std::uint64_t u1 =
      n * static_cast<std::uint64_t>(rank + 1) / static_cast<std::uint64_t>(size);
  synth::UserData user;
  synth::UserScratch scratch;
  std::uint64_t rows = 0;
  comm.barrier();
  const auto t0 = Clock::now();
  for (std::uint64_t u = u0; u < u1; ++u) {
    synth::generate_user(model, u, user, scratch);
    rows += user.events.size();
  }
  const double gen_s = since(t0);
  const double gen_rate = gen_s > 0 ? static_cast<double>(rows) / gen_s : 0.0;
  const double gen_min = comm.allreduce_min(gen_rate), gen_max = comm.allreduce_max(gen_rate);
  const double gen_avg = comm.allreduce_sum(gen_rate) / size;

  // 2. The whole command: generation, formatting and the collective writes.
  Context ctx{comm, Logger(rank, LogLevel::warn), Timers{}, false, "", ""};
  comm.barrier();
  const auto t1 = Clock::now();
  const synth::SynthStats stats = synth::run_synth(ctx, opts);
  comm.barrier();
  const double wall = comm.allreduce_max(since(t1));
  if (own_dir && rank == 0) std::filesystem::remove_all(out);

  if (rank == 0) {
    std::printf("preset %s\nevents_requested %llu\nranks %d\nusers %llu\nrows %llu\n",
                opts.model.preset.c_str(), static_cast<unsigned long long>(opts.model.events), size,
                static_cast<unsigned long long>(n), static_cast<unsigned long long>(stats.rows));
    std::printf("generate_rows_per_s_per_rank min %.0f avg %.0f max %.0f\n", gen_min, gen_avg,
                gen_max);
    std::printf("synth_seconds %.3f\n", wall);
    std::printf("synth_rows_per_s_per_rank %.0f\n", static_cast<double>(stats.rows) / size / wall);
    std::printf("synth_rows_per_s_total %.0f\n", static_cast<double>(stats.rows) / wall);
  }
  return 0;
}
