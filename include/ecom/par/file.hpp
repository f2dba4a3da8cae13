#pragma once
// File writing: ordered collective MPI-IO writes (CSV) at exscan offsets, small files written by
// one process, the permission bits of what ecom writes, and the one error for a failed write.
//
// Every file is written under `path + ".tmp"` and renamed over `path` when complete, so a killed
// or failed run never leaves a file that looks finished; a failed write removes the temporary
// file and leaves `path` as it was.
#include <cstdint>
#include <string>
#include <string_view>

#include "ecom/core/error.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::par {

// Permission bits, set exactly (whatever the umask). Raw-zone files (the quarantine: raw rows
// with raw user ids) are private to their owner; pseudonymised outputs (stores, ecom.h5,
// warehouse and profile CSVs, run.json, checkpoints) are readable by the group.
inline constexpr unsigned kRawDataMode = 0600;
inline constexpr unsigned kDefaultOutputMode = 0640;
// The mode of pseudonymised outputs: kDefaultOutputMode unless `--output-mode` changed it
// (set once at start-up, src/main.cpp).
unsigned output_mode();
void set_output_mode(unsigned mode);
// Parses an octal mode ("640", "0640"); throws UserError unless it is within 0..0777.
unsigned parse_mode(const std::string& text);

// This process alone: creates or truncates `path` with permission bits `mode`. Returns "" or
// the error ("cannot create PATH: <strerror>").
std::string create_with_mode(const std::string& path, unsigned mode);

// strerror(err) for the errors a write can end with (ENOSPC, EDQUOT, EFBIG, EIO, EROFS), ""
// for any other value.
std::string write_errno_text(int err);

// The error for a failed write of `path` (ExitCode::comm, not collective), one line:
// "cannot write PATH: CAUSE (DETAIL)". CAUSE is "No space left on device" when DETAIL does not
// already name the cause and the file system holding `path` has no free block left.
Error write_error(const std::string& path, const std::string& detail);

// This process alone: writes `text` to `path` (mode `mode`) under `path + ".tmp"`, renamed when
// complete. Any failure removes the temporary file and throws write_error.
void write_file(const std::string& path, std::string_view text, unsigned mode = output_mode());

// Collective. Writes the concatenation of every rank's `local` (in rank order) to `path`,
// creating or truncating it with permission bits `mode`. Each rank writes at its MPI_Exscan
// offset with MPI_File_write_at_all, in pieces below 2^31 bytes. Rank 0's `header` is written
// first (the other ranks' `header` is ignored: only rank 0 needs to hold it). The file is written
// under `path + ".tmp"` and renamed on success (by rank 0, after a barrier). A write error on a
// rank removes the temporary file and throws write_error there (not collectively: the other
// ranks may wait in a collective write, and the job ends through Environment::fail).
void write_ordered(Comm& comm, const std::string& path, std::string_view local,
                   std::string_view header = {}, unsigned mode = output_mode());

}  // namespace ecom::par
