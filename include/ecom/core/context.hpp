#pragma once
// What every command receives: communicator, logger, timers, run-wide settings. No globals.
#include <string>

#include "ecom/core/log.hpp"
#include "ecom/core/timer.hpp"
#include "ecom/par/observer.hpp"

namespace ecom::par {
class Comm;
}

namespace ecom {

struct Context {
  // Attaches `observer` to `comm` (and, on destruction, gives the comm back the observer it had
  // before, so a nested Context such as score's quiet ingest leaves the outer one counting): the
  // comm's traffic is counted there. Defined in src/par/observer.cpp (it needs Comm).
  Context(par::Comm& comm, Logger log, Timers timers = {}, bool progress = true,
          std::string config_text = "", std::string command_line = "");
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  par::Comm& comm;
  Logger log;
  Timers timers;
  bool progress = true;     // progress lines on rank 0
  std::string config_text;  // the effective configuration (stored in outputs)
  std::string command_line;
  // Traffic per stage and the stage-boundary test hooks: observer.set_stage(name) names the
  // stage, observer.traffic() reads the counters.
  par::TrafficObserver observer;

 private:
  par::TrafficObserver* outer_ = nullptr;  // the comm's observer before this Context
};

}  // namespace ecom
