#include "ecom/privacy/pseudonym.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "ecom/core/error.hpp"

namespace ecom::privacy {

std::vector<unsigned char> hmac_sha256(std::string_view key, std::string_view message) {
  std::vector<unsigned char> out(32);
  unsigned int len = 32;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(),
           &len) == nullptr)
    throw Error("HMAC-SHA-256 failed");
  return out;
}

namespace {
struct MacState {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
};
}  // namespace

Pseudonymizer::Pseudonymizer(std::string key) : key_(std::move(key)) {
  auto* st = new MacState;
  ctx_ = st;
  st->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (st->mac != nullptr) st->ctx = EVP_MAC_CTX_new(st->mac);
  if (st->ctx == nullptr) throw Error("cannot create an HMAC context (OpenSSL)");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(st->ctx, reinterpret_cast<const unsigned char*>(key_.data()), key_.size(),
                   params) != 1)
    throw Error("cannot key the HMAC context (OpenSSL)");
}

Pseudonymizer::~Pseudonymizer() {
  auto* st = static_cast<MacState*>(ctx_);
  if (st == nullptr) return;
  EVP_MAC_CTX_free(st->ctx);
  EVP_MAC_free(st->mac);
  delete st;
}

std::uint64_t Pseudonymizer::pseudonym(std::string_view raw_id) const {
  const auto id = canonical_user_id(raw_id);
  if (!id)
    throw UserError("user id '" + std::string(raw_id.substr(0, 40)) +
                    "' is not a plain decimal integer below 2^64 (bad_user_id)");
  raw_id = *id;
  auto* st = static_cast<MacState*>(ctx_);
  unsigned char out[32];
  std::size_t len = 0;
  // Re-initialising with no key reuses the precomputed inner/outer pads of the key.
  if (EVP_MAC_init(st->ctx, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(st->ctx, reinterpret_cast<const unsigned char*>(raw_id.data()),
                     raw_id.size()) != 1 ||
      EVP_MAC_final(st->ctx, out, &len, sizeof out) != 1 || len != 32)
    throw Error("HMAC-SHA-256 failed");
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | out[i];
  return v;
}

std::string to_hex(std::uint64_t pseudonym) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(pseudonym));
  return buf;
}

std::string key_file_problem(const std::string& path, const KeyFileFacts& f) {
  const std::string k = "key file " + path;
  auto octal = [](mode_t m) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return std::string(buf);
  };
  if (!f.regular) return k + " is not a regular file";
  if (f.owner != f.me)
    return k + " is owned by uid " + std::to_string(f.owner) + ", not by the running user (uid " +
           std::to_string(f.me) + "): chown it or use your own key file";
  if ((f.mode & 077) != 0)
    return k + " has mode " + octal(f.mode) +
           ": it must not be accessible by group or others (chmod 600 " + path + ")";
  if ((f.dir_mode & S_IWOTH) != 0 && (f.dir_mode & S_ISVTX) == 0)
    return k + " lies in a directory writable by others and not sticky (mode " + octal(f.dir_mode) +
           "): anyone could replace it; move it to a private directory";
  if (f.size < kMinKeyBytes)
    return k + " holds " + std::to_string(f.size) + " bytes: at least " +
           std::to_string(kMinKeyBytes) + " are needed (" + std::to_string(kRecommendedKeyBytes) +
           " random bytes recommended: head -c 32 /dev/urandom > " + path + ")";
  return "";
}

std::string read_key_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw UserError("key file " + path + ": " + std::strerror(errno));
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0)
    throw UserError("key file " + path + ": its directory " + dir + ": " + std::strerror(errno));
  KeyFileFacts facts;
  facts.regular = S_ISREG(st.st_mode);
  facts.mode = st.st_mode;
  facts.owner = st.st_uid;
  facts.me = ::geteuid();
  facts.dir_mode = dst.st_mode;
  facts.size = static_cast<std::uint64_t>(st.st_size);
  if (const std::string problem = key_file_problem(path, facts); !problem.empty())
    throw UserError(problem);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("key file " + path + ": cannot open for reading");
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  facts.size = key.size();  // the file may have changed since stat
  if (const std::string problem = key_file_problem(path, facts); !problem.empty())
    throw UserError(problem);
  return key;
}

}  // namespace ecom::privacy
