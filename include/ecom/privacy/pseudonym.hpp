#pragma once
// Keyed pseudonyms: HMAC-SHA-256(key, raw user id), first 8 bytes, big-endian.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ecom::privacy {

// Full HMAC-SHA-256 (32 bytes), for tests against RFC 4231.
std::vector<unsigned char> hmac_sha256(std::string_view key, std::string_view message);

class Pseudonymizer {
 public:
  // `key` is the exact bytes of the key file.
  explicit Pseudonymizer(std::string key);
  ~Pseudonymizer();
  Pseudonymizer(const Pseudonymizer&) = delete;
  Pseudonymizer& operator=(const Pseudonymizer&) = delete;

  // First 8 bytes of HMAC-SHA-256(key, raw_id) read as a big-endian integer.
  std::uint64_t pseudonym(std::string_view raw_id) const;

 private:
  std::string key_;
  void* ctx_ = nullptr;  // reusable OpenSSL state (keyed once), opaque here
};

// 16 lower-case hex digits.
std::string to_hex(std::uint64_t pseudonym);

// Reads the key file; throws UserError if missing, unreadable, empty, or readable by group or
// others ("key file K is readable by group/others (mode 0644); chmod 600 K").
std::string read_key_file(const std::string& path);

}  // namespace ecom::privacy
