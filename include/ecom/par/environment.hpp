#pragma once
// RAII MPI initialisation (MPI_Init_thread with MPI_THREAD_FUNNELED) and finalisation.
namespace ecom::par {

class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  // Ends every rank of the job with `code` (MPI_Abort on MPI_COMM_WORLD).
  [[noreturn]] static void abort(int code);
  static bool initialized();
};

}  // namespace ecom::par
