#include "ecom/io/store_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <thread>

#include "ecom/core/error.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::io {

std::string store_lock_path(const std::string& store) { return store + ".lock"; }

namespace {

std::string holder_text(const std::string& command) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "unknown");
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char since[32];
  std::strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string cmd = command.empty() ? std::string("unknown") : command;
  for (char& c : cmd)
    if (c == '\n' || c == '\r') c = ' ';
  return "host=" + std::string(host) + "\npid=" + std::to_string(::getpid()) + "\ncommand=" + cmd +
         "\nsince=" + since + "\n";
}

std::string read_all(int fd) {
  std::string text;
  char buf[4096];
  off_t off = 0;
  while (true) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    off += n;
  }
  return text;
}

}  // namespace

std::optional<LockFile> LockFile::try_lock(const std::string& path, const std::string& holder,
                                           std::string& holder_out) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error("cannot open lock file " + path + ": " + std::strerror(errno), ExitCode::comm);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) holder_out = read_all(fd);
    ::close(fd);
    if (err == EWOULDBLOCK) return std::nullopt;
    throw Error("cannot lock " + path + ": " + std::strerror(err), ExitCode::comm);
  }
  LockFile lock(fd);
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size()))
    throw Error("cannot write lock file " + path + ": " + std::strerror(errno), ExitCode::comm);
  return lock;
}

LockFile& LockFile::operator=(LockFile&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void LockFile::release() noexcept {
  if (fd_ < 0) return;
  // Cleared before unlocking, so a text in the file always belongs to a live holder.
  [[maybe_unused]] const int rc = ::ftruncate(fd_, 0);
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
  fd_ = -1;
}

std::string describe_holder(const std::string& holder_text) {
  std::string host = "?", pid = "?", command = "?", since = "?";
  std::istringstream in(holder_text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "host") host = value;
    if (key == "pid") pid = value;
    if (key == "command") command = value;
    if (key == "since") since = value;
  }
  return "host " + host + ", pid " + pid + ", command " + command + ", since " + since;
}

StoreLock StoreLock::acquire(par::Comm& comm, const std::string& store, double timeout_s,
                             const std::string& command) {
  std::optional<LockFile> file;
  std::string error;
  ExitCode code = ExitCode::locked;
  if (comm.rank() == 0) {
    const std::string path = store_lock_path(store);
    const auto dir = std::filesystem::path(store).parent_path();
    std::error_code ec;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(timeout_s, 0.0));
    const std::string me = holder_text(command);
    std::string holder;
    try {
      if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
        code = ExitCode::usage;
        error = "cannot write " + store + ": directory " + dir.string() + " does not exist";
      }
      while (error.empty() && !(file = LockFile::try_lock(path, me, holder))) {
        if (std::chrono::steady_clock::now() >= deadline) {
          error = "event store " + store + " is locked by another writer (" +
                  describe_holder(holder) + "); retry later or raise --lock-timeout";
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    } catch (const Error& e) {
      code = e.code();
      error = e.what();
    }
  }
  par::agree(comm, error, code);
  return StoreLock(std::move(file));
}

}  // namespace ecom::io
