// SHA-256 of strings (FIPS 180-2 vectors) and files (against the streaming result in pieces).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ecom/core/error.hpp"
#include "ecom/io/sha256.hpp"

using namespace ecom::io;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, FileInChunksEqualsWhole) {
  const auto path =
      std::filesystem::temp_directory_path() / ("ecom_test_sha256_" + std::to_string(::getpid()));
  std::string million(1000000, 'a');  // FIPS 180-2: one million 'a'
  std::ofstream(path, std::ios::binary) << million;
  for (std::size_t chunk : {1u, 7u, 4096u, 1u << 20})
    EXPECT_EQ(sha256_file(path.string(), chunk),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        << chunk;
  std::filesystem::remove(path);
  EXPECT_THROW(sha256_file(path.string()), ecom::InputError);
}
