// Parallel HDF5 wrappers: row writes at exscan offsets (uneven and empty ranks, many rounds;
// independent pieces in any order), replicated writes, attributes, collective reads with any
// split, the safe update.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/par/comm.hpp"

namespace h5 = ecom::io::h5;
using ecom::par::Comm;

namespace {
// One path per test shared by all ranks (rank 0's pid), in the temporary directory.
std::string shared_path(Comm& comm, const std::string& name) {
  long pid = comm.rank() == 0 ? static_cast<long>(::getpid()) : 0;
  comm.bcast(pid, 0);
  return (std::filesystem::temp_directory_path() /
          ("ecom_mpi_io_h5_" + std::to_string(pid) + "_" + name))
      .string();
}

// Rank r holds rows [start(r), start(r+1)) of a global sequence; rank 1 holds nothing.
std::uint64_t rows_of(int rank) {
  return rank == 1 ? 0 : 37 + 101 * static_cast<std::uint64_t>(rank);
}
std::uint64_t start_of(int rank) {
  std::uint64_t s = 0;
  for (int r = 0; r < rank; ++r) s += rows_of(r);
  return s;
}
}  // namespace

TEST(H5Parallel, WriteRowsAtExscanOffsetsAndReadAnySplit) {
  auto comm = Comm::world();
  const auto path = shared_path(comm, "rows.h5");
  const int p = comm.size();
  const std::uint64_t mine = rows_of(comm.rank()), first = start_of(comm.rank());
  const std::uint64_t total = start_of(p);
  const std::size_t cols = 3;
  std::vector<std::uint64_t> ids(mine);
  std::vector<double> matrix(mine * cols);
  for (std::uint64_t i = 0; i < mine; ++i) {
    ids[i] = (first + i) * 7919;
    for (std::size_t c = 0; c < cols; ++c)
      matrix[i * cols + c] = static_cast<double>(first + i) + 0.25 * c;
  }
  {
    auto f = h5::File::create(comm, path);
    auto g = f.root().create_group("users");
    // A tiny round size forces many collective rounds, with ranks running out at different times.
    const auto off = h5::write_rows<std::uint64_t>(comm, g, "ids", ids, 1, false, 64);
    EXPECT_EQ(off, first);
    h5::write_rows<double>(comm, g, "matrix", matrix, cols, false, 200);
    h5::write_rows<std::int8_t>(comm, g, "nothing", {});
    g.attrs().set("ranks", static_cast<std::int32_t>(p));
    g.attrs().set("names", std::vector<std::string>{"x", "y", "z"});
    const std::vector<double> replicated = {3.5, 4.5};
    h5::write_replicated<double>(comm, f.root(), "replicated", replicated);
    h5::write_strings_replicated(comm, f.root(), "labels", {"vip", "dormant"});
    g.close();
    f.close();
  }
  // Read back: each rank reads a different slice than it wrote (reversed rank order).
  {
    auto f = h5::File::open(comm, path, false);
    auto ds = f.root().open_dataset("users/ids");
    ASSERT_EQ(ds.rows(), total);
    const int other = p - 1 - comm.rank();
    const auto got = h5::read_rows<std::uint64_t>(comm, ds, start_of(other), rows_of(other), 48);
    ASSERT_EQ(got.size(), rows_of(other));
    for (std::uint64_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], (start_of(other) + i) * 7919);
    auto ms = f.root().open_dataset("users/matrix");
    EXPECT_EQ(ms.cols(), cols);
    const auto all = h5::read_all<double>(ms);  // independent, whole
    ASSERT_EQ(all.size(), total * cols);
    for (std::uint64_t i = 0; i < total; ++i)
      for (std::size_t c = 0; c < cols; ++c)
        EXPECT_EQ(all[i * cols + c], static_cast<double>(i) + 0.25 * c);
    EXPECT_EQ(f.root().open_dataset("users/nothing").rows(), 0u);
    EXPECT_EQ(h5::read_all<double>(f.root(), "replicated"), (std::vector<double>{3.5, 4.5}));
    EXPECT_EQ(h5::read_strings(f.root(), "labels"), (std::vector<std::string>{"vip", "dormant"}));
    EXPECT_EQ(f.root().open_group("users").attrs().get<std::int32_t>("ranks"), p);
    EXPECT_EQ(f.root().open_group("users").attrs().get_strings("names"),
              (std::vector<std::string>{"x", "y", "z"}));
    ds.close();
    ms.close();
    f.close();
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

TEST(H5Parallel, SlicedWritesEqualWholeColumnWrites) {
  auto comm = Comm::world();
  const auto path = shared_path(comm, "sliced.h5");
  const std::uint64_t mine = rows_of(comm.rank()), first = start_of(comm.rank());
  std::vector<std::uint32_t> whole(mine);
  for (std::uint64_t i = 0; i < mine; ++i)
    whole[i] = static_cast<std::uint32_t>((first + i) * 2654435761u);
  {
    auto f = h5::File::create(comm, path);
    h5::write_rows<std::uint32_t>(comm, f.root(), "whole", whole);
    // 12-byte slices: 3 rows each, so ranks need different numbers of slices (rank 1 none).
    const auto off = h5::write_rows_sliced<std::uint32_t>(
        comm, f.root(), "sliced", mine, [&](std::uint64_t i) { return whole[i]; }, 12);
    EXPECT_EQ(off, first);
    h5::write_rows_sliced<double>(comm, f.root(), "empty", 0, [](std::uint64_t) { return 1.0; });
    f.close();
  }
  {
    auto f = h5::File::open(comm, path, false);
    const auto a = h5::read_all<std::uint32_t>(f.root(), "whole");
    const auto b = h5::read_all<std::uint32_t>(f.root(), "sliced");
    EXPECT_EQ(a.size(), start_of(comm.size()));
    EXPECT_EQ(a, b);
    EXPECT_EQ(f.root().open_dataset("empty").rows(), 0u);
    f.close();
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

TEST(H5Parallel, RowWriterPiecesInAnyOrderEqualWholeWrites) {
  auto comm = Comm::world();
  const auto path = shared_path(comm, "pieces.h5");
  const std::uint64_t mine = rows_of(comm.rank()), first = start_of(comm.rank());
  std::vector<std::uint64_t> whole(mine);
  for (std::uint64_t i = 0; i < mine; ++i) whole[i] = (first + i) * 0x9E3779B97F4A7C15ull;
  {
    auto f = h5::File::create(comm, path);
    h5::write_rows<std::uint64_t>(comm, f.root(), "whole", whole);
    const auto split = h5::RowSplit::of(comm, mine);
    EXPECT_EQ(split.offset, first);
    EXPECT_EQ(split.local, mine);
    EXPECT_EQ(split.total, start_of(comm.size()));
    h5::ColumnWriter<std::uint64_t> w(f.root(), "pieces", split);
    // Pieces of 5 rows, last piece first: each rank a different number of writes (rank 1 none).
    const std::uint64_t pieces = (mine + 4) / 5;
    for (std::uint64_t k = pieces; k-- > 0;) {
      const std::uint64_t lo = k * 5, n = std::min<std::uint64_t>(5, mine - lo);
      w.write(lo, std::span<const std::uint64_t>(whole.data() + lo, n));
    }
    // Beyond this rank's share: an error on this rank alone (nothing collective happened).
    const std::uint64_t one = 1;
    EXPECT_THROW(w.write(mine, std::span<const std::uint64_t>(&one, 1)), ecom::Hdf5Error);
    w.close();
    f.close();
  }
  {
    auto f = h5::File::open(comm, path, false);
    const auto a = h5::read_all<std::uint64_t>(f.root(), "whole");
    EXPECT_EQ(a.size(), start_of(comm.size()));
    EXPECT_EQ(a, h5::read_all<std::uint64_t>(f.root(), "pieces"));
    f.close();
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

// Collective mode: every rank makes the same number of calls (those with fewer rows pass n = 0,
// rank 1 has none at all); the result equals write_rows.
TEST(H5Parallel, CollectiveRowWriterEqualsWholeWrites) {
  auto comm = Comm::world();
  const auto path = shared_path(comm, "collective.h5");
  const std::uint64_t mine = rows_of(comm.rank()), first = start_of(comm.rank());
  std::vector<std::uint64_t> whole(mine);
  for (std::uint64_t i = 0; i < mine; ++i) whole[i] = (first + i) * 0xC2B2AE3D27D4EB4Full;
  {
    auto f = h5::File::create(comm, path);
    h5::write_rows<std::uint64_t>(comm, f.root(), "whole", whole);
    const auto split = h5::RowSplit::of(comm, mine);
    h5::ColumnWriter<std::uint64_t> w(f.root(), "collective", split, true);
    const std::uint64_t calls = comm.allreduce_max<std::uint64_t>((mine + 6) / 7);
    for (std::uint64_t k = 0; k < calls; ++k) {
      const std::uint64_t lo = std::min(mine, k * 7), n = std::min<std::uint64_t>(7, mine - lo);
      w.write(lo, std::span<const std::uint64_t>(whole.data() + lo, n));
    }
    w.close();
    f.close();
  }
  {
    auto f = h5::File::open(comm, path, false);
    EXPECT_EQ(h5::read_all<std::uint64_t>(f.root(), "whole"),
              h5::read_all<std::uint64_t>(f.root(), "collective"));
    f.close();
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

TEST(H5Parallel, UpdateFileIsAtomicAndAppends) {
  auto comm = Comm::world();
  const auto path = shared_path(comm, "update.h5");
  h5::update_file(comm, path, [&](h5::File& f) {
    h5::write_replicated<std::int32_t>(comm, f.root(), "first", std::vector<std::int32_t>{1});
  });
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  comm.barrier();  // rank 0 must not start the next update (it copies to .tmp) before all checked
  // A failing modification (on every rank) leaves the original untouched.
  EXPECT_THROW(h5::update_file(comm, path,
                               [&](h5::File& f) {
                                 h5::write_replicated<std::int32_t>(comm, f.root(), "second",
                                                                    std::vector<std::int32_t>{2});
                                 throw ecom::Error("stop");
                               }),
               ecom::Error);
  comm.barrier();
  // A collective error (raised on every rank) also removes the unfinished copy.
  EXPECT_THROW(h5::update_file(comm, path,
                               [&](h5::File& f) {
                                 h5::write_replicated<std::int32_t>(comm, f.root(), "second",
                                                                    std::vector<std::int32_t>{2});
                                 ecom::Error e("stop");
                                 e.set_collective(true);
                                 throw e;
                               }),
               ecom::Error);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  comm.barrier();
  {
    auto f = h5::File::open(comm, path, false);
    EXPECT_TRUE(f.root().exists("first"));
    EXPECT_FALSE(f.root().exists("second"));
    f.close();
  }
  h5::update_file(comm, path, [&](h5::File& f) {
    std::vector<std::uint32_t> mine(static_cast<std::size_t>(comm.rank()) + 1,
                                    static_cast<std::uint32_t>(comm.rank()));
    h5::write_rows<std::uint32_t>(comm, f.root(), "second", mine);
  });
  {
    auto f = h5::File::open(comm, path, false);
    EXPECT_EQ(h5::read_all<std::int32_t>(f.root(), "first"), std::vector<std::int32_t>{1});
    std::vector<std::uint32_t> expect;
    for (int r = 0; r < comm.size(); ++r)
      expect.insert(expect.end(), static_cast<std::size_t>(r) + 1, static_cast<std::uint32_t>(r));
    EXPECT_EQ(h5::read_all<std::uint32_t>(f.root(), "second"), expect);
    f.close();
  }
  comm.barrier();
  if (comm.rank() == 0) {
    std::filesystem::remove(path);
    std::filesystem::remove(path + ".tmp");
  }
}

TEST(H5Parallel, MissingFileIsAnHdf5ErrorOnEveryRank) {
  auto comm = Comm::world();
  const auto path = shared_path(comm, "missing.h5");
  EXPECT_THROW(h5::File::open(comm, path, false), ecom::Hdf5Error);
  comm.barrier();
}
