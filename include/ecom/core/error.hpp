#pragma once
// Typed errors and the documented process exit codes.
#include <stdexcept>
#include <string>

namespace ecom {

// Exit codes of `ecom` (documented in README.md, "Exit codes").
enum class ExitCode : int {
  ok = 0,
  internal = 1,     // a bug or an unexpected library failure
  usage = 2,        // bad option, value or config file (every CLI11 parse error), unusable key
  input = 3,        // unusable input: missing/unreadable file, wrong header, corrupt gzip
  comm = 4,         // MPI or HDF5 failure
  locked = 5,       // the event store is locked by another writer (io/store_lock.hpp)
  interrupted = 75  // stopped on SIGUSR1/SIGTERM after a checkpoint (EX_TEMPFAIL): requeue
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ExitCode code = ExitCode::internal)
      : std::runtime_error(what), code_(code) {}
  ExitCode code() const noexcept { return code_; }
  // True when every rank raised this same error (see par::agree): the driver then prints it
  // once on rank 0 and exits cleanly instead of calling MPI_Abort.
  bool collective() const noexcept { return collective_; }
  void set_collective(bool c) noexcept { collective_ = c; }

 private:
  ExitCode code_;
  bool collective_ = false;
};

// A mistake by the person running the program: one line, no stack of library text.
class UserError : public Error {
 public:
  explicit UserError(const std::string& what) : Error(what, ExitCode::usage) {}
};

// Input that cannot be used at all (the run stops); bad rows are quarantined instead.
class InputError : public Error {
 public:
  explicit InputError(const std::string& what) : Error(what, ExitCode::input) {}
};

class MpiError : public Error {
 public:
  explicit MpiError(const std::string& what) : Error(what, ExitCode::comm) {}
};

class Hdf5Error : public Error {
 public:
  explicit Hdf5Error(const std::string& what) : Error(what, ExitCode::comm) {}
};

// Thrown when a stop was requested (signal) and the current step was checkpointed.
class Interrupted : public Error {
 public:
  explicit Interrupted(const std::string& what) : Error(what, ExitCode::interrupted) {}
};

}  // namespace ecom
