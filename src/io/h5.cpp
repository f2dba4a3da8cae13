#include "ecom/io/h5.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>

namespace ecom::io::h5 {

// ---- errors ---------------------------------------------------------------------------

void silence_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

namespace {
herr_t collect_error(unsigned n, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (n >= 6) return 0;  // the innermost few are the informative ones
  if (!out->empty()) out->append("; ");
  out->append(err->func_name ? err->func_name : "?");
  out->append(": ");
  out->append(err->desc ? err->desc : "");
  char minor[160] = {0};
  if (H5Eget_msg(err->min_num, nullptr, minor, sizeof(minor)) > 0) {
    out->append(" (");
    out->append(minor);
    out->append(")");
  }
  return 0;
}
}  // namespace

std::string error_stack() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "no HDF5 error stack" : text;
}

void fail(const char* fn, std::string_view what) {
  // A failed write's errno (e.g. ENOSPC from MPI-IO) names the cause better than the stack.
  const std::string cause = par::write_errno_text(errno);
  std::string msg = fn;
  msg += "(";
  msg += what;
  msg += "): ";
  if (!cause.empty()) msg += cause + "; ";
  msg += error_stack();
  throw Hdf5Error(msg);
}

hid_t check_id(hid_t id, const char* fn, std::string_view what) {
  if (id < 0) fail(fn, what);
  return id;
}

void check(herr_t rc, const char* fn, std::string_view what) {
  if (rc < 0) fail(fn, what);
}

// ---- Id -------------------------------------------------------------------------------

void Id::reset() noexcept {
  if (id_ >= 0 && closer_) {
    if (closer_(id_) < 0) H5Eclear2(H5E_DEFAULT);
  }
  id_ = H5I_INVALID_HID;
}

void Id::close() {
  if (id_ < 0) return;
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  if (closer_) check(closer_(id), "H5close", "handle");
}

namespace {
Id make_type(hid_t id) { return Id(id, H5Tclose); }

// A variable-length UTF-8 string type.
Id vl_string_type() {
  Id t = make_type(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check(H5Tset_size(t.get(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}
// A fixed-length NUL-padded string type of `width` bytes.
Id fixed_string_type(std::size_t width) {
  Id t = make_type(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check(H5Tset_size(t.get(), std::max<std::size_t>(width, 1)), "H5Tset_size");
  check(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "H5Tset_strpad");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}
std::string trim_nul(const char* p, std::size_t width) {
  std::size_t n = 0;
  while (n < width && p[n] != '\0') ++n;
  return std::string(p, n);
}
}  // namespace

// ---- property lists -------------------------------------------------------------------

PropList PropList::file_access_mpio(const par::Comm& comm) {
  PropList p(check_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", "file access"), H5Pclose);
  check(H5Pset_fapl_mpio(p.get(), comm.native(), MPI_INFO_NULL), "H5Pset_fapl_mpio");
  // Metadata written collectively at flush (fewer, larger writes); metadata reads stay
  // independent so one rank may read attributes alone.
  check(H5Pset_coll_metadata_write(p.get(), true), "H5Pset_coll_metadata_write");
  return p;
}

PropList PropList::transfer(bool collective) {
  PropList p(check_id(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate", "transfer"), H5Pclose);
  check(H5Pset_dxpl_mpio(p.get(), collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT),
        "H5Pset_dxpl_mpio");
  return p;
}

PropList PropList::link_create_intermediate() {
  PropList p(check_id(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate", "link create"), H5Pclose);
  check(H5Pset_create_intermediate_group(p.get(), 1), "H5Pset_create_intermediate_group");
  return p;
}

// ---- dataspaces -----------------------------------------------------------------------

Dataspace Dataspace::simple(std::span<const hsize_t> dims) {
  return Dataspace(check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                            "H5Screate_simple"),
                   H5Sclose);
}
Dataspace Dataspace::scalar() {
  return Dataspace(check_id(H5Screate(H5S_SCALAR), "H5Screate", "scalar"), H5Sclose);
}
Dataspace Dataspace::null() {
  return Dataspace(check_id(H5Screate(H5S_NULL), "H5Screate", "null"), H5Sclose);
}

std::vector<hsize_t> Dataspace::dims() const {
  const int rank = H5Sget_simple_extent_ndims(get());
  if (rank < 0) fail("H5Sget_simple_extent_ndims", "");
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  if (rank > 0)
    check(H5Sget_simple_extent_dims(get(), d.data(), nullptr), "H5Sget_simple_extent_dims");
  return d;
}

bool Dataspace::is_null() const {
  const H5S_class_t c = H5Sget_simple_extent_type(get());
  if (c == H5S_NO_CLASS) fail("H5Sget_simple_extent_type", "");
  return c == H5S_NULL;
}

void Dataspace::select_rows(hsize_t first, hsize_t count) {
  const auto d = dims();
  if (d.empty()) throw Hdf5Error("select_rows on a scalar dataspace");
  std::vector<hsize_t> start(d.size(), 0), cnt = d;
  start[0] = first;
  cnt[0] = count;
  check(H5Sselect_hyperslab(get(), H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr),
        "H5Sselect_hyperslab");
}

void Dataspace::select_none() { check(H5Sselect_none(get()), "H5Sselect_none"); }

// ---- datasets -------------------------------------------------------------------------

Dataspace Dataset::space() const {
  return Dataspace(check_id(H5Dget_space(get()), "H5Dget_space", name()), H5Sclose);
}
std::vector<hsize_t> Dataset::dims() const { return space().dims(); }
std::uint64_t Dataset::rows() const {
  const auto d = dims();
  return d.empty() ? 1 : d[0];
}
std::uint64_t Dataset::cols() const {
  const auto d = dims();
  std::uint64_t c = 1;
  for (std::size_t i = 1; i < d.size(); ++i) c *= d[i];
  return c;
}
H5T_class_t Dataset::type_class() const {
  Id t = make_type(check_id(H5Dget_type(get()), "H5Dget_type", name()));
  return H5Tget_class(t.get());
}
std::size_t Dataset::type_size() const {
  Id t = make_type(check_id(H5Dget_type(get()), "H5Dget_type", name()));
  return H5Tget_size(t.get());
}
std::string Dataset::name() const {
  const ssize_t n = H5Iget_name(get(), nullptr, 0);
  if (n <= 0) return "?";
  std::string s(static_cast<std::size_t>(n) + 1, '\0');
  H5Iget_name(get(), s.data(), s.size());
  s.resize(static_cast<std::size_t>(n));
  return s;
}

// ---- attributes -----------------------------------------------------------------------

namespace {
Id open_attr(hid_t object, const std::string& name) {
  return Id(check_id(H5Aopen(object, name.c_str(), H5P_DEFAULT), "H5Aopen", name), H5Aclose);
}
std::size_t attr_points(hid_t attr, const std::string& name) {
  Dataspace s(check_id(H5Aget_space(attr), "H5Aget_space", name), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(s.get());
  if (n < 0) fail("H5Sget_simple_extent_npoints", name);
  return static_cast<std::size_t>(n);
}
herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

bool Attributes::has(const std::string& name) const {
  const htri_t e = H5Aexists(object_, name.c_str());
  if (e < 0) fail("H5Aexists", name);
  return e > 0;
}

void Attributes::remove(const std::string& name) const {
  check(H5Adelete(object_, name.c_str()), "H5Adelete", name);
}

std::vector<std::string> Attributes::names() const {
  std::vector<std::string> out;
  hsize_t idx = 0;
  check(H5Aiterate2(object_, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr_name, &out),
        "H5Aiterate2");
  return out;
}

std::size_t Attributes::count(const std::string& name) const {
  Id a = open_attr(object_, name);
  return attr_points(a.get(), name);
}

void Attributes::set_raw(const std::string& name, hid_t type, const void* data, std::size_t n,
                         bool scalar) const {
  if (has(name)) remove(name);
  const hsize_t dim = n;
  Dataspace space =
      scalar ? Dataspace::scalar() : (n == 0 ? Dataspace::null() : Dataspace::simple({&dim, 1}));
  Id a(check_id(H5Acreate2(object_, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                "H5Acreate2", name),
       H5Aclose);
  if (scalar || n > 0) check(H5Awrite(a.get(), type, data), "H5Awrite", name);
  a.close();
}

void Attributes::get_raw(const std::string& name, hid_t type, void* data, std::size_t n,
                         bool scalar) const {
  Id a = open_attr(object_, name);
  const std::size_t have = attr_points(a.get(), name);
  if (have != n || (scalar && n != 1))
    throw Hdf5Error("attribute " + name + ": expected " + std::to_string(n) + " values, found " +
                    std::to_string(have));
  if (n > 0) check(H5Aread(a.get(), type, data), "H5Aread", name);
}

void Attributes::set(const std::string& name, const std::string& value) const {
  if (has(name)) remove(name);
  Id t = vl_string_type();
  Dataspace space = Dataspace::scalar();
  Id a(check_id(H5Acreate2(object_, name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                "H5Acreate2", name),
       H5Aclose);
  const char* p = value.c_str();
  check(H5Awrite(a.get(), t.get(), &p), "H5Awrite", name);
  a.close();
}

void Attributes::set(const std::string& name, const std::vector<std::string>& values) const {
  if (has(name)) remove(name);
  Id t = vl_string_type();
  const hsize_t dim = values.size();
  Dataspace space = values.empty() ? Dataspace::null() : Dataspace::simple({&dim, 1});
  Id a(check_id(H5Acreate2(object_, name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                "H5Acreate2", name),
       H5Aclose);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (!values.empty()) check(H5Awrite(a.get(), t.get(), ptrs.data()), "H5Awrite", name);
  a.close();
}

std::vector<std::string> Attributes::get_strings(const std::string& name) const {
  Id a = open_attr(object_, name);
  const std::size_t n = attr_points(a.get(), name);
  std::vector<std::string> out;
  if (n == 0) return out;
  Id ft = make_type(check_id(H5Aget_type(a.get()), "H5Aget_type", name));
  if (H5Tget_class(ft.get()) != H5T_STRING)
    throw Hdf5Error("attribute " + name + " is not a string");
  const htri_t vl = H5Tis_variable_str(ft.get());
  if (vl < 0) fail("H5Tis_variable_str", name);
  if (vl > 0) {
    Id t = vl_string_type();
    std::vector<char*> ptrs(n, nullptr);
    check(H5Aread(a.get(), t.get(), ptrs.data()), "H5Aread", name);
    for (char* p : ptrs) {
      out.emplace_back(p ? p : "");
      if (p) H5free_memory(p);
    }
  } else {
    const std::size_t width = H5Tget_size(ft.get());
    Id t = fixed_string_type(width);
    std::vector<char> buf(n * width);
    check(H5Aread(a.get(), t.get(), buf.data()), "H5Aread", name);
    for (std::size_t i = 0; i < n; ++i) out.push_back(trim_nul(buf.data() + i * width, width));
  }
  return out;
}

std::string Attributes::get_string(const std::string& name) const {
  auto v = get_strings(name);
  if (v.size() != 1)
    throw Hdf5Error("attribute " + name + ": expected one string, found " +
                    std::to_string(v.size()));
  return v[0];
}

// ---- groups ---------------------------------------------------------------------------

bool Group::exists(const std::string& path) const {
  if (path.empty() || path == "/" || path == ".") return true;
  std::size_t pos = path[0] == '/' ? 1 : 0;
  while (true) {
    const std::size_t slash = path.find('/', pos);
    const std::string prefix = path.substr(0, slash);
    if (!prefix.empty() && prefix != "/") {
      const htri_t e = H5Lexists(get(), prefix.c_str(), H5P_DEFAULT);
      if (e < 0) {  // e.g. an intermediate component is not a group
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
      if (e == 0) return false;
    }
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

Group Group::open_group(const std::string& path) const {
  return Group(check_id(H5Gopen2(get(), path.c_str(), H5P_DEFAULT), "H5Gopen2", path), H5Gclose);
}

Group Group::create_group(const std::string& path) const {
  auto lcpl = PropList::link_create_intermediate();
  return Group(check_id(H5Gcreate2(get(), path.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                        "H5Gcreate2", path),
               H5Gclose);
}

Group Group::require_group(const std::string& path) const {
  return exists(path) ? open_group(path) : create_group(path);
}

Dataset Group::open_dataset(const std::string& path) const {
  return Dataset(check_id(H5Dopen2(get(), path.c_str(), H5P_DEFAULT), "H5Dopen2", path), H5Dclose);
}

void Group::remove(const std::string& path) const {
  check(H5Ldelete(get(), path.c_str(), H5P_DEFAULT), "H5Ldelete", path);
}

namespace {
herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> Group::children() const {
  std::vector<std::string> out;
  hsize_t idx = 0;
  check(H5Literate(get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &out), "H5Literate");
  return out;
}

Dataset Group::create_dataset(const std::string& path, hid_t type,
                              std::span<const hsize_t> dims) const {
  auto lcpl = PropList::link_create_intermediate();
  PropList dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", "dataset create"), H5Pclose);
  // Every element is written by us: skip HDF5's fill pass over the whole dataset.
  check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
  Dataspace space = Dataspace::simple(dims);
  return Dataset(check_id(H5Dcreate2(get(), path.c_str(), type, space.get(), lcpl.get(), dcpl.get(),
                                     H5P_DEFAULT),
                          "H5Dcreate2", path),
                 H5Dclose);
}

// ---- files ----------------------------------------------------------------------------

File::File(Id file, std::string path, bool parallel)
    : file_(std::move(file)), path_(std::move(path)), parallel_(parallel) {
  root_ =
      Group(check_id(H5Gopen2(file_.get(), "/", H5P_DEFAULT), "H5Gopen2", path_ + ":/"), H5Gclose);
}

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    root_ = Group();  // objects before their file
    file_ = std::move(o.file_);
    root_ = std::move(o.root_);
    path_ = std::move(o.path_);
    parallel_ = o.parallel_;
    temporary_ = o.temporary_;
  }
  return *this;
}

File::~File() {
  if (!file_.valid()) return;  // closed, or moved from
  if (parallel_ && std::uncaught_exceptions() > 0) {
    root_.release();  // left open: see the header
    file_.release();
  }
  root_ = Group();  // objects before their file
  file_ = Id();
  remove_if_temporary();
}

void File::remove_if_temporary() const {
  std::error_code ec;
  if (temporary_) std::filesystem::remove(path_, ec);
}

File File::create(par::Comm& comm, const std::string& path, unsigned mode) {
  silence_errors();
  std::string error;
  if (comm.rank() == 0) error = par::create_with_mode(path, mode);
  par::agree(comm, error, ExitCode::comm);
  auto fapl = PropList::file_access_mpio(comm);
  Id f(check_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), "H5Fcreate", path),
       H5Fclose);
  return File(std::move(f), path, true);
}

File File::open(const par::Comm& comm, const std::string& path, bool writable) {
  silence_errors();
  auto fapl = PropList::file_access_mpio(comm);
  Id f(check_id(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.get()),
                "H5Fopen", path),
       H5Fclose);
  return File(std::move(f), path, true);
}

File File::open_serial(const std::string& path, bool writable) {
  silence_errors();
  Id f(check_id(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT),
                "H5Fopen", path),
       H5Fclose);
  return File(std::move(f), path, false);
}

File File::create_serial(const std::string& path) {
  silence_errors();
  Id f(
      check_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "H5Fcreate", path),
      H5Fclose);
  return File(std::move(f), path, false);
}

bool File::is_hdf5(const std::string& path) {
  silence_errors();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  const htri_t r = H5Fis_hdf5(path.c_str());
  if (r < 0) H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

void File::flush() const { check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), "H5Fflush", path_); }

void File::close() {
  try {
    root_.close();
    file_.close();
  } catch (const Error&) {
    remove_if_temporary();
    throw;
  }
  temporary_ = false;  // closed: its owner renames it
}

// ---- raw data -------------------------------------------------------------------------

namespace {
// H5Dwrite of `rows` rows (of `cols` values) at `offset` of `ds`, in rounds of at most
// max_round_bytes, with transfer property list `xfer`.
void write_in_rounds(const Dataset& ds, Dataspace& file_space, hid_t type, hid_t xfer,
                     std::size_t elem_bytes, const void* data, std::uint64_t offset,
                     std::uint64_t rows, std::uint64_t cols, bool two_d,
                     std::size_t max_round_bytes) {
  const std::uint64_t row_bytes = elem_bytes * cols;
  const std::uint64_t per_round = std::max<std::uint64_t>(1, max_round_bytes / row_bytes);
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::uint64_t lo = 0; lo < rows; lo += per_round) {
    const std::uint64_t n = std::min(per_round, rows - lo);
    file_space.select_rows(offset + lo, n);
    const hsize_t d2[2] = {n, cols};
    Dataspace mem_space = Dataspace::simple({d2, two_d ? 2u : 1u});
    check(H5Dwrite(ds.get(), type, mem_space.get(), file_space.get(), xfer, bytes + lo * row_bytes),
          "H5Dwrite", ds.name());
  }
}

// Writes `rows` rows at `offset` of `ds` in rounds of at most max_round_bytes. On a parallel
// file (comm != nullptr) the transfers are independent: only this rank's rows, no
// synchronisation (a rank without rows writes nothing).
void write_slab(par::Comm* comm, const Dataset& ds, hid_t type, std::size_t elem_bytes,
                const void* data, std::uint64_t offset, std::uint64_t rows, std::uint64_t cols,
                bool two_d, std::size_t max_round_bytes) {
  if (rows == 0) return;
  PropList xfer = comm ? PropList::transfer(false) : PropList(H5P_DEFAULT, nullptr);
  Dataspace file_space = ds.space();
  write_in_rounds(ds, file_space, type, xfer.get(), elem_bytes, data, offset, rows, cols, two_d,
                  max_round_bytes);
}

std::vector<hsize_t> shape(std::uint64_t rows, std::uint64_t cols, bool two_d) {
  if (two_d) return {rows, cols};
  return {rows};
}
}  // namespace

namespace detail {

std::uint64_t write_rows_bytes(par::Comm& comm, const Group& loc, const std::string& name,
                               hid_t type, std::size_t elem_bytes, const void* local,
                               std::uint64_t local_rows, std::uint64_t cols, bool two_d,
                               std::size_t max_round_bytes) {
  const std::uint64_t offset = comm.exscan_sum<std::uint64_t>(local_rows);
  const std::uint64_t total = comm.allreduce_sum<std::uint64_t>(local_rows);
  const auto dims = shape(total, cols, two_d);
  Dataset ds = loc.create_dataset(name, type, dims);
  if (total > 0)
    write_slab(&comm, ds, type, elem_bytes, local, offset, local_rows, cols, two_d,
               max_round_bytes);
  ds.close();
  return offset;
}

void write_replicated_bytes(par::Comm* comm, const Group& loc, const std::string& name, hid_t type,
                            std::size_t elem_bytes, const void* values, std::uint64_t rows,
                            std::uint64_t cols, bool two_d) {
  const auto dims = shape(rows, cols, two_d);
  Dataset ds = loc.create_dataset(name, type, dims);
  if (rows > 0) {
    const bool writer = comm == nullptr || comm->rank() == 0;
    write_slab(comm, ds, type, elem_bytes, values, 0, writer ? rows : 0, cols, two_d,
               kMaxRoundBytes);
  }
  ds.close();
}

void read_rows_bytes(par::Comm* comm, const Dataset& ds, hid_t type, std::size_t elem_bytes,
                     void* out, std::uint64_t first_row, std::uint64_t rows,
                     std::size_t max_round_bytes) {
  Dataspace file_space = ds.space();
  const auto dims = file_space.dims();
  if (dims.empty()) {  // scalar dataset
    if (comm) throw Hdf5Error("read_rows: collective read of scalar " + ds.name());
    if (rows > 0)
      check(H5Dread(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), "H5Dread", ds.name());
    return;
  }
  if (first_row + rows > dims[0])
    throw Hdf5Error("read_rows(" + ds.name() + "): rows [" + std::to_string(first_row) + ", " +
                    std::to_string(first_row + rows) + ") beyond " + std::to_string(dims[0]));
  std::uint64_t cols = 1;
  for (std::size_t i = 1; i < dims.size(); ++i) cols *= dims[i];
  const std::uint64_t row_bytes = std::max<std::uint64_t>(1, elem_bytes * cols);
  const std::uint64_t per_round = std::max<std::uint64_t>(1, max_round_bytes / row_bytes);
  const std::uint64_t mine = (rows + per_round - 1) / per_round;
  const std::uint64_t rounds = comm ? comm->allreduce_max(mine) : mine;
  PropList xfer = comm ? PropList::transfer(true) : PropList(H5P_DEFAULT, nullptr);
  auto* bytes = static_cast<unsigned char*>(out);
  unsigned char dummy = 0;
  for (std::uint64_t r = 0; r < rounds; ++r) {
    const std::uint64_t lo = std::min(rows, r * per_round);
    const std::uint64_t n = std::min(per_round, rows - lo);
    Dataspace mem_space;
    if (n > 0) {
      file_space.select_rows(first_row + lo, n);
      std::vector<hsize_t> md = dims;
      md[0] = n;
      mem_space = Dataspace::simple(md);
    } else {
      file_space.select_none();
      const hsize_t one = 1;
      mem_space = Dataspace::simple({&one, 1});
      mem_space.select_none();
    }
    void* p = n > 0 ? static_cast<void*>(bytes + lo * row_bytes) : &dummy;
    check(H5Dread(ds.get(), type, mem_space.get(), file_space.get(), xfer.get(), p), "H5Dread",
          ds.name());
  }
}

}  // namespace detail

// ---- independent row writes -----------------------------------------------------------

RowSplit RowSplit::of(par::Comm& comm, std::uint64_t local_rows) {
  RowSplit s;
  s.local = local_rows;
  s.offset = comm.exscan_sum<std::uint64_t>(local_rows);
  s.total = comm.allreduce_sum<std::uint64_t>(local_rows);
  return s;
}

RowWriter::RowWriter(const Group& loc, const std::string& name, hid_t type, std::size_t elem_bytes,
                     const RowSplit& split, bool collective)
    : type_(type), elem_bytes_(elem_bytes), split_(split), collective_(collective) {
  const hsize_t dim = split.total;
  ds_ = loc.create_dataset(name, type, {&dim, 1});
  file_space_ = ds_.space();
  xfer_ = PropList::transfer(collective);
}

void RowWriter::write(std::uint64_t first, std::uint64_t n, const void* data) {
  if (first > split_.local || n > split_.local - first)
    throw Hdf5Error("RowWriter(" + ds_.name() + "): rows [" + std::to_string(first) + ", " +
                    std::to_string(first + n) + ") beyond this rank's " +
                    std::to_string(split_.local));
  // Collective: exactly one H5Dwrite per call on every rank (one round), possibly of nothing.
  if (collective_ && n > std::max<std::uint64_t>(1, kMaxRoundBytes / elem_bytes_))
    throw Hdf5Error("RowWriter(" + ds_.name() + "): a collective write of " + std::to_string(n) +
                    " rows exceeds one round");
  if (collective_ && n == 0) {
    static const unsigned char dummy = 0;
    const hsize_t one = 1;
    Dataspace mem_space = Dataspace::simple({&one, 1});
    mem_space.select_none();
    file_space_.select_none();
    check(H5Dwrite(ds_.get(), type_, mem_space.get(), file_space_.get(), xfer_.get(), &dummy),
          "H5Dwrite", ds_.name());
    return;
  }
  write_in_rounds(ds_, file_space_, type_, xfer_.get(), elem_bytes_, data, split_.offset + first, n,
                  1, false, kMaxRoundBytes);
}

void RowWriter::close() {
  file_space_.close();
  xfer_.close();
  ds_.close();
}

namespace {
void write_strings(par::Comm* comm, const Group& loc, const std::string& name,
                   const std::vector<std::string>& values) {
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  std::vector<char> buf(values.size() * width, '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::memcpy(buf.data() + i * width, values[i].data(), values[i].size());
  Id t = fixed_string_type(width);
  detail::write_replicated_bytes(comm, loc, name, t.get(), width, buf.data(), values.size(), 1,
                                 false);
}
}  // namespace

void write_strings_replicated(par::Comm& comm, const Group& loc, const std::string& name,
                              const std::vector<std::string>& values) {
  write_strings(&comm, loc, name, values);
}

void write_strings_serial(const Group& loc, const std::string& name,
                          const std::vector<std::string>& values) {
  write_strings(nullptr, loc, name, values);
}

std::vector<std::string> read_strings(const Group& loc, const std::string& name) {
  Dataset ds = loc.open_dataset(name);
  Id ft = make_type(check_id(H5Dget_type(ds.get()), "H5Dget_type", name));
  if (H5Tget_class(ft.get()) != H5T_STRING) throw Hdf5Error("dataset " + name + " is not a string");
  const std::uint64_t n = ds.rows();
  std::vector<std::string> out;
  if (n == 0) return out;
  const htri_t vl = H5Tis_variable_str(ft.get());
  if (vl < 0) fail("H5Tis_variable_str", name);
  if (vl > 0) {
    Id t = vl_string_type();
    std::vector<char*> ptrs(n, nullptr);
    check(H5Dread(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "H5Dread", name);
    for (char* p : ptrs) {
      out.emplace_back(p ? p : "");
      if (p) H5free_memory(p);
    }
  } else {
    const std::size_t width = H5Tget_size(ft.get());
    Id t = fixed_string_type(width);
    std::vector<char> buf(n * width);
    detail::read_rows_bytes(nullptr, ds, t.get(), width, buf.data(), 0, n, kMaxRoundBytes);
    for (std::size_t i = 0; i < n; ++i) out.push_back(trim_nul(buf.data() + i * width, width));
  }
  return out;
}

// ---- safe update ----------------------------------------------------------------------

namespace {
// Collective. Runs `write` on the temporary file `tmp` (already there on rank 0: `existed`
// says whether as a copy to open or a new file to create), closes it and renames it over
// `path`; see update_file for what a failure does.
void write_temporary(par::Comm& comm, const std::string& path, const std::string& tmp, bool existed,
                     unsigned mode, const std::function<void(File&)>& write) {
  try {
    File f = existed ? File::open(comm, tmp, true) : File::create(comm, tmp, mode);
    f.set_temporary();
    write(f);
    f.close();
  } catch (const Error& e) {
    std::error_code ec;
    if (!e.collective()) {
      // This rank alone may have failed, the others may wait in a collective HDF5 call: no
      // collective step here (the file was left open, see File::~File); its copy goes now.
      std::filesystem::remove(tmp, ec);
      throw par::write_error(path, e.what());
    }
    // A collective error (every rank is here): no unfinished copy is left behind.
    comm.barrier();
    if (comm.rank() == 0) std::filesystem::remove(tmp, ec);
    comm.barrier();  // gone when any rank returns
    throw;
  }
  comm.barrier();
  std::string error;
  if (comm.rank() == 0) {
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) error = "cannot rename " + tmp + " to " + path + ": " + ec.message();
  }
  par::agree(comm, error, ExitCode::comm);
}

// Rank 0: "" if the directory of `path` exists, else the error.
std::string check_directory(const std::string& path) {
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    return "cannot write " + path + ": directory " + dir.string() + " does not exist";
  return {};
}
}  // namespace

void update_file(par::Comm& comm, const std::string& path, const std::function<void(File&)>& modify,
                 unsigned mode) {
  const std::string tmp = path + ".tmp";
  std::string error;
  ExitCode code = ExitCode::usage;
  int existed = 0;
  if (comm.rank() == 0) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    if (std::filesystem::exists(path, ec)) {
      existed = 1;
      std::filesystem::copy_file(path, tmp, std::filesystem::copy_options::overwrite_existing, ec);
      if (!ec)
        std::filesystem::permissions(tmp, static_cast<std::filesystem::perms>(mode & 0777u), ec);
      if (ec) {
        error = par::write_error(path, "cannot copy it to " + tmp + ": " + ec.message()).what();
        code = ExitCode::comm;
        std::filesystem::remove(tmp, ec);
      }
    } else {
      error = check_directory(path);
    }
  }
  par::agree(comm, error, code);
  comm.bcast(existed, 0);
  write_temporary(comm, path, tmp, existed != 0, mode, modify);
}

void write_file(par::Comm& comm, const std::string& path, const std::function<void(File&)>& fill,
                unsigned mode) {
  const std::string tmp = path + ".tmp";
  std::string error;
  if (comm.rank() == 0) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    error = check_directory(path);
  }
  par::agree(comm, error, ExitCode::usage);
  write_temporary(comm, path, tmp, false, mode, fill);
}

}  // namespace ecom::io::h5
