// Per-run scratch space and the host resources tied to it (RAII): a temporary directory removed
// on every exit path, and mounts unmounted before anything below them is removed.
#pragma once

#include <filesystem>
#include <string>

namespace armorbench {

// Removes a directory tree without ever crossing into another filesystem or following a
// symlink: a bind mount of the host root below it is skipped, never emptied.
void remove_tree(const std::filesystem::path& root);

class ScopedDirectory {
 public:
  explicit ScopedDirectory(std::filesystem::path path);  // creates it (and parents)
  ScopedDirectory(ScopedDirectory&& other) noexcept;
  ScopedDirectory& operator=(ScopedDirectory&&) = delete;
  ScopedDirectory(const ScopedDirectory&) = delete;
  ~ScopedDirectory();

  const std::filesystem::path& path() const { return path_; }
  // Leaves the directory in place (for --keep-work debugging).
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

// The host root bound read-only at `target` (non-recursive: an rbind would drag /sys along and
// runc fails with EBUSY mounting sysfs; see HOST-NOTES). Unmounted in the destructor.
class HostRootBind {
 public:
  explicit HostRootBind(std::filesystem::path target);
  HostRootBind(const HostRootBind&) = delete;
  HostRootBind& operator=(const HostRootBind&) = delete;
  ~HostRootBind();
  const std::filesystem::path& path() const { return target_; }

 private:
  std::filesystem::path target_;
};

// A tmpfs of `bytes` at `target` (a sandbox's writable storage under a disk limit): writes past
// its size fail with ENOSPC. Unmounted (lazily) in the destructor; `armorbench gc` finds one a
// crash left inside a run's work dir.
class SizedTmpfs {
 public:
  SizedTmpfs(std::filesystem::path target, std::uint64_t bytes);
  SizedTmpfs(const SizedTmpfs&) = delete;
  SizedTmpfs& operator=(const SizedTmpfs&) = delete;
  ~SizedTmpfs();
  const std::filesystem::path& path() const { return target_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  std::filesystem::path target_;
  std::uint64_t bytes_;
};

}  // namespace armorbench
