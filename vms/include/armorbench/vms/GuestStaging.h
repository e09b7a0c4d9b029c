// Host files a guest must read, copied where it can see them. The guest mounts the host root
// read-only over 9p but gets its own /tmp, /run and /dev (like a container), so a checkout or a
// build directory under the host's /tmp is invisible inside it.
#pragma once

#include <filesystem>

namespace armorbench::vms {

// Whether a host path is the same file in the guest (not below /tmp, /run, /dev, /proc, /sys).
bool guest_sees(const std::filesystem::path& host_path);

// A directory (under /var/tmp unless given) that receives copies; removed with its contents.
class GuestStaging {
 public:
  explicit GuestStaging(std::filesystem::path dir);
  ~GuestStaging();
  GuestStaging(const GuestStaging&) = delete;
  GuestStaging& operator=(const GuestStaging&) = delete;

  // Copies `host_file` (mode kept) to `name` (a path relative to the staging dir, parents
  // created) and returns the copy's path.
  std::filesystem::path add(const std::filesystem::path& host_file, const std::string& name);
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace armorbench::vms
