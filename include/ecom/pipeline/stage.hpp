#pragma once
// One stage of a command (ARCHITECTURE.md §5c, docs/DESIGN.md). Its one name gives:
//  - the timer `name`, nested under the open ones (so "segments" inside "analyze" is the path
//    "analyze/segments" of run.json's "stages");
//  - the traffic stage and the test hook point of that same path (par::test_throw_point), so the
//    bytes of run.json's "traffic_bytes" are charged to "analyze/segments" too;
//  - the stop check (finish(): SIGUSR1/SIGTERM -> every rank throws ecom::Interrupted, exit 75);
//  - the checkpoint memo (memo(): the stage's result from the checkpoint if it has it, else
//    computed and saved).
#include <string>
#include <utility>
#include <vector>

#include "ecom/core/context.hpp"
#include "ecom/par/stats.hpp"
#include "ecom/pipeline/checkpoint.hpp"

namespace ecom::pipeline {

class Stage {
 public:
  // Timing::callee: the command this stage runs times itself under the same name (run_ingest's
  // "ingest", run_profile's "profile"), so the stage opens no timer of its own.
  enum class Timing { own, callee };

  // Starts the stage (local: no communication). `checkpoint`: where memo() keeps results (null:
  // none, as in `ecom analyze`).
  Stage(Context& ctx, const std::string& name, Checkpoint* checkpoint = nullptr,
        Timing timing = Timing::own);
  // Stops the timer if finish() did not. Traffic stays charged to this stage until the next
  // one starts.
  ~Stage();
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }  // "analyze/segments"

  // The stage's result: loaded from the checkpoint when it holds one (Checkpoint::load(T&)),
  // else compute() and saved there (Checkpoint::save(const T&)). Collective.
  template <class T, class Compute>
  T memo(Compute&& compute) {
    T value;
    if (checkpoint_ != nullptr && checkpoint_->load(value)) return value;
    value = std::forward<Compute>(compute)();
    if (checkpoint_ != nullptr) checkpoint_->save(value);
    return value;
  }

  // Collective: stops the timer, then ends the command with ecom::Interrupted (exit 75) on every
  // rank if any rank received SIGUSR1/SIGTERM (the checkpoint holds what finished).
  void finish();

 private:
  void stop_timer();

  Context& ctx_;
  Checkpoint* checkpoint_;
  std::string name_, path_;
  std::size_t timer_ = 0;
  bool timing_ = false;
};

// Collective: if any rank received SIGUSR1/SIGTERM, every rank throws ecom::Interrupted
// "stopped by a signal after step '<step>'" (with "; continue with --resume" when resumable).
void stop_if_requested(Context& ctx, const std::string& step, bool resumable);

// The two places that know where traffic is counted (today par::Comm's counters): the stage
// charged from now on (also a test hook point), and the per-stage totals over ranks for run.json
// (collective).
void charge_traffic_to(Context& ctx, const std::string& stage);
std::vector<par::TrafficStat> traffic_by_stage(Context& ctx);

}  // namespace ecom::pipeline
