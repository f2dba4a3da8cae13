#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ecom/core/error.hpp"
#include "ecom/privacy/pseudonym.hpp"

using namespace ecom::privacy;

namespace {
std::string hex(const std::vector<unsigned char>& v) {
  std::string s;
  char b[3];
  for (auto c : v) {
    std::snprintf(b, sizeof b, "%02x", c);
    s += b;
  }
  return s;
}
}  // namespace

TEST(Privacy, Rfc4231TestVectors) {
  // Test case 1
  EXPECT_EQ(hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 3
  EXPECT_EQ(hex(hmac_sha256(std::string(20, '\xaa'), std::string(50, '\xdd'))),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  // Test case 6 (key longer than the block size)
  EXPECT_EQ(hex(hmac_sha256(std::string(131, '\xaa'),
                            "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Privacy, PseudonymIsTruncatedHmac) {
  Pseudonymizer p("Jefe");
  EXPECT_EQ(to_hex(p.pseudonym("what do ya want for nothing?")), "5bdcc146bf60754e");
  // Reusing the keyed context gives the same answers in any order.
  const auto a = p.pseudonym("541312140");
  (void)p.pseudonym("other");
  EXPECT_EQ(p.pseudonym("541312140"), a);
  EXPECT_EQ(to_hex(a), hex(hmac_sha256("Jefe", "541312140")).substr(0, 16));
}

TEST(Privacy, KeyFilePermissions) {
  const auto dir = std::filesystem::temp_directory_path() / "ecom_test_privacy";
  std::filesystem::create_directories(dir);
  const auto key = (dir / "key").string();
  { std::ofstream(key) << "secret"; }
  ::chmod(key.c_str(), 0600);
  EXPECT_EQ(read_key_file(key), "secret");
  ::chmod(key.c_str(), 0644);
  try {
    read_key_file(key);
    FAIL() << "a 0644 key file must be refused";
  } catch (const ecom::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("mode 0644"), std::string::npos) << e.what();
  }
  ::chmod(key.c_str(), 0640);
  EXPECT_THROW(read_key_file(key), ecom::UserError);
  EXPECT_THROW(read_key_file((dir / "missing").string()), ecom::UserError);
  std::filesystem::remove_all(dir);
}
