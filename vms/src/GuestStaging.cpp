// Copies of host files for the guest (see GuestStaging.h).
#include "armorbench/vms/GuestStaging.h"

#include <string>
#include <system_error>

#include "armorbench/base/Error.h"

namespace armorbench::vms {
namespace fs = std::filesystem;

bool guest_sees(const fs::path& host_path) {
  // Lexical: the guest resolves the path in its own view, where /proc and /tmp are its own.
  const fs::path path = fs::absolute(host_path).lexically_normal();
  auto part = path.begin();
  if (part == path.end() || ++part == path.end()) return true;  // "/" itself
  for (const char* hidden : {"tmp", "run", "dev", "proc", "sys"})
    if (*part == hidden) return false;
  return true;
}

GuestStaging::GuestStaging(fs::path dir, Cleanup cleanup)
    : dir_(std::move(dir)), cleanup_(cleanup) {
  if (!guest_sees(dir_))
    throw input_error("staging dir " + dir_.string() + " is not visible in the guest");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw environment_error("cannot create " + dir_.string() + ": " + ec.message());
}

GuestStaging::~GuestStaging() {
  std::error_code ec;
  if (cleanup_ == Cleanup::kRemove) fs::remove_all(dir_, ec);
}

fs::path GuestStaging::add(const fs::path& host_file, const std::string& name) {
  const fs::path copy = dir_ / name;
  std::error_code ec;
  fs::create_directories(copy.parent_path(), ec);
  fs::copy_file(host_file, copy, fs::copy_options::overwrite_existing, ec);
  if (ec)
    throw environment_error("cannot stage " + host_file.string() +
                            " for the guest: " + ec.message());
  return copy;
}

fs::path GuestStaging::add_named(const fs::path& host_file) {
  if (auto it = named_.find(host_file); it != named_.end()) return it->second;
  const fs::path copy =
      add(host_file, (fs::path(std::to_string(named_.size())) / host_file.filename()).string());
  return named_[host_file] = copy;
}

}  // namespace armorbench::vms
