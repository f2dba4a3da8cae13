#pragma once
// Each subcommand adds itself to the CLI11 app; main.cpp calls these and runs the chosen action.
#include "ecom/pipeline/command.hpp"

namespace ecom {
// --- one line per subcommand (keep sorted by module) ---
void add_profile_command(CLI::App& app, Action& action);       // src/pipeline/profile.cpp
void add_ingest_command(CLI::App& app, Action& action);        // src/pipeline/ingest.cpp
void add_pseudonymize_command(CLI::App& app, Action& action);  // src/privacy/command.cpp
void add_synth_command(CLI::App& app, Action& action);         // src/synth/command.cpp
void add_analysis_commands(CLI::App& app, Action& action);     // src/pipeline/run.cpp: analyze, run
void add_score_command(CLI::App& app, Action& action);         // src/pipeline/score.cpp
void add_retention_commands(CLI::App& app,
                            Action& action);  // src/pipeline/retention.cpp: purge, forget
}  // namespace ecom
