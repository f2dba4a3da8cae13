#pragma once
// Helpers of the MPI tests that work with files: one scratch directory for all ranks, file text.
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <string>

#include "ecom/par/comm.hpp"

namespace ecom::test {

// A new directory under /tmp made by rank 0 (`prefix` + a unique suffix), its path on all ranks.
inline std::string shared_dir(par::Comm& comm, const std::string& prefix) {
  std::string dir;
  if (comm.rank() == 0) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    dir = mkdtemp(tmpl.data());
  }
  comm.bcast(dir, 0);
  return dir;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ecom::test
