// The guest image (kernel + initramfs) built by vms/guest/build-guest.sh from Debian's kernel,
// its modules and busybox-static, cached by the content hash of those inputs.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "armorbench/base/UniqueFd.h"

namespace armorbench::vms {

inline constexpr const char* kDefaultGuestCacheDir = "/var/cache/armorbench/guest";

struct GuestImage {
  std::filesystem::path kernel;     // ELF vmlinux: QEMU boots it through the PVH entry
  std::filesystem::path initrd;     // initramfs.cpio.gz
  std::filesystem::path vmlinux_h;  // the guest kernel's BTF as C; empty when bpftool was absent
  std::string kernel_version;       // e.g. 6.1.0-56-amd64
  std::string hash;                 // guest-sha256: over vmlinuz, vmlinux and initramfs
  std::string input_hash;           // sha256 over the build inputs (the cache key)
  bool rebuilt = false;             // false: served from the cache
  std::chrono::milliseconds build_time{0};
};

// Returns the cached image when the content hash of its inputs (build-guest.sh, init.sh,
// extract-vmlinux.py, the kernel, busybox, the modules, as listed by `build-guest.sh --inputs`)
// matches the one recorded in `cache_dir`; otherwise runs build-guest.sh into `cache_dir`.
// `data_dir` is the source tree (it holds vms/guest/). Concurrent callers serialise on a lock
// file in `cache_dir`. Throws an environment Error when the build fails (with its stderr).
// Creates a cache dir QEMU can traverse and takes its lock (`.lock`, exclusive, waiting):
// concurrent builders serialise. Held while the returned descriptor lives; the file names the
// holder's pid. A wait longer than kLockWaitBeforeSaying says on stderr what it waits for; a
// signal (or the thread's StepDeadline) ends it with Interrupted.
inline constexpr std::chrono::milliseconds kLockWaitBeforeSaying{2000};
UniqueFd lock_cache_dir(const std::filesystem::path& cache_dir);

GuestImage ensure_guest_image(const std::filesystem::path& cache_dir,
                              const std::filesystem::path& data_dir);

}  // namespace armorbench::vms
