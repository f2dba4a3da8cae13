#pragma once
// What a communicator reports while it works, kept outside it: bytes moved per stage (for run.json
// and the scaling tables) and the test hooks that fire at stage boundaries. A Context owns one
// TrafficObserver and attaches it to its communicator (Comm::attach); a Comm without an observer
// counts nothing. Header without MPI: core/context.hpp includes it.
#include <cstdint>
#include <map>
#include <string>

namespace ecom::par {

class Comm;

// Bytes moved by this rank in one stage (for scaling tables and the model in docs/SCALING.md).
struct Traffic {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
};

class TrafficObserver {
 public:
  explicit TrafficObserver(int rank = 0) : rank_(rank) {}

  // Names the stage that later traffic is charged to, and passes test_throw_point(rank, stage).
  void set_stage(const std::string& stage);
  const std::string& stage() const { return stage_; }
  // Names the stage without the test hook (a stage that resumes, see StageScope).
  void restore_stage(const std::string& stage) { stage_ = stage; }
  // The counters: bytes this rank sent and received, per stage name. Read them here.
  const std::map<std::string, Traffic>& traffic() const { return traffic_; }
  // Called by Comm after each transfer.
  void count(std::uint64_t sent, std::uint64_t received) {
    auto& t = traffic_[stage_];
    t.sent += sent;
    t.received += received;
  }

 private:
  int rank_ = 0;
  std::string stage_ = "other";
  std::map<std::string, Traffic> traffic_;
};

// Charges a comm's traffic to `stage` while in scope (nothing when the comm has no observer).
class StageScope {
 public:
  StageScope(TrafficObserver* observer, const std::string& stage);
  ~StageScope();
  StageScope(const StageScope&) = delete;
  StageScope& operator=(const StageScope&) = delete;

 private:
  TrafficObserver* observer_;
  std::string saved_;
};

// Collective: true on every rank if any rank received SIGUSR1/SIGTERM (core/signals.hpp).
// Test hook: with ECOM_TEST_STOP_PAUSE=S in the environment each call first sleeps S seconds.
bool stop_requested(Comm& comm);

// Test hook for the failure discipline (tests/e2e/test_rank_failure.sh): with
// ECOM_TEST_THROW_ON_RANK=R[:POINT] in the environment, rank R throws a non-collective
// ecom::Error (exit code internal) when it reaches POINT: "start" (the default: the command's
// start, src/main.cpp) or a stage name passed to TrafficObserver::set_stage (e.g.
// "analyze/kmeans"). Without the variable this does nothing.
void test_throw_point(int rank, const std::string& point);

}  // namespace ecom::par
