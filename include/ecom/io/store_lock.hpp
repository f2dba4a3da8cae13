#pragma once
// The writer lock of an event store: an advisory, exclusive lock (flock) on the file
// `STORE.lock` beside the store, held by rank 0 of the writing job for the whole write (ingest,
// append, purge, forget). The holder writes who it is into the file (host, pid, command, since)
// so that a second writer can name it; the text is cleared on release and the file stays.
// Readers take no lock: a store is replaced by an atomic rename. docs/STORE.md, "Writer lock".
#include <optional>
#include <string>

namespace ecom::par {
class Comm;
}

namespace ecom::io {

// "S" -> "S.lock".
std::string store_lock_path(const std::string& store);

// Local (POSIX): one process's hold of a lock file.
class LockFile {
 public:
  // Tries once to lock `path` (created if missing, mode 0644) without waiting. On success the
  // holder text `holder` is written into the file. When another process holds it, returns
  // nullopt and sets `holder_out` to the text the holder wrote. Throws Error if the file cannot
  // be opened or locked for another reason.
  static std::optional<LockFile> try_lock(const std::string& path, const std::string& holder,
                                          std::string& holder_out);
  LockFile(LockFile&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  LockFile& operator=(LockFile&& o) noexcept;
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  ~LockFile() { release(); }
  // Clears the holder text and unlocks (also done by the destructor).
  void release() noexcept;

 private:
  explicit LockFile(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// "host H, pid P, command C, since T" of the holder text a LockFile wrote (lines key=value).
std::string describe_holder(const std::string& holder_text);

// Collective: the writer lock of `store`, taken by rank 0 and agreed by all ranks; released by
// the destructor (on rank 0). Rank 0 retries for up to `timeout_s` seconds (0: one try); then
// every rank throws a collective Error with ExitCode::locked and one line naming the holder:
// `event store S is locked by another writer (host H, pid P, command C, since T)`. A missing
// directory is ExitCode::usage; another failure to create or lock the file ExitCode::comm.
class StoreLock {
 public:
  static StoreLock acquire(par::Comm& comm, const std::string& store, double timeout_s,
                           const std::string& command);
  StoreLock(StoreLock&&) noexcept = default;
  StoreLock& operator=(StoreLock&&) noexcept = default;

 private:
  explicit StoreLock(std::optional<LockFile> file) : file_(std::move(file)) {}
  std::optional<LockFile> file_;  // rank 0 only
};

}  // namespace ecom::io
