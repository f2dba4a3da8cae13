// One stage of a command (include/ecom/pipeline/stage.hpp).
#include "ecom/pipeline/stage.hpp"

#include "ecom/core/error.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::pipeline {

Stage::Stage(Context& ctx, const std::string& name, Checkpoint* checkpoint, Timing timing)
    : ctx_(ctx), checkpoint_(checkpoint), name_(name), path_(ctx.timers.nested_path(name)) {
  charge_traffic_to(ctx_, path_);  // first: it may throw (test hook), with no timer open yet
  if (timing == Timing::own) {
    timer_ = ctx_.timers.start(name_);
    timing_ = true;
  }
}

Stage::~Stage() {
  try {
    stop_timer();
  } catch (...) {  // a destructor never throws; the timers of an unwinding command do not matter
  }
}

void Stage::stop_timer() {
  if (timing_) ctx_.timers.stop(timer_);
  timing_ = false;
}

void Stage::finish() {
  stop_timer();
  stop_if_requested(ctx_, name_, checkpoint_ != nullptr);
}

void stop_if_requested(Context& ctx, const std::string& step, bool resumable) {
  if (par::stop_requested(ctx.comm)) {
    Interrupted e("stopped by a signal after step '" + step + "'" +
                  (resumable ? "; continue with --resume" : ""));
    e.set_collective(true);
    throw e;
  }
}

void charge_traffic_to(Context& ctx, const std::string& stage) { ctx.observer.set_stage(stage); }

std::vector<par::TrafficStat> traffic_by_stage(Context& ctx) {
  return par::reduce_traffic(ctx.comm, ctx.observer);
}

}  // namespace ecom::pipeline
