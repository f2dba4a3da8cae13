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
  // Reusing the keyed context gives the same answers in any order.
  const auto a = p.pseudonym("541312140");
  (void)p.pseudonym("7");
  EXPECT_EQ(p.pseudonym("541312140"), a);
  EXPECT_EQ(to_hex(a), hex(hmac_sha256("Jefe", "541312140")).substr(0, 16));
}

TEST(Privacy, UserIdsAreCanonicalised) {
  // Issue 16 item 6: leading zeros split one person into two pseudonyms.
  Pseudonymizer p("0123456789abcdef");
  EXPECT_EQ(p.pseudonym("000596899981"), p.pseudonym("596899981"));
  EXPECT_EQ(to_hex(p.pseudonym("000596899981")),
            hex(hmac_sha256("0123456789abcdef", "596899981")).substr(0, 16));
  EXPECT_EQ(p.pseudonym("000"), p.pseudonym("0"));
  EXPECT_EQ(*canonical_user_id("0"), "0");
  EXPECT_EQ(*canonical_user_id("0000"), "0");
  EXPECT_EQ(*canonical_user_id("007"), "7");
  EXPECT_EQ(*canonical_user_id("18446744073709551615"), "18446744073709551615");
  EXPECT_EQ(*canonical_user_id("0000018446744073709551615"), "18446744073709551615");
  for (const char* bad : {"", "18446744073709551616", "99999999999999999999", "-1", "+1", " 1",
                          "1 ", "1.0", "1e3", "0x1f", "abc", "00a", "1\r"}) {
    EXPECT_FALSE(canonical_user_id(bad)) << bad;
    EXPECT_THROW((void)p.pseudonym(bad), ecom::UserError) << bad;
  }
}

TEST(Privacy, KeyFileRules) {
  // Issue 16 item 7: each rule one line naming the file and the reason.
  const KeyFileFacts good{true, 0100600, 1000, 1000, 040700, 32};
  EXPECT_EQ(key_file_problem("k", good), "");
  auto problem = [&](auto change) {
    KeyFileFacts f = good;
    change(f);
    return key_file_problem("k", f);
  };
  auto has = [](const std::string& s, const char* what) {
    return s.rfind("key file k ", 0) == 0 && s.find(what) != std::string::npos &&
           s.find('\n') == std::string::npos;
  };
  EXPECT_TRUE(has(problem([](KeyFileFacts& f) { f.regular = false; }), "not a regular file"));
  EXPECT_TRUE(has(problem([](KeyFileFacts& f) { f.owner = 65534; }), "owned by uid 65534"));
  EXPECT_TRUE(has(problem([](KeyFileFacts& f) { f.mode = 0100620; }), "mode 0620"));
  EXPECT_TRUE(has(problem([](KeyFileFacts& f) { f.mode = 0100602; }), "mode 0602"));
  EXPECT_TRUE(has(problem([](KeyFileFacts& f) { f.mode = 0100640; }), "mode 0640"));
  EXPECT_TRUE(has(problem([](KeyFileFacts& f) { f.dir_mode = 040777; }), "writable by others"));
  EXPECT_EQ(problem([](KeyFileFacts& f) { f.dir_mode = 041777; }), "");  // sticky, like /tmp
  EXPECT_EQ(problem([](KeyFileFacts& f) { f.dir_mode = 040775; }), "");  // group: allowed
  EXPECT_TRUE(has(problem([](KeyFileFacts& f) { f.size = 1; }), "holds 1 bytes: at least 16"));
  EXPECT_TRUE(has(problem([](KeyFileFacts& f) { f.size = 0; }), "32 random bytes recommended"));
  EXPECT_EQ(problem([](KeyFileFacts& f) { f.size = 16; }), "");
}

TEST(Privacy, KeyFilePermissions) {
  const auto dir = std::filesystem::temp_directory_path() / "ecom_test_privacy";
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0700);
  const auto key = (dir / "key").string();
  const std::string secret = "0123456789abcdef0123456789abcdef";
  { std::ofstream(key) << secret; }
  ::chmod(key.c_str(), 0600);
  EXPECT_EQ(read_key_file(key), secret);
  ::chmod(key.c_str(), 0644);
  try {
    read_key_file(key);
    FAIL() << "a 0644 key file must be refused";
  } catch (const ecom::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("mode 0644"), std::string::npos) << e.what();
  }
  ::chmod(key.c_str(), 0640);
  EXPECT_THROW(read_key_file(key), ecom::UserError);
  ::chmod(key.c_str(), 0600);
  ::chmod(dir.c_str(), 0777);  // world-writable, not sticky
  EXPECT_THROW(read_key_file(key), ecom::UserError);
  ::chmod(dir.c_str(), 01777);  // sticky
  EXPECT_EQ(read_key_file(key), secret);
  ::chmod(dir.c_str(), 0700);
  { std::ofstream(key) << "short"; }
  EXPECT_THROW(read_key_file(key), ecom::UserError);
  EXPECT_THROW(read_key_file(dir.string()), ecom::UserError);  // a directory
  EXPECT_THROW(read_key_file((dir / "missing").string()), ecom::UserError);
  std::filesystem::remove_all(dir);
}
