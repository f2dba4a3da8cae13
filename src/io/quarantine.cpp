#include "ecom/io/quarantine.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "ecom/core/uint128.hpp"
#include "ecom/par/file.hpp"

namespace ecom::io {

void Quarantine::add(std::uint32_t file, std::uint64_t line, Reason reason, std::string_view row) {
  entries_.push_back(
      Entry{file, reason, line, rows_.size(), static_cast<std::uint32_t>(row.size())});
  rows_.append(row);
}

std::string default_quarantine_path(const std::string& store_path) {
  const std::string_view ext = ".h5";
  if (store_path.size() > ext.size() &&
      std::string_view(store_path).substr(store_path.size() - ext.size()) == ext)
    return store_path.substr(0, store_path.size() - ext.size()) + ".quarantine.csv";
  return store_path + ".quarantine.csv";
}

namespace {
template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
template <class T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
}  // namespace

void Quarantine::write(par::Comm& comm, const std::string& path,
                       std::span<const std::string> file_names,
                       std::span<const std::uint64_t> first_line, std::string_view prefix,
                       std::size_t budget_bytes) const {
  const std::size_t files = file_names.size();
  const auto p = static_cast<std::size_t>(comm.size());

  // Local order: (file, line).
  std::vector<std::size_t> order(entries_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const Entry& x = entries_[a];
    const Entry& y = entries_[b];
    return x.file != y.file ? x.file < y.file : x.line < y.line;
  });

  // Each reject's key: its place among all lines of all files (files in order, then global line
  // numbers: a plain file's lines are read by ranks in rank order, a gzip file's carry their
  // number in the whole file). Rank d writes the rejects whose keys fall in the d-th of P equal
  // ranges of the key space, sorted by key: the output is the same for any number of ranks.
  std::vector<std::uint64_t> last(files, 0);  // highest line number of a reject, per file
  for (const Entry& e : entries_)
    last[e.file] = std::max(last[e.file], first_line[e.file] + e.line);
  comm.allreduce_max(std::span<std::uint64_t>(last));
  std::vector<std::uint64_t> key_base(files, 0);
  std::uint64_t keys = 0;
  for (std::size_t f = 0; f < files; ++f) {
    key_base[f] = keys;
    keys += last[f] + 1;
  }
  const std::uint64_t total = comm.allreduce_sum<std::uint64_t>(entries_.size());

  std::string local;
  if (total > 0) {
    // Format and send each row to the rank that writes its part of the output (equal counts).
    std::string packed;
    std::vector<std::uint64_t> counts(p, 0);
    std::string line;
    for (std::size_t i : order) {
      const Entry& e = entries_[i];
      const std::uint64_t index = key_base[e.file] + first_line[e.file] + e.line;
      line.clear();
      append_csv_field(line, file_names[e.file]);
      line += ',';
      line += std::to_string(first_line[e.file] + e.line);
      line += ',';
      line += name_of(e.reason);
      line += ',';
      append_csv_field(line, std::string_view(rows_).substr(e.row_offset, e.row_bytes));
      line += '\n';
      const auto dest = static_cast<std::size_t>(static_cast<u128>(index) * p / keys);
      const std::size_t before = packed.size();
      put<std::uint64_t>(packed, index);
      put<std::uint64_t>(packed, line.size());
      packed += line;
      counts[dest] += packed.size() - before;
    }
    const std::vector<char> received = comm.exchange_grouped<char>(
        std::span<const char>(packed.data(), packed.size()), counts, budget_bytes);
    struct Piece {
      std::uint64_t index, offset, bytes;
    };
    std::vector<Piece> pieces;
    for (std::size_t pos = 0; pos < received.size();) {
      const auto index = get<std::uint64_t>(received.data() + pos);
      const auto bytes = get<std::uint64_t>(received.data() + pos + 8);
      pieces.push_back(Piece{index, pos + 16, bytes});
      pos += 16 + bytes;
    }
    std::sort(pieces.begin(), pieces.end(),
              [](const Piece& a, const Piece& b) { return a.index < b.index; });
    for (const Piece& pc : pieces) local.append(received.data() + pc.offset, pc.bytes);
  }
  par::write_ordered(comm, path, local, prefix, par::kRawDataMode);
}

}  // namespace ecom::io
