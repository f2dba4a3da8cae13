// The store's writer lock (io/store_lock.hpp) under mpirun with 1..4 ranks: taken by rank 0 and
// agreed by all; a held lock fails every rank with ExitCode::locked naming the holder, after the
// timeout; released by the destructor.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "ecom/core/error.hpp"
#include "ecom/io/store_lock.hpp"
#include "ecom/par/comm.hpp"
#include "test_dirs.hpp"

using namespace ecom;

TEST(StoreLock, SecondWriterFailsNamingTheHolder) {
  auto comm = par::Comm::world();
  const std::string dir = test::shared_dir(comm, "ecom-lock");
  const std::string store = dir + "/s.h5";
  {
    const io::StoreLock lock = io::StoreLock::acquire(comm, store, 0, "ecom ingest --store s.h5");
    comm.barrier();
    if (comm.rank() == 0) {
      const std::string text = test::slurp(io::store_lock_path(store));
      EXPECT_NE(text.find("pid=" + std::to_string(::getpid())), std::string::npos) << text;
      EXPECT_NE(text.find("command=ecom ingest --store s.h5"), std::string::npos) << text;
    }
    // A second writer: fails on every rank, with the holder's pid, after the timeout.
    const auto start = std::chrono::steady_clock::now();
    try {
      io::StoreLock::acquire(comm, store, 0.3, "second");
      ADD_FAILURE() << "the second writer got the lock";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::locked);
      EXPECT_TRUE(e.collective());
      const std::string what = e.what();
      EXPECT_NE(what.find("is locked by another writer"), std::string::npos) << what;
      EXPECT_NE(what.find("command ecom ingest --store s.h5"), std::string::npos) << what;
      EXPECT_NE(what.find("since "), std::string::npos) << what;
    }
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (comm.rank() == 0) {
      EXPECT_GE(waited, 0.3);
    }
  }
  // Released: the next writer gets it at once, and the holder text was cleared before.
  comm.barrier();
  if (comm.rank() == 0) {
    EXPECT_EQ(test::slurp(io::store_lock_path(store)), "");
  }
  EXPECT_NO_THROW({ io::StoreLock::acquire(comm, store, 0, "third"); });
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove_all(dir);
}

TEST(StoreLock, MissingDirectoryIsAUsageError) {
  auto comm = par::Comm::world();
  try {
    io::StoreLock::acquire(comm, "/nonexistent-ecom-dir/s.h5", 0, "x");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
}

TEST(LockFile, DescribesTheHolder) {
  EXPECT_EQ(
      io::describe_holder("host=h1\npid=42\ncommand=ecom purge\nsince=2026-01-01T00:00:00Z\n"),
      "host h1, pid 42, command ecom purge, since 2026-01-01T00:00:00Z");
  EXPECT_EQ(io::describe_holder(""), "host ?, pid ?, command ?, since ?");
}
