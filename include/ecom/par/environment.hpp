#pragma once
// RAII MPI initialisation (MPI_Init_thread with MPI_THREAD_FUNNELED) and finalisation.
#include <string>

namespace ecom::par {

class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  // Ends every rank of the job with `code` (MPI_Abort on MPI_COMM_WORLD).
  [[noreturn]] static void abort(int code);
  // Ends the job after an error that this rank may have alone (the others may be waiting in a
  // collective it will never join): prints "ecom: rank R: <message>" on stderr and aborts with
  // `code`. When several ranks fail at once (a full disk fails every writer) only the lowest
  // prints: each failing rank tells the higher ranks, and a rank above 0 waits up to `grace_s`
  // for word from a lower one before printing its own line.
  [[noreturn]] static void fail(const std::string& message, int code, double grace_s = 3.0);
  static bool initialized();
};

// Ranks of this job on this node, as the launcher says (Open MPI, MPICH/Hydra, Slurm); 1 when it
// says nothing. Local: read from the environment, no communication (usable while parsing options).
int ranks_on_this_node();

}  // namespace ecom::par
