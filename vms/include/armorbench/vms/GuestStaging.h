// Host files a guest must read, copied where it can see them. The guest mounts the host root
// read-only over 9p but gets its own /tmp, /run and /dev (like a container), so a checkout or a
// build directory under the host's /tmp is invisible inside it.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace armorbench::vms {

// Whether a host path is the same file in the guest (not below /tmp, /run, /dev, /proc, /sys).
bool guest_sees(const std::filesystem::path& host_path);

// A directory the guest sees (refused otherwise) that receives the copies.
class GuestStaging {
 public:
  enum class Cleanup {
    kRemove,
    kLeave
  };  // kLeave: an owner of the parent removes it (or keeps it)
  explicit GuestStaging(std::filesystem::path dir, Cleanup cleanup = Cleanup::kRemove);
  ~GuestStaging();
  GuestStaging(const GuestStaging&) = delete;
  GuestStaging& operator=(const GuestStaging&) = delete;

  // Copies `host_file` (mode kept) to `name` (a path relative to the staging dir, parents
  // created) and returns the copy's path.
  std::filesystem::path add(const std::filesystem::path& host_file, const std::string& name);
  // Copies `host_file` once, under its own file name in a numbered folder, so that messages
  // naming the copy (a policy's file:line:column) still name the file; the same source gives
  // the same copy.
  std::filesystem::path add_named(const std::filesystem::path& host_file);
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  Cleanup cleanup_;
  std::map<std::filesystem::path, std::filesystem::path> named_;
};

}  // namespace armorbench::vms
