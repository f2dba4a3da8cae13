#include "ecom/par/observer.hpp"

#include <chrono>
#include <cstdlib>
#include <thread>
#include <utility>

#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/signals.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::par {

void TrafficObserver::set_stage(const std::string& stage) {
  stage_ = stage;
  test_throw_point(rank_, stage);
}

StageScope::StageScope(TrafficObserver* observer, const std::string& stage)
    : observer_(observer), saved_(observer != nullptr ? observer->stage() : std::string()) {
  if (observer_ != nullptr) observer_->set_stage(stage);
}

StageScope::~StageScope() {
  // Only the name: the test hook fires when a stage begins, not when it ends.
  if (observer_ != nullptr) observer_->restore_stage(saved_);
}

namespace {
// Test hook: ECOM_TEST_STOP_PAUSE=S makes every rank sleep S seconds at each stop point, so that
// the checkpoint tests can signal a run in a known step however fast the machine is.
double stop_pause_seconds() {
  const char* env = std::getenv("ECOM_TEST_STOP_PAUSE");
  if (env == nullptr) return 0;
  char* end = nullptr;
  const double s = std::strtod(env, &end);
  return end != env && s > 0 && s < 60 ? s : 0;
}
}  // namespace

bool stop_requested(Comm& comm) {
  static const double pause = stop_pause_seconds();
  if (pause > 0) std::this_thread::sleep_for(std::chrono::duration<double>(pause));
  return !comm.all_ok(!stop_signalled());
}

void test_throw_point(int rank, const std::string& point) {
  // ECOM_TEST_THROW_ON_RANK=R[:POINT], read once; a malformed value is ignored (no rank -1).
  static const std::pair<int, std::string> target = [] {
    const char* env = std::getenv("ECOM_TEST_THROW_ON_RANK");
    if (env == nullptr) return std::pair<int, std::string>(-1, "");
    const std::string v(env);
    const auto colon = v.find(':');
    char* end = nullptr;
    const long r = std::strtol(v.c_str(), &end, 10);
    if (end == v.c_str() || r < 0 || (colon != std::string::npos && end != v.c_str() + colon) ||
        (colon == std::string::npos && *end != '\0'))
      return std::pair<int, std::string>(-1, "");
    return std::pair<int, std::string>(static_cast<int>(r),
                                       colon == std::string::npos ? "start" : v.substr(colon + 1));
  }();
  if (rank == target.first && point == target.second)
    throw Error("test hook ECOM_TEST_THROW_ON_RANK: rank " + std::to_string(rank) +
                " fails alone at '" + point + "'");
}

}  // namespace ecom::par

namespace ecom {

Context::Context(par::Comm& c, Logger l, Timers t, bool p, std::string config, std::string cmd)
    : comm(c),
      log(std::move(l)),
      timers(std::move(t)),
      progress(p),
      config_text(std::move(config)),
      command_line(std::move(cmd)),
      observer(c.rank()),
      outer_(c.observer()) {
  comm.attach(&observer);
}

Context::~Context() {
  if (comm.observer() == &observer) comm.attach(outer_);
}

}  // namespace ecom
