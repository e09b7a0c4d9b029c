// The resume op's guest-side steps: the host root as the root of the restored guest, its clock
// and its entropy.
#include "HostRoot.h"

#include <fcntl.h>
#include <linux/random.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "armorbench/base/Error.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench::vms::agent {
namespace {

// What init.sh mounted below the root image, moved onto the host root. /sys carries cgroupfs,
// bpffs, tracefs and securityfs; /dev carries devpts and /dev/shm.
constexpr const char* kMoved[] = {"/proc", "/sys", "/dev", "/tmp", "/run"};

// The same 9p options as init.sh's cold boot (the root is read-only, so a loose cache is safe).
constexpr const char* kHostRootOptions = "trans=virtio,version=9p2000.L,msize=524288,cache=loose";

struct StepFailure {
  int step = 0;  // index into the helper's step names; 0 = none
  int error = 0;
};

// Syscalls only: also runs in the forked helper.
int move_and_pivot() {
  for (const char* dir : kMoved) {
    const std::string target = std::string(kNewRootDir) + dir;
    if (::mount(dir, target.c_str(), nullptr, MS_MOVE, nullptr) != 0) return errno;
  }
  // pivot_root(".", "."): the old root ends up stacked on the new one and is detached at once,
  // which needs no directory for it on the (read-only) host root.
  if (::chdir(kNewRootDir) != 0 || ::syscall(SYS_pivot_root, ".", ".") != 0 ||
      ::umount2(".", MNT_DETACH) != 0 || ::chdir("/") != 0)
    return errno;
  return 0;
}

}  // namespace

void adopt_host_root() {
  if (::mount("hostroot", kNewRootDir, "9p", MS_RDONLY, kHostRootOptions) != 0)
    throw environment_error(std::string("mounting the 9p host root at ") + kNewRootDir + ": " +
                            strerror(errno));
  if (const int e = move_and_pivot(); e != 0)
    throw environment_error(std::string("switching to the host root: ") + strerror(e));
}

void adopt_host_root_in(pid_t pid) {
  // A clone of the agent's new root mount (the same 9p superblock: one page cache, as in a cold
  // guest, where the workload's namespace is a copy of the agent's).
  UniqueFd tree(static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (!tree) throw environment_error(std::string("open_tree of the host root: ") + strerror(errno));
  const std::string ns_path = "/proc/" + std::to_string(pid) + "/ns/mnt";
  UniqueFd ns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) throw environment_error("cannot open " + ns_path + ": " + strerror(errno));
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw environment_error(std::string("pipe2: ") + strerror(errno));
  UniqueFd report_read(fds[0]), report_write(fds[1]);

  // setns() to another mount namespace changes the caller's root for good: a child does it.
  const pid_t helper = ::fork();
  if (helper < 0) throw environment_error(std::string("fork: ") + strerror(errno));
  if (helper == 0) {
    StepFailure failure;
    if (::setns(ns.get(), CLONE_NEWNS) != 0)
      failure = {1, errno};
    else if (::syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, kNewRootDir,
                       MOVE_MOUNT_F_EMPTY_PATH) != 0)
      failure = {2, errno};
    else if (const int e = move_and_pivot(); e != 0)
      failure = {3, e};
    [[maybe_unused]] const ssize_t n = ::write(report_write.get(), &failure, sizeof failure);
    ::_exit(failure.step == 0 ? 0 : 1);
  }
  report_write.reset();
  StepFailure failure;
  ssize_t n;
  do {
    n = ::read(report_read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  int status = 0;
  while (::waitpid(helper, &status, 0) < 0 && errno == EINTR) {
  }
  static constexpr const char* kSteps[] = {"", "setns", "move_mount", "move and pivot_root"};
  if (n != static_cast<ssize_t>(sizeof failure))
    throw environment_error("the mount namespace helper died (status " + std::to_string(status) +
                            ")");
  if (failure.step != 0)
    throw environment_error(std::string("switching the workload's namespace to the host root (") +
                            kSteps[failure.step] + "): " + strerror(failure.error));
}

void set_wall_clock(std::int64_t unix_time_ns) {
  const timespec now{static_cast<time_t>(unix_time_ns / 1'000'000'000),
                     static_cast<long>(unix_time_ns % 1'000'000'000)};
  if (::clock_settime(CLOCK_REALTIME, &now) != 0)
    throw environment_error(std::string("clock_settime: ") + strerror(errno));
}

void reseed_entropy(const std::string& bytes) {
  UniqueFd random(::open("/dev/urandom", O_WRONLY | O_CLOEXEC));
  if (!random) throw environment_error(std::string("open /dev/urandom: ") + strerror(errno));
  std::vector<char> buffer(sizeof(rand_pool_info) + bytes.size());
  auto* info = reinterpret_cast<rand_pool_info*>(buffer.data());
  info->entropy_count = static_cast<int>(bytes.size() * 8);
  info->buf_size = static_cast<int>(bytes.size());
  std::memcpy(info->buf, bytes.data(), bytes.size());
  if (::ioctl(random.get(), RNDADDENTROPY, info) != 0 || ::ioctl(random.get(), RNDRESEEDCRNG) != 0)
    throw environment_error(std::string("reseeding the CRNG: ") + strerror(errno));
}

}  // namespace armorbench::vms::agent
