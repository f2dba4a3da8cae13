#pragma once
// The quarantine: rejected input rows with their file, line and reason, written as one CSV
// `file,line,reason,row` in (file, line) order whatever the number of ranks.
//
// The quarantine is RAW-ZONE data: `row` is the input row byte for byte, raw user ids
// included. It must be kept with the same access rules as the raw input files (never with the
// cleansed event store or the analysis outputs).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecom/io/csv.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::io {

inline constexpr std::string_view kQuarantineHeader = "file,line,reason,row\n";

class Quarantine {
 public:
  // Records a reject: `file` indexes the run's input list, `line` is the 0-based index of the
  // line among the lines this rank read of that file (made global by write()).
  void add(std::uint32_t file, std::uint64_t line, Reason reason, std::string_view row);
  std::size_t size() const { return entries_.size(); }

  // Collective. Writes the quarantine to `path` (under a temporary name, renamed at the end):
  // rank 0's `prefix` first (the header, or a previous quarantine to keep, header included;
  // the other ranks' `prefix` is ignored), then every rank's rejects in (file, line) order.
  // `first_line[f]` + line is the 1-based line number in file f of a reject recorded with `line`
  // (for a file whose lines are numbered in the whole file, as the ingest's gzip files, it is 1).
  // Rows are redistributed with the chunked all-to-all (`budget_bytes` per round) so that the
  // output is the same for any number of ranks.
  void write(par::Comm& comm, const std::string& path, std::span<const std::string> file_names,
             std::span<const std::uint64_t> first_line, std::string_view prefix,
             std::size_t budget_bytes) const;

 private:
  struct Entry {
    std::uint32_t file;
    Reason reason;
    std::uint64_t line;
    std::uint64_t row_offset;
    std::uint32_t row_bytes;
  };
  std::vector<Entry> entries_;
  std::string rows_;  // the raw rows, concatenated
};

// The quarantine path for a store: "X.h5" -> "X.quarantine.csv", otherwise path +
// ".quarantine.csv".
std::string default_quarantine_path(const std::string& store_path);

}  // namespace ecom::io
