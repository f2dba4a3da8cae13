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

TEST(Sha256, FileDigestInStepsEqualsWholeFile) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("ecom_test_sha256_steps_" + std::to_string(::getpid()));
  std::string text;
  for (int i = 0; i < 100000; ++i) text += std::to_string(i * 7919 % 100003) + ",";
  std::ofstream(path, std::ios::binary) << text;
  const std::string want = sha256_hex(text);
  for (std::size_t chunk : {1000u, 4096u, 1u << 20}) {
    FileDigest d(path.string(), chunk);
    EXPECT_THROW(d.hex(), ecom::Error);
    std::size_t steps = 0;
    while (d.step()) ++steps;
    EXPECT_TRUE(d.done());
    EXPECT_FALSE(d.step());  // done stays done
    EXPECT_EQ(steps, (text.size() + chunk - 1) / chunk) << chunk;
    EXPECT_EQ(d.bytes(), text.size());
    EXPECT_EQ(d.hex(), want) << chunk;
  }
  std::filesystem::remove(path);
  FileDigest missing(path.string());
  EXPECT_THROW(missing.step(), ecom::InputError);
}
