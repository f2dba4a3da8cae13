#include "ecom/core/signals.hpp"

#include <atomic>
#include <csignal>

namespace ecom {

namespace {
volatile std::sig_atomic_t g_stop = 0;  // the one piece of process state a signal may touch
extern "C" void on_stop_signal(int) { g_stop = 1; }
}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_signalled() { return g_stop != 0; }
void request_stop_for_testing() { g_stop = 1; }

}  // namespace ecom
