#pragma once
// Keyed pseudonyms: HMAC-SHA-256(key, canonical user id), first 8 bytes, big-endian.
//
// The raw id is canonicalised first (privacy/user_id.hpp: a decimal integer below 2^64,
// leading zeros removed), so "596899981" and "000596899981" are one person with one pseudonym.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ecom/privacy/user_id.hpp"

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

  // First 8 bytes of HMAC-SHA-256(key, canonical_user_id(raw_id)) read as a big-endian
  // integer. Throws UserError if `raw_id` is not a plain decimal integer below 2^64.
  std::uint64_t pseudonym(std::string_view raw_id) const;

 private:
  std::string key_;
  void* ctx_ = nullptr;  // reusable OpenSSL state (keyed once), opaque here
};

// 16 lower-case hex digits.
std::string to_hex(std::uint64_t pseudonym);

// Key files: at least kMinKeyBytes bytes (kRecommendedKeyBytes recommended: 32 random bytes,
// e.g. `head -c 32 /dev/urandom > key`).
inline constexpr std::size_t kMinKeyBytes = 16;
inline constexpr std::size_t kRecommendedKeyBytes = 32;

// What read_key_file checks, as plain data (tests feed it directly).
struct KeyFileFacts {
  bool regular = true;      // a regular file (after following links)
  mode_t mode = 0600;       // the file's permission bits
  uid_t owner = 0;          // the file's owner
  uid_t me = 0;             // the running user (effective uid)
  mode_t dir_mode = 0700;   // the permission bits of its directory, S_ISVTX included
  std::uint64_t size = 32;  // bytes
};
// The first failed rule as "key file K <reason>", or "" if the key file may be used. Rules, in
// order: a regular file; owned by the running user; no access by group or others (mode 0600
// or stricter, which also rules out group- and world-writable); its directory not writable by
// group or others unless sticky (e.g. /tmp); at least kMinKeyBytes bytes.
std::string key_file_problem(const std::string& path, const KeyFileFacts& facts);

// Reads the key file; throws UserError (one line naming the file and the reason, exit 2) if it
// is missing or unreadable or key_file_problem() names a problem.
std::string read_key_file(const std::string& path);

}  // namespace ecom::privacy
