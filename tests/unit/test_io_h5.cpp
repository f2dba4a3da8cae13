// HDF5 wrappers on serial files (no MPI): attributes, datasets, groups, errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/io/h5.hpp"

namespace h5 = ecom::io::h5;

namespace {
std::filesystem::path temp_dir() {
  return std::filesystem::temp_directory_path() / ("ecom_test_io_h5_" + std::to_string(::getpid()));
}
std::string temp_path(const std::string& name) {
  std::filesystem::create_directories(temp_dir());
  return (temp_dir() / name).string();
}
class RemoveTempDir : public testing::Environment {
 public:
  void TearDown() override { std::filesystem::remove_all(temp_dir()); }
};
[[maybe_unused]] testing::Environment* const kCleanup =
    testing::AddGlobalTestEnvironment(new RemoveTempDir);
}  // namespace

TEST(H5, AttributesRoundTrip) {
  const auto path = temp_path("attrs.h5");
  {
    auto f = h5::File::create_serial(path);
    const auto a = f.root().attrs();
    a.set("s", std::string("hello, wörld"));
    a.set("empty", std::string());
    a.set("i32", std::int32_t{-7});
    a.set("u64", std::numeric_limits<std::uint64_t>::max());
    a.set("d", 0.1);
    a.set("dv", std::vector<double>{1.5, -2.25, 1e300});
    a.set("uv_empty", std::vector<std::uint64_t>{});
    a.set("sv", std::vector<std::string>{"a", "", "ccc"});
    a.set("sv_empty", std::vector<std::string>{});
    a.set("replaced", std::int32_t{1});
    a.set("replaced", std::string("now a string"));  // replaces, even with another type
    f.close();
  }
  auto f = h5::File::open_serial(path, false);
  const auto a = f.root().attrs();
  EXPECT_EQ(a.get_string("s"), "hello, wörld");
  EXPECT_EQ(a.get_string("empty"), "");
  EXPECT_EQ(a.get<std::int32_t>("i32"), -7);
  EXPECT_EQ(a.get<std::uint64_t>("u64"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(a.get<double>("d"), 0.1);
  EXPECT_EQ(a.get<std::int64_t>("i32"), -7);  // converted by HDF5
  EXPECT_EQ(a.get_vector<double>("dv"), (std::vector<double>{1.5, -2.25, 1e300}));
  EXPECT_TRUE(a.get_vector<std::uint64_t>("uv_empty").empty());
  EXPECT_EQ(a.get_strings("sv"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_TRUE(a.get_strings("sv_empty").empty());
  EXPECT_EQ(a.get_string("replaced"), "now a string");
  EXPECT_TRUE(a.has("d"));
  EXPECT_FALSE(a.has("nope"));
  const auto names = a.names();
  EXPECT_EQ(names.size(), 10u);
  f.close();
  std::filesystem::remove(path);
}

TEST(H5, DatasetsAndGroups) {
  const auto path = temp_path("data.h5");
  std::vector<std::uint64_t> ids = {1, 2, std::numeric_limits<std::uint64_t>::max()};
  std::vector<double> matrix = {1, 2, 3, 4, 5, 6};  // 3 x 2
  std::vector<std::string> words = {"view", "", "remove_from_cart"};
  {
    auto f = h5::File::create_serial(path);
    auto g = f.root().create_group("a/b/c");  // intermediate groups created
    h5::write_serial<std::uint64_t>(g, "ids", ids);
    h5::write_serial<double>(g, "matrix", matrix, 2);
    h5::write_serial<std::int32_t>(g, "empty", {});
    h5::write_strings_serial(g, "words", words);
    h5::write_serial<float>(f.root(), "one_col_2d", std::vector<float>{1.f, 2.f}, 1, true);
    g.close();
    f.close();
  }
  auto f = h5::File::open_serial(path, true);
  const auto& root = f.root();
  EXPECT_TRUE(root.exists("a"));
  EXPECT_TRUE(root.exists("a/b/c/ids"));
  EXPECT_TRUE(root.exists("/a/b/c/matrix"));
  EXPECT_FALSE(root.exists("a/x/c"));
  EXPECT_FALSE(root.exists("a/b/c/ids/deeper"));  // a dataset has no children
  auto g = root.open_group("a/b/c");
  EXPECT_EQ(g.children(), (std::vector<std::string>{"empty", "ids", "matrix", "words"}));
  EXPECT_EQ(h5::read_all<std::uint64_t>(g, "ids"), ids);
  {
    auto ds = g.open_dataset("matrix");
    EXPECT_EQ(ds.rows(), 3u);
    EXPECT_EQ(ds.cols(), 2u);
    EXPECT_EQ(h5::read_all<double>(ds), matrix);
    EXPECT_EQ(ds.name(), "/a/b/c/matrix");
  }
  EXPECT_TRUE(h5::read_all<std::int32_t>(g, "empty").empty());
  EXPECT_EQ(h5::read_strings(g, "words"), words);
  {
    auto ds = root.open_dataset("one_col_2d");
    EXPECT_EQ(ds.dims().size(), 2u);
    EXPECT_EQ(h5::read_all<double>(ds), (std::vector<double>{1.0, 2.0}));  // converted
  }
  g.remove("ids");
  EXPECT_FALSE(g.exists("ids"));
  g.close();
  f.close();
  std::filesystem::remove(path);
}

TEST(H5, ErrorsCarryTheStackAndPrintNothing) {
  const auto path = temp_path("errors.h5");
  testing::internal::CaptureStderr();
  std::string message;
  {
    auto f = h5::File::create_serial(path);
    try {
      f.root().open_dataset("no/such/dataset");
    } catch (const ecom::Hdf5Error& e) {
      message = e.what();
      EXPECT_EQ(e.code(), ecom::ExitCode::comm);
    }
    EXPECT_THROW(f.root().attrs().get<int>("missing"), ecom::Hdf5Error);
    f.root().create_group("dup").close();
    EXPECT_THROW(f.root().create_group("dup"), ecom::Hdf5Error);
    f.close();
  }
  EXPECT_THROW(h5::File::open_serial(temp_path("missing.h5"), false), ecom::Hdf5Error);
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed, "") << "HDF5 printed its own error stack";
  EXPECT_NE(message.find("H5Dopen2(no/such/dataset)"), std::string::npos) << message;
  // The HDF5 stack text follows the function name (innermost entries first).
  EXPECT_NE(message.find("): "), std::string::npos) << message;
  EXPECT_GT(message.size(), std::string("H5Dopen2(no/such/dataset): ").size() + 10) << message;
  EXPECT_FALSE(h5::File::is_hdf5(temp_path("missing.h5")));
  EXPECT_TRUE(h5::File::is_hdf5(path));
  std::filesystem::remove(path);
}
