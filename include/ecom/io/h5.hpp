#pragma once
// RAII wrappers over the HDF5 C API, used by every module that reads or writes HDF5 (the event
// store, ecom.h5). Every HDF5 call is checked and a failure becomes ecom::Hdf5Error carrying
// the function name, what we were doing, and HDF5's own error stack (innermost first). HDF5's
// automatic printing of error stacks to stderr is switched off.
//
// Parallel files use the MPI-IO driver (H5Pset_fapl_mpio). Metadata operations on a parallel
// file (creating groups, datasets and attributes, writing attributes, deleting links) are
// collective: every rank calls them in the same order with the same arguments. Raw data is
// written with independent transfers (H5FD_MPIO_INDEPENDENT) by default: each rank writes its
// own contiguous rows at an exscan offset (write_rows, write_rows_sliced, RowWriter) or rank 0
// writes data that every rank holds (write_replicated). The event store's columns use
// RowWriter's collective mode (H5FD_MPIO_COLLECTIVE, one transfer per column and block on every
// rank), which lets MPI-IO aggregate on parallel file systems; on this machine's local disk it
// costs 0.05 s per 10M events against independent writes. Dataset creation and closing stay
// collective. Reads are collective (H5FD_MPIO_COLLECTIVE), every rank joining
// every round. Large transfers are split into rounds of at most `max_round_bytes` per rank,
// so no MPI count reaches 2^31.
//
// Datasets are contiguous (no chunking, no compression; parallel HDF5 allocates their space
// when they are created): the simplest layout for parallel writes and the fastest to read back
// in slabs.
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/file.hpp"

namespace ecom::io::h5 {

// Switches off HDF5's automatic error printing (idempotent; called by every File constructor).
void silence_errors();
// HDF5's current error stack as text ("H5Dwrite: can't write data; ..."), and clears it.
std::string error_stack();
// Throws Hdf5Error("<fn>(<what>): <error stack>").
[[noreturn]] void fail(const char* fn, std::string_view what);
// Returns `id` or throws unless id >= 0.
hid_t check_id(hid_t id, const char* fn, std::string_view what = {});
// Throws unless rc >= 0.
void check(herr_t rc, const char* fn, std::string_view what = {});

// Default per-rank bytes per collective round of write_rows/read_rows.
inline constexpr std::size_t kMaxRoundBytes = std::size_t{256} << 20;

// One owned HDF5 identifier and the function that closes it. Move-only; the destructor never
// throws (a failing close there is ignored; call close() to see it).
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      closer_ = o.closer_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void close();  // checked
  // Gives the identifier up without closing it (it stays open until the library ends).
  hid_t release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  void reset() noexcept;
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Maps C++ arithmetic types to HDF5 native types.
template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, double>)
    return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, float>)
    return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, char>)
    return H5T_NATIVE_CHAR;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 1)
    return H5T_NATIVE_INT8;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 2)
    return H5T_NATIVE_INT16;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 4)
    return H5T_NATIVE_INT32;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 8)
    return H5T_NATIVE_INT64;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 1)
    return H5T_NATIVE_UINT8;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 2)
    return H5T_NATIVE_UINT16;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 4)
    return H5T_NATIVE_UINT32;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 8)
    return H5T_NATIVE_UINT64;
  else
    static_assert(sizeof(T) == 0, "no HDF5 native type for T");
}

class PropList : public Id {
 public:
  using Id::Id;
  // File access through MPI-IO on `comm` (collective opens and creates).
  static PropList file_access_mpio(const par::Comm& comm);
  // Dataset transfer: collective (H5FD_MPIO_COLLECTIVE) or independent MPI-IO.
  static PropList transfer(bool collective);
  // Link creation that also creates missing intermediate groups.
  static PropList link_create_intermediate();
};

class Dataspace : public Id {
 public:
  using Id::Id;
  static Dataspace simple(std::span<const hsize_t> dims);
  static Dataspace scalar();
  static Dataspace null();
  std::vector<hsize_t> dims() const;
  bool is_null() const;
  // Selects rows [first, first + count) of a 1-D or 2-D space (all columns).
  void select_rows(hsize_t first, hsize_t count);
  void select_none();
};

class Dataset : public Id {
 public:
  using Id::Id;
  Dataspace space() const;
  std::vector<hsize_t> dims() const;
  std::uint64_t rows() const;  // first dimension (1 for a scalar)
  std::uint64_t cols() const;  // product of the other dimensions (1 for 1-D)
  H5T_class_t type_class() const;
  std::size_t type_size() const;
  std::string name() const;
  class Attributes attrs() const;
};

class Group;

// Attributes on a group or dataset. On a parallel file, writing attributes is collective:
// every rank calls with identical values. An existing attribute of the same name is replaced.
class Attributes {
 public:
  explicit Attributes(hid_t object) : object_(object) {}
  bool has(const std::string& name) const;
  void remove(const std::string& name) const;
  std::vector<std::string> names() const;

  void set(const std::string& name, const std::string& value) const;  // variable-length string
  void set(const std::string& name, const char* value) const { set(name, std::string(value)); }
  void set(const std::string& name, const std::vector<std::string>& values) const;
  template <class T>
  requires std::is_arithmetic_v<T>
  void set(const std::string& name, T value) const {
    set_raw(name, native_type<T>(), &value, 1, true);
  }
  template <class T>
  requires std::is_arithmetic_v<T>
  void set(const std::string& name, const std::vector<T>& values) const {
    set_raw(name, native_type<T>(), values.data(), values.size(), false);
  }

  std::string get_string(const std::string& name) const;  // variable or fixed length
  std::vector<std::string> get_strings(const std::string& name) const;
  template <class T>
  requires std::is_arithmetic_v<T> T get(const std::string& name)
  const {
    T v{};
    get_raw(name, native_type<T>(), &v, 1, true);
    return v;
  }
  template <class T>
  requires std::is_arithmetic_v<T> std::vector<T> get_vector(const std::string& name)
  const {
    std::vector<T> v(count(name));
    get_raw(name, native_type<T>(), v.data(), v.size(), false);
    return v;
  }
  std::size_t count(const std::string& name) const;  // number of elements (0 for a null space)

 private:
  void set_raw(const std::string& name, hid_t type, const void* data, std::size_t n,
               bool scalar) const;
  void get_raw(const std::string& name, hid_t type, void* data, std::size_t n, bool scalar) const;
  hid_t object_;
};

inline Attributes Dataset::attrs() const { return Attributes(get()); }

// A group (a File's root is a Group too). Paths may be relative ("a/b") or absolute.
class Group : public Id {
 public:
  using Id::Id;
  // True if the link `path` exists (every intermediate component is checked).
  bool exists(const std::string& path) const;
  Group open_group(const std::string& path) const;
  Group create_group(const std::string& path) const;   // creates intermediate groups too
  Group require_group(const std::string& path) const;  // open or create
  Dataset open_dataset(const std::string& path) const;
  void remove(const std::string& path) const;  // unlinks (space is not reclaimed)
  std::vector<std::string> children() const;   // link names, in name order
  Attributes attrs() const { return Attributes(get()); }

  // Creates a dataset of `type` with `dims` (collective on a parallel file).
  Dataset create_dataset(const std::string& path, hid_t type, std::span<const hsize_t> dims) const;
};

class File {
 public:
  // Collective over `comm`: creates (truncating) or opens a file through MPI-IO. A created file
  // gets permission bits `mode` exactly (rank 0 creates it first), whatever the umask.
  static File create(par::Comm& comm, const std::string& path, unsigned mode = par::output_mode());
  static File open(const par::Comm& comm, const std::string& path, bool writable);
  // This process alone (default sec2 driver), e.g. rank 0 checking a file.
  static File open_serial(const std::string& path, bool writable);
  static File create_serial(const std::string& path);
  // True if `path` exists and has an HDF5 signature (this process alone, never throws).
  static bool is_hdf5(const std::string& path);

  File() = default;
  File(File&&) noexcept = default;
  File& operator=(File&& o) noexcept;  // closes this file's root before its file
  // Closes the file, except a parallel file while an exception unwinds: its close is
  // collective (metadata flush, barriers) and after an error on one rank the others may be
  // elsewhere (a hang), so it is left open to the end of the job (which that error brings:
  // see par::Environment::fail). A temporary file (set_temporary) not closed is removed.
  ~File();

  const Group& root() const { return root_; }
  const std::string& path() const { return path_; }
  bool parallel() const { return parallel_; }
  void flush() const;
  // Closes root and file, checked. Every other object of the file must be closed first. A
  // temporary file whose close fails is removed.
  void close();
  // Marks the file as a temporary one (`x.tmp` of an output `x`): removed by this process if
  // it is destroyed before close() succeeded, or if close() fails.
  void set_temporary() { temporary_ = true; }

 private:
  File(Id file, std::string path, bool parallel);
  void remove_if_temporary() const;
  Id file_;
  Group root_;  // declared after file_: destroyed first
  std::string path_;
  bool parallel_ = false;
  bool temporary_ = false;
};

// ---- raw-data helpers -----------------------------------------------------------------

namespace detail {
// Returns the global row offset of this rank's rows.
std::uint64_t write_rows_bytes(par::Comm& comm, const Group& loc, const std::string& name,
                               hid_t type, std::size_t elem_bytes, const void* local,
                               std::uint64_t local_rows, std::uint64_t cols, bool two_d,
                               std::size_t max_round_bytes);
// comm == nullptr: a serial file (this process writes everything).
void write_replicated_bytes(par::Comm* comm, const Group& loc, const std::string& name, hid_t type,
                            std::size_t elem_bytes, const void* values, std::uint64_t rows,
                            std::uint64_t cols, bool two_d);
void read_rows_bytes(par::Comm* comm, const Dataset& ds, hid_t type, std::size_t elem_bytes,
                     void* out, std::uint64_t first_row, std::uint64_t rows,
                     std::size_t max_round_bytes);
}  // namespace detail

// A rank's share of a 1-D dataset written by every rank: rows [offset, offset + local) of
// `total` (offset is the exscan of `local`).
struct RowSplit {
  std::uint64_t offset = 0;
  std::uint64_t local = 0;
  std::uint64_t total = 0;
  static RowSplit of(par::Comm& comm, std::uint64_t local_rows);  // collective
};

// A 1-D dataset that every rank fills with its own rows, in pieces: the constructor (creation)
// and close() are collective. Independent (default): write() is not collective (each rank any
// number of calls). Collective (H5FD_MPIO_COLLECTIVE, the event store's columns): every rank
// calls write() the same number of times, n == 0 where it has nothing for that call, and
// n * elem_bytes <= kMaxRoundBytes. Rows this rank never writes are left unwritten (no fill).
class RowWriter {
 public:
  RowWriter(const Group& loc, const std::string& name, hid_t type, std::size_t elem_bytes,
            const RowSplit& split, bool collective = false);
  // Writes rows [first, first + n) of this rank's share (first + n <= split.local).
  void write(std::uint64_t first, std::uint64_t n, const void* data);
  void close();  // collective
  const RowSplit& split() const { return split_; }

 private:
  Dataset ds_;
  Dataspace file_space_;
  PropList xfer_;
  hid_t type_;
  std::size_t elem_bytes_;
  RowSplit split_;
  bool collective_;
};

// RowWriter for an arithmetic T.
template <class T>
requires std::is_arithmetic_v<T>
class ColumnWriter : public RowWriter {
 public:
  ColumnWriter(const Group& loc, const std::string& name, const RowSplit& split,
               bool collective = false)
      : RowWriter(loc, name, native_type<T>(), sizeof(T), split, collective) {}
  void write(std::uint64_t first, std::span<const T> values) {
    RowWriter::write(first, values.size(), values.data());
  }
};

// Collective. Creates dataset `name` under `loc` with sum-over-ranks(local.size()/cols) rows
// (1-D when cols == 1 and !force_2d, else rows x cols) and writes this rank's rows, row-major,
// at the exscan offset of its row count. Returns the global row offset of this rank's rows.
template <class T>
requires std::is_arithmetic_v<T> std::uint64_t write_rows(
    par::Comm& comm, const Group& loc, const std::string& name, std::span<const T> local,
    std::size_t cols = 1, bool force_2d = false, std::size_t max_round_bytes = kMaxRoundBytes) {
  if (cols == 0) throw Error("h5::write_rows(" + name + "): cols == 0");
  if (local.size() % cols != 0) throw Error("h5::write_rows(" + name + "): size % cols != 0");
  return detail::write_rows_bytes(comm, loc, name, native_type<T>(), sizeof(T), local.data(),
                                  local.size() / cols, cols, cols > 1 || force_2d, max_round_bytes);
}

// Collective. Like write_rows for a 1-D dataset, but this rank's `local_rows` values are
// produced by value(i) (i in [0, local_rows)) one slice of at most `slice_bytes` at a time:
// memory is one slice, not a column. (The event store fills its nine columns in one pass over
// the events with ColumnWriter instead.)
template <class T, class Value>
requires std::is_arithmetic_v<T> std::uint64_t write_rows_sliced(
    par::Comm& comm, const Group& loc, const std::string& name, std::uint64_t local_rows,
    Value&& value, std::size_t slice_bytes = std::size_t{4} << 20) {
  const RowSplit split = RowSplit::of(comm, local_rows);
  ColumnWriter<T> out(loc, name, split);
  const std::uint64_t per_slice = std::max<std::uint64_t>(1, slice_bytes / sizeof(T));
  std::vector<T> slice(static_cast<std::size_t>(std::min(per_slice, local_rows)));
  for (std::uint64_t lo = 0; lo < local_rows; lo += per_slice) {
    const std::uint64_t n = std::min(per_slice, local_rows - lo);
    for (std::uint64_t i = 0; i < n; ++i) slice[i] = static_cast<T>(value(lo + i));
    out.write(lo, std::span<const T>(slice.data(), n));
  }
  out.close();
  return split.offset;
}

// Collective. Creates dataset `name` holding `values` (identical on every rank; rank 0 writes).
template <class T>
requires std::is_arithmetic_v<T>
void write_replicated(par::Comm& comm, const Group& loc, const std::string& name,
                      std::span<const T> values, std::size_t cols = 1, bool force_2d = false) {
  if (cols == 0 || values.size() % cols != 0)
    throw Error("h5::write_replicated(" + name + "): size is not a multiple of cols");
  detail::write_replicated_bytes(&comm, loc, name, native_type<T>(), sizeof(T), values.data(),
                                 values.size() / cols, cols, cols > 1 || force_2d);
}

// Collective. A 1-D dataset of fixed-length strings (NUL-padded, width = longest, at least 1).
void write_strings_replicated(par::Comm& comm, const Group& loc, const std::string& name,
                              const std::vector<std::string>& values);
void write_strings_serial(const Group& loc, const std::string& name,
                          const std::vector<std::string>& values);
// Serial counterparts for files opened with open_serial/create_serial.
template <class T>
requires std::is_arithmetic_v<T>
void write_serial(const Group& loc, const std::string& name, std::span<const T> values,
                  std::size_t cols = 1, bool force_2d = false) {
  if (cols == 0 || values.size() % cols != 0)
    throw Error("h5::write_serial(" + name + "): size is not a multiple of cols");
  detail::write_replicated_bytes(nullptr, loc, name, native_type<T>(), sizeof(T), values.data(),
                                 values.size() / cols, cols, cols > 1 || force_2d);
}

// Collective when `comm` is given (every rank joins, each with its own range, possibly empty):
// reads rows [first_row, first_row + rows) of `ds` (all columns), row-major.
template <class T>
requires std::is_arithmetic_v<T> std::vector<T> read_rows(
    par::Comm& comm, const Dataset& ds, std::uint64_t first_row, std::uint64_t rows,
    std::size_t max_round_bytes = kMaxRoundBytes) {
  std::vector<T> out(rows * ds.cols());
  detail::read_rows_bytes(&comm, ds, native_type<T>(), sizeof(T), out.data(), first_row, rows,
                          max_round_bytes);
  return out;
}
// Independent: reads the whole dataset on this rank (for small tables).
template <class T>
requires std::is_arithmetic_v<T> std::vector<T> read_all(const Dataset& ds) {
  const auto rows = ds.rows();
  std::vector<T> out(rows * ds.cols());
  detail::read_rows_bytes(nullptr, ds, native_type<T>(), sizeof(T), out.data(), 0, rows,
                          kMaxRoundBytes);
  return out;
}
template <class T>
requires std::is_arithmetic_v<T> std::vector<T> read_all(const Group& loc,
                                                         const std::string& name) {
  return read_all<T>(loc.open_dataset(name));
}
// Independent: a 1-D dataset of fixed- or variable-length strings.
std::vector<std::string> read_strings(const Group& loc, const std::string& name);

// Safe in-place update of an existing file: rank 0 copies `path` to `path + ".tmp"` (mode
// `mode`), every rank opens the copy (parallel, writable) and `modify` changes it, then the copy
// is closed and renamed over `path` by rank 0. A run killed before the rename leaves `path`
// untouched. Collective. If `path` does not exist, `modify` gets a new empty file instead.
// A write error on a rank (HDF5, MPI-IO, the copy) removes the copy and throws
// par::write_error naming `path` on that rank (not collectively: the others may wait in a
// collective HDF5 call; the job ends through par::Environment::fail, exit 4); a collective
// error from `modify` removes the copy and is rethrown on every rank.
void update_file(par::Comm& comm, const std::string& path, const std::function<void(File&)>& modify,
                 unsigned mode = par::output_mode());
// The same for a new file: `fill` writes a fresh `path + ".tmp"` (mode `mode`), renamed over
// `path` when complete.
void write_file(par::Comm& comm, const std::string& path, const std::function<void(File&)>& fill,
                unsigned mode = par::output_mode());

}  // namespace ecom::io::h5
