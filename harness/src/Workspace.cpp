// Safe removal of scratch trees and RAII mounts.
#include "armorbench/harness/Workspace.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "armorbench/base/Error.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench {
namespace fs = std::filesystem;
namespace {

// Empties the directory `dir_fd` (on device `device`) and returns whether it is now empty.
bool remove_contents(int dir_fd, dev_t device) {
  UniqueFd own(::dup(dir_fd));
  DIR* dir = ::fdopendir(own.release());
  if (!dir) return false;
  bool empty = true;
  while (dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      empty = false;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != device) {  // a mount point: never descend, leave it for its owner
        empty = false;
        continue;
      }
      UniqueFd child(
          ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child || !remove_contents(child.get(), device) ||
          ::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0)
        empty = false;
    } else if (::unlinkat(dir_fd, name.c_str(), 0) != 0) {
      empty = false;
    }
  }
  ::closedir(dir);
  return empty;
}

}  // namespace

void remove_tree(const fs::path& root) {
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    ::unlink(root.c_str());
    return;
  }
  UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd && remove_contents(fd.get(), st.st_dev)) ::rmdir(root.c_str());
}

ScopedDirectory::ScopedDirectory(fs::path path) : path_(std::move(path)) {
  std::error_code ec;
  fs::create_directories(path_, ec);
  if (ec)
    throw environment_error("cannot create directory " + path_.string() + ": " + ec.message());
}

ScopedDirectory::ScopedDirectory(ScopedDirectory&& other) noexcept
    : path_(std::move(other.path_)), keep_(other.keep_) {
  other.keep_ = true;  // the moved-from object owns nothing
}

ScopedDirectory::~ScopedDirectory() {
  if (!keep_ && !path_.empty()) remove_tree(path_);
}

HostRootBind::HostRootBind(fs::path target) : target_(std::move(target)) {
  fs::create_directories(target_);
  if (::mount("/", target_.c_str(), nullptr, MS_BIND, nullptr) != 0)
    throw environment_error("cannot bind the host root at " + target_.string() + ": " +
                            strerror(errno) + " (needs root)");
  // Private: containers mounting below it must not propagate back to the host's mount tree.
  ::mount(nullptr, target_.c_str(), nullptr, MS_PRIVATE, nullptr);
  if (::mount(nullptr, target_.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    const int err = errno;
    ::umount2(target_.c_str(), MNT_DETACH);
    throw environment_error("cannot make the host root bind read-only: " +
                            std::string(strerror(err)));
  }
}

HostRootBind::~HostRootBind() {
  ::umount2(target_.c_str(), MNT_DETACH);
}

SizedTmpfs::SizedTmpfs(fs::path target, std::uint64_t bytes)
    : target_(std::move(target)), bytes_(bytes) {
  fs::create_directories(target_);
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
  if (::mount("armorbench-disk", target_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) !=
      0)
    throw environment_error("cannot mount a " + std::to_string(bytes) + "-byte tmpfs at " +
                            target_.string() + ": " + strerror(errno) + " (needs root)");
}

SizedTmpfs::~SizedTmpfs() {
  ::umount2(target_.c_str(), MNT_DETACH);
}

}  // namespace armorbench
