#include "ecom/par/environment.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace ecom::par {

Environment::Environment(int& argc, char**& argv) {
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "ecom: MPI_Init_thread failed\n");
    std::exit(4);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

Environment::~Environment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void Environment::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

void Environment::fail(const std::string& message, int code, double grace_s) {
  constexpr int kFailTag = 32000;  // point-to-point on MPI_COMM_WORLD: never matches a collective
  static const int token = 0;
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<MPI_Request> told(static_cast<std::size_t>(std::max(0, size - rank - 1)));
  for (int r = rank + 1; r < size; ++r)
    MPI_Isend(&token, 1, MPI_INT, r, kFailTag, MPI_COMM_WORLD,
              &told[static_cast<std::size_t>(r - rank - 1)]);
  // Only lower ranks send to this one: any message means a lower rank failed and prints.
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
  bool lower_failed = false;
  while (rank > 0 && !lower_failed && std::chrono::steady_clock::now() < until) {
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, kFailTag, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    lower_failed = flag != 0;
    if (!lower_failed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!lower_failed) {
    std::fprintf(stderr, "ecom: rank %d: %s\n", rank, message.c_str());
    std::fflush(stderr);
  } else {
    // The lower rank prints and aborts: give it the time to do so before aborting here.
    std::this_thread::sleep_for(std::chrono::duration<double>(grace_s));
  }
  abort(code);
}

bool Environment::initialized() {
  int flag = 0;
  MPI_Initialized(&flag);
  return flag != 0;
}

int ranks_on_this_node() {
  for (const char* name :
       {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char* v = std::getenv(name)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  return 1;
}

}  // namespace ecom::par
