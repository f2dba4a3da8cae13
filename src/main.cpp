// CLI wiring only: global options, the subcommands, and the failure discipline
// (README.md, "Exit codes").
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>

#include "ecom/core/config.hpp"
#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/log.hpp"
#include "ecom/core/signals.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/environment.hpp"
#include "ecom/par/file.hpp"
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
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "quiet"}))
      ->capture_default_str();
  app.add_flag("--log-all-ranks", all_ranks, "Log from every rank, not only rank 0");
  app.add_flag("--no-progress", no_progress, "No progress lines");
  std::string output_mode = "640";
  app.add_option("--output-mode", output_mode,
                 "Permission bits (octal) of pseudonymised outputs: stores, ecom.h5, CSVs, "
                 "run.json (raw-zone files such as the quarantine are always 600)")
      ->check([](const std::string& v) {
        try {
          ecom::par::parse_mode(v);
          return std::string();
        } catch (const ecom::Error& e) {
          return std::string(e.what());
        }
      })
      ->capture_default_str();

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

  // A parse error is one line on stderr and exit 2 on every rank (README, "Exit codes"); --help
  // and --version exit 0 with CLI11's text.
  std::string message;
  bool asked = false;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    asked = e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success);
    if (asked) {
      if (rank == 0) app.exit(e);
    } else {
      std::string help = "ecom";
      message = e.what();
      for (auto& c : message)
        if (c == '\n' || c == '\r') c = ' ';
      for (const auto* sub : app.get_subcommands()) help += " " + sub->get_name();
      const auto left = app.remaining();
      if (app.get_subcommands().empty() && !left.empty())  // CLI11 says "subcommand is required"
        message = (left[0].rfind('-', 0) == 0 ? "unknown option '" : "unknown subcommand '") +
                  left[0] + "'";
      message = "ecom: " + message + " (run '" + help + " --help')\n";
    }
  }
  // Every rank parsed the same arguments, but a range may depend on the node (the shuffle
  // buffer's share of its memory): the ranks agree, and the lowest failing rank prints.
  const int first_bad = comm.allreduce_min(message.empty() ? comm.size() : rank);
  if (first_bad < comm.size()) {
    if (rank == first_bad) std::fputs(message.c_str(), stderr);
    return static_cast<int>(ecom::ExitCode::usage);
  }
  if (asked) return 0;
  ecom::par::set_output_mode(ecom::par::parse_mode(output_mode));
  // Test hook (tests/e2e/test_config.sh): print the effective configuration and stop.
  if (std::getenv("ECOM_TEST_PRINT_CONFIG") != nullptr) {
    if (rank == 0) std::fputs(ecom::effective_config(app).c_str(), stdout);
    return 0;
  }

  try {
    ecom::Context ctx{comm,
                      ecom::Logger(rank, ecom::parse_log_level(log_level), all_ranks),
                      ecom::Timers{},
                      !no_progress,
                      ecom::effective_config(app),
                      ""};
    std::ostringstream cmd;
    for (int i = 0; i < argc; ++i) cmd << (i ? " " : "") << argv[i];
    ctx.command_line = cmd.str();
    ecom::par::test_throw_point(rank, "start");
    return action ? action(ctx) : 0;
  } catch (const ecom::Error& e) {
    if (e.collective()) {
      if (rank == 0) std::fprintf(stderr, "ecom: %s\n", e.what());
      return static_cast<int>(e.code());
    }
    ecom::par::Environment::fail(e.what(), static_cast<int>(e.code()));
  } catch (const std::exception& e) {
    ecom::par::Environment::fail(e.what(), static_cast<int>(ecom::ExitCode::internal));
  }
}
