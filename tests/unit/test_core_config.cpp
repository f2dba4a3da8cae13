// core/config: the effective configuration is canonical, i.e. the same text however the same
// values were given (defaults, a config file with other spellings, the command line).
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ecom/core/config.hpp"

namespace {

struct Values {
  int n = 3;
  double x = 1.0, tol = 1e-4;
  bool on = true, off = false, opt_bool = true;
  std::string name = "auto", empty;
  std::vector<std::string> list = {"a", "b"}, none;
  unsigned events = 1000;
};

// An app shaped like ecom's: options at the top, a subcommand with its own; returns the text.
std::string effective(std::vector<std::string> args, Values& v) {
  CLI::App app{"t"};
  app.set_config("--config");
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.add_option("--n", v.n)->capture_default_str();
  app.add_option("--x", v.x)->capture_default_str();
  app.add_option("--tol", v.tol)->capture_default_str();
  app.add_flag("--on,!--no-on", v.on)->default_str(v.on ? "true" : "false");
  app.add_flag("--off", v.off);
  app.add_option("--opt-bool", v.opt_bool)->capture_default_str();
  app.add_option("--name", v.name)->capture_default_str();
  app.add_option("--empty", v.empty);
  app.add_option("--list", v.list)->capture_default_str();
  app.add_option("--none", v.none);
  auto* sub = app.add_subcommand("sub");
  sub->add_option("--events", v.events)->capture_default_str();
  std::vector<std::string> argv = {"t"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> ptrs;
  for (auto& a : argv) ptrs.push_back(a.data());
  app.parse(static_cast<int>(ptrs.size()), ptrs.data());
  return ecom::effective_config(app);
}

std::string write_file(const std::string& name, const std::string& text) {
  const auto path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST(Config, CanonicalDefaults) {
  Values v;
  EXPECT_EQ(effective({"sub"}, v),
            "n=3\nx=1\ntol=0.0001\non=true\noff=false\nopt-bool=true\nname=\"auto\"\nempty=\"\"\n"
            "list=[\"a\", \"b\"]\nnone=[]\nsub.events=1000\n");
}

TEST(Config, AFileRestatingTheDefaultsChangesNothing) {
  Values v0, v1;
  const auto plain = effective({"sub"}, v0);
  const auto path = write_file(
      "ecom_test_config_defaults.toml",
      "n = 3\nx = 1.0\ntol = 1e-4\non = true\noff = false\nopt-bool = true\nname = \"auto\"\n"
      "list = [\"a\", \"b\"]\n[sub]\nevents = 1000\n");
  EXPECT_EQ(effective({"--config", path, "sub"}, v1), plain);
  EXPECT_EQ(v1.x, 1.0);
  EXPECT_TRUE(v1.on);
  std::filesystem::remove(path);
}

TEST(Config, OtherValuesShowAndTheCommandLineWins) {
  Values v;
  const auto path = write_file("ecom_test_config_other.toml",
                               "x = 2.5\non = false\nlist = [\"c\"]\nname = \"a \\\"q\\\"\"\n"
                               "[sub]\nevents = 7\n");
  const auto text = "\n" + effective({"--config", path, "--n", "4", "sub", "--events", "9"}, v);
  EXPECT_NE(text.find("\nn=4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nx=2.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\non=false\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nlist=[\"c\"]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nname=\"a \\\"q\\\"\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nsub.events=9\n"), std::string::npos) << text;
  EXPECT_EQ(v.events, 9u);
  EXPECT_FALSE(v.on);
  std::filesystem::remove(path);
}

TEST(Config, FlagsOnTheCommandLine) {
  Values v;
  const auto text = effective({"--no-on", "--off", "--opt-bool", "0", "sub"}, v);
  EXPECT_NE(text.find("\non=false\noff=true\nopt-bool=false\n"), std::string::npos) << text;
}
