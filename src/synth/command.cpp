// `ecom synth`: a synthetic REES46-format data set with planted archetypes and tastes, and its
// ground truth (docs/SEGMENTS.md describes the archetypes).
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "ecom/core/cli.hpp"
#include "ecom/core/context.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/stats.hpp"
#include "ecom/pipeline/commands.hpp"
#include "ecom/synth/synth.hpp"

namespace ecom {

void add_synth_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<synth::SynthOptions>();
  auto* sub = app.add_subcommand(
      "synth",
      "Write a synthetic REES46-format data set (OUT/events/<YYYY-MM>.csv[.gz]) with planted "
      "behaviour archetypes and taste groups, and its ground truth (OUT/truth/); the same output "
      "for any number of ranks");
  sub->add_option("--preset", opts->model.preset, "multi-category or cosmetics")
      ->check(CLI::IsMember({"multi-category", "cosmetics"}))
      ->capture_default_str();
  ranged(sub->add_option("--events", opts->model.events,
                         "Rows to generate over the whole window (about)")
             ->capture_default_str(),
         100, 1e12);
  sub->add_option("--months", opts->model.months,
                  "Consecutive months YYYY-MM, one file each (users persist across months)")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--seed", opts->model.seed, "Seed of every random decision")
      ->capture_default_str();
  sub->add_option("--out", opts->out, "Output directory")->capture_default_str();
  sub->add_flag("--gzip", opts->gzip, "Write .csv.gz (one gzip member per block of users)");
  ranged(sub->add_option("--gzip-level", opts->gzip_level, "Deflate level")->capture_default_str(),
         1, 9);
  ranged(sub->add_option(
                "--dirty", opts->dirty,
                "Share of malformed rows mixed in, one defect per row, counted in truth/dirty.csv")
             ->capture_default_str(),
         0, 0.5);
  ranged(sub->add_option("--future-days", opts->model.future_days,
                         "Days after the window whose purchases go to truth/future_purchases.csv "
                         "only")
             ->capture_default_str(),
         0, 366);
  ranged(sub->add_option("--taste-groups", opts->model.taste_groups, "Number of taste groups")
             ->capture_default_str(),
         1, 1024);
  ranged(sub->add_option("--block-users", opts->block_users,
                         "Users per block (unit of work and of gzip members; changes .gz bytes "
                         "only)")
             ->capture_default_str(),
         1, 1 << 24);
  sub->callback([opts, &action] {
    action = [opts](Context& ctx) {
      synth::run_synth(ctx, *opts);
      par::log_stage_stats(ctx.log, par::reduce_timers(ctx.comm, ctx.timers));
      return 0;
    };
  });
}

}  // namespace ecom
