#pragma once
// What every command receives: communicator, logger, timers, run-wide settings. No globals.
#include <string>

#include "ecom/core/log.hpp"
#include "ecom/core/timer.hpp"

namespace ecom::par {
class Comm;
}

namespace ecom {

struct Context {
  par::Comm& comm;
  Logger log;
  Timers timers;
  bool progress = true;     // progress lines on rank 0
  std::string config_text;  // the effective configuration (stored in outputs)
  std::string command_line;
};

}  // namespace ecom
