// Guest image cache: hash the inputs, rebuild only when they changed.
#include "armorbench/vms/GuestImage.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "armorbench/base/Error.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/base/Sha256.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench::vms {
namespace {

namespace fs = std::filesystem;

std::string read_trimmed(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

void hash_file(Sha256& sha, const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw environment_error("guest image input " + path.string() + " is not readable");
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    sha.update({reinterpret_cast<const std::uint8_t*>(buffer.data()), n});
  }
}

// sha256 over "kernel-version V" and, per input file, its path and content.
std::pair<std::string, std::string> input_hash(const fs::path& script) {
  const CommandResult listing =
      run_command({"/bin/sh", script.string(), "--inputs"}, std::chrono::seconds(30));
  if (!listing.status.exited_ok())
    throw environment_error("build-guest.sh --inputs failed (" + listing.status.describe() +
                            "): " + listing.err);
  Sha256 sha;
  std::string kernel_version;
  std::istringstream lines(listing.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line.starts_with("kernel-version ")) kernel_version = line.substr(15);
    const std::string header = line + '\n';
    sha.update({reinterpret_cast<const std::uint8_t*>(header.data()), header.size()});
    if (line.front() == '/') hash_file(sha, line);
  }
  const Sha256::Digest digest = sha.finish();
  return {to_hex(digest), kernel_version};
}

GuestImage image_in(const fs::path& cache_dir) {
  GuestImage image;
  image.kernel = cache_dir / "vmlinux";
  image.initrd = cache_dir / "initramfs.cpio.gz";
  if (fs::exists(cache_dir / "vmlinux.h")) image.vmlinux_h = cache_dir / "vmlinux.h";
  image.hash = read_trimmed(cache_dir / "guest.sha256");
  image.input_hash = read_trimmed(cache_dir / "input.sha256");
  return image;
}

bool complete(const GuestImage& image) {
  return !image.hash.empty() && fs::exists(image.kernel) && fs::exists(image.initrd);
}

}  // namespace

UniqueFd lock_cache_dir(const fs::path& cache_dir) {
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  if (ec) throw environment_error("cannot create " + cache_dir.string() + ": " + ec.message());
  // QEMU (user libvirt-qemu) opens what the cache holds (kernel, initrd, root images): it must
  // be traversable.
  fs::permissions(cache_dir,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                      fs::perms::others_read | fs::perms::others_exec,
                  ec);
  const fs::path path = cache_dir / ".lock";
  UniqueFd lock(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock) throw environment_error("cannot open " + path.string() + ": " + strerror(errno));
  // Polled rather than blocked on, so that SIGINT/SIGTERM (and a step's deadline) end the wait,
  // and said once it lasts: a build of the other process can take minutes.
  const auto start = std::chrono::steady_clock::now();
  bool said = false;
  while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      throw environment_error("cannot lock " + path.string() + ": " + strerror(errno));
    if (!said && std::chrono::steady_clock::now() - start > kLockWaitBeforeSaying) {
      said = true;
      std::string holder;
      std::getline(std::ifstream(path), holder);
      std::cerr << "armorbench: waiting for " << path.string() << ": another process"
                << (holder.empty() ? std::string() : " (pid " + holder + ")")
                << " builds the guest image or a VM snapshot there (a snapshot build takes ~1 "
                   "min under TCG)\n";
    }
    poll_interruptible(nullptr, 0, std::chrono::milliseconds(100));
  }
  // Who holds it, for the next one to wait.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock.get(), 0) == 0) [[maybe_unused]]
    const ssize_t written = ::pwrite(lock.get(), pid.data(), pid.size(), 0);
  return lock;
}

GuestImage ensure_guest_image(const fs::path& cache_dir, const fs::path& data_dir) {
  const fs::path script = data_dir / "vms" / "guest" / "build-guest.sh";
  if (!fs::exists(script)) throw environment_error("guest builder not found: " + script.string());
  const UniqueFd lock = lock_cache_dir(cache_dir);
  std::error_code ec;

  const auto [key, kernel_version] = input_hash(script);
  GuestImage image = image_in(cache_dir);
  image.kernel_version = kernel_version;
  if (image.input_hash == key && complete(image)) return image;

  // Inputs changed (or no image yet): forget the old key first, so a failed build is not cached.
  fs::remove(cache_dir / "input.sha256", ec);
  const CommandResult build = run_command(
      {"/bin/sh", script.string(), cache_dir.string(), kernel_version}, std::chrono::minutes(5));
  if (!build.status.exited_ok())
    throw environment_error("build-guest.sh failed (" + build.status.describe() +
                            "): " + build.err);
  std::ofstream(cache_dir / "input.sha256") << key << "\n";
  image = image_in(cache_dir);
  image.kernel_version = kernel_version;
  image.rebuilt = true;
  image.build_time = build.elapsed;
  if (!complete(image))
    throw environment_error("build-guest.sh left an incomplete image in " + cache_dir.string());
  return image;
}

}  // namespace armorbench::vms
