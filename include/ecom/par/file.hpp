#pragma once
// MPI-IO helpers: ordered collective writes (CSV) at exscan offsets.
#include <cstdint>
#include <string>
#include <string_view>

#include "ecom/par/comm.hpp"

namespace ecom::par {

// Collective. Writes the concatenation of every rank's `local` (in rank order) to `path`,
// creating or truncating it. Each rank writes at its MPI_Exscan offset with
// MPI_File_write_at_all, in pieces below 2^31 bytes. Rank 0's `header` is written first (the
// other ranks' `header` is ignored: only rank 0 needs to hold it).
// The file is written under `path + ".tmp"` and renamed on success (by rank 0, after a barrier),
// so a killed run never leaves a file that looks finished.
void write_ordered(Comm& comm, const std::string& path, std::string_view local,
                   std::string_view header = {});

}  // namespace ecom::par
