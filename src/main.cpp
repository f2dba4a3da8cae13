// CLI wiring only: global options, the subcommands, and the failure discipline
// (README.md, "Exit codes").
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>

#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/log.hpp"
#include "ecom/core/signals.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/environment.hpp"
#include "ecom/pipeline/commands.hpp"

int main(int argc, char** argv) {
  ecom::par::Environment mpi(argc, argv);
  ecom::install_stop_handlers();
  auto comm = ecom::par::Comm::world();
  const int rank = comm.rank();

  CLI::App app{"ecom: behavioural analytics of e-commerce click-streams (REES46 format) with MPI"};
  app.set_version_flag("--version", std::string(ECOM_VERSION) + " (" + ECOM_GIT_REVISION + ")");
  app.require_subcommand(1);
  app.fallthrough();  // global options (--config, --log-level) also after the subcommand
  app.set_config("--config", "", "TOML configuration file (see configs/default.toml)");
  app.allow_config_extras(CLI::config_extras_mode::error);
  std::string log_level = "info";
  bool all_ranks = false, no_progress = false;
  app.add_option("--log-level", log_level, "debug, info, warn, error or quiet")
      ->capture_default_str();
  app.add_flag("--log-all-ranks", all_ranks, "Log from every rank, not only rank 0");
  app.add_flag("--no-progress", no_progress, "No progress lines");

  ecom::Action action;
  // --- subcommands: one line each ---
  ecom::add_profile_command(app, action);
  ecom::add_ingest_command(app, action);
  ecom::add_pseudonymize_command(app, action);
  ecom::add_synth_command(app, action);
  ecom::add_analysis_commands(app, action);
  ecom::add_score_command(app, action);
  ecom::add_retention_commands(app, action);
  // --- end of subcommands ---

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Every rank parsed the same arguments: print once, exit the same way everywhere.
    if (rank == 0) {
      const int code = app.exit(e);
      return code == 0 ? 0 : static_cast<int>(ecom::ExitCode::usage);
    }
    return e.get_exit_code() == 0 ? 0 : static_cast<int>(ecom::ExitCode::usage);
  }

  try {
    ecom::Context ctx{comm, ecom::Logger(rank, ecom::parse_log_level(log_level), all_ranks),
                      ecom::Timers{}, !no_progress, app.config_to_str(true, false), ""};
    std::ostringstream cmd;
    for (int i = 0; i < argc; ++i) cmd << (i ? " " : "") << argv[i];
    ctx.command_line = cmd.str();
    return action ? action(ctx) : 0;
  } catch (const ecom::Error& e) {
    if (e.collective()) {
      if (rank == 0) std::fprintf(stderr, "ecom: %s\n", e.what());
      return static_cast<int>(e.code());
    }
    std::fprintf(stderr, "ecom: rank %d: %s\n", rank, e.what());
    std::fflush(stderr);
    ecom::par::Environment::abort(static_cast<int>(e.code()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ecom: rank %d: %s\n", rank, e.what());
    std::fflush(stderr);
    ecom::par::Environment::abort(static_cast<int>(ecom::ExitCode::internal));
  }
}
