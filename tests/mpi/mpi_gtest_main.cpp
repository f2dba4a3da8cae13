// GoogleTest main for MPI tests: initialises MPI, lets only rank 0 print the usual report,
// prints failures of other ranks prefixed with their rank, and makes the exit code reflect a
// failure on ANY rank (so ctest sees it whichever rank failed).
#include <gtest/gtest.h>

#include <cstdio>

#include "ecom/par/comm.hpp"
#include "ecom/par/environment.hpp"

namespace {
class RankFailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_,
                   r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
  }

 private:
  int rank_;
};
}  // namespace

int main(int argc, char** argv) {
  ecom::par::Environment env(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  auto comm = ecom::par::Comm::world();
  if (comm.rank() != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(comm.rank()));
  }
  const int local = RUN_ALL_TESTS();
  const int any = comm.allreduce_max(local);
  if (comm.rank() == 0 && any != 0 && local == 0)
    std::fprintf(stderr, "FAILED on another rank (see [rank N] lines above)\n");
  return any;
}
