// clone3-based child processes for the guest agent.
#include "ChildProcess.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <tuple>

#include "armorbench/base/Error.h"

namespace armorbench::vms::agent {
namespace {

std::pair<UniqueFd, UniqueFd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw environment_error(std::string("pipe2 failed: ") + strerror(errno));
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// runc's default capability set: what a container process keeps.
constexpr int kKeptCapabilities[] = {CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE};

// In the child of a confining clone3 (own pid, mount and cgroup namespaces): a private mount
// tree with a fresh /proc for its pid namespace and cgroupfs read-only, no_new_privs, and only
// the kept capabilities. Syscalls only (async-signal-safe); returns the errno of a failure.
int confine_child() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return errno;
  const char* cgroupfs = "/sys/fs/cgroup";
  if (::mount(cgroupfs, cgroupfs, nullptr, MS_BIND | MS_REC, nullptr) != 0 ||
      ::mount(nullptr, cgroupfs, nullptr,
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return errno;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  std::uint64_t kept = 0;
  for (int cap : kKeptCapabilities) kept |= 1ULL << cap;
  for (int cap = 0; cap <= 63; ++cap)
    if (!(kept & (1ULL << cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return errno;
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return errno;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  data[0].effective = data[0].permitted = data[0].inheritable = static_cast<std::uint32_t>(kept);
  data[1].effective = data[1].permitted = data[1].inheritable =
      static_cast<std::uint32_t>(kept >> 32);
  if (::syscall(SYS_capset, &header, data) != 0) return errno;
  // Ambient too, so the kept set survives the exec of a non-setuid binary as root's does.
  for (int cap : kKeptCapabilities)
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) return errno;
  return 0;
}

// Runs in the child between clone3 and execve: async-signal-safe calls only.
[[noreturn]] void exec_child(char* const* argv, char* const* envp, int in, int out, int err,
                             int status_pipe, bool confine) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the agent blocks SIGCHLD for its signalfd
  if (confine) {
    if (const int e = confine_child(); e != 0) {
      [[maybe_unused]] ssize_t n = ::write(status_pipe, &e, sizeof e);
      ::_exit(127);
    }
  }
  ::setsid();
  const int input = in >= 0 ? in : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (input < 0 || ::dup2(input, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
    const int e = errno;
    [[maybe_unused]] ssize_t n = ::write(status_pipe, &e, sizeof e);
    ::_exit(127);
  }
  ::execve(argv[0], argv, envp);  // every other fd is O_CLOEXEC
  const int e = errno;
  [[maybe_unused]] ssize_t n = ::write(status_pipe, &e, sizeof e);
  ::_exit(127);
}

}  // namespace

ChildProcess::ChildProcess(const ChildSpec& spec) {
  if (spec.argv.empty()) throw harness_error("ChildProcess: empty argument vector");
  UniqueFd in_read, in_write;
  if (spec.stdin_pipe) std::tie(in_read, in_write) = make_pipe();
  auto [out_read, out_write] = make_pipe();
  auto [err_read, err_write] = make_pipe();
  auto [status_read, status_write] = make_pipe();
  // Everything the child touches is prepared before the clone: it must not allocate.
  const std::vector<char*> argv = c_strings(spec.argv);
  const std::vector<char*> envp = c_strings(spec.env);

  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD | (spec.cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0) |
               (spec.confine ? CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWCGROUP : 0);
  args.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.cgroup = spec.cgroup_fd >= 0 ? static_cast<std::uint64_t>(spec.cgroup_fd) : 0;
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) throw environment_error(std::string("clone3 failed: ") + strerror(errno));
  if (pid == 0)
    exec_child(argv.data(), envp.data(), in_read.get(), out_write.get(), err_write.get(),
               status_write.get(), spec.confine);

  pid_ = static_cast<pid_t>(pid);
  pidfd_.reset(pidfd);
  in_read.reset();
  out_write.reset();
  err_write.reset();
  status_write.reset();
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(status_read.get(), &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    wait_for(std::chrono::milliseconds(5000));
    throw environment_error("cannot run " + spec.argv[0] + ": " + strerror(exec_errno));
  }
  in_ = std::move(in_write);
  out_ = std::move(out_read);
  err_ = std::move(err_read);
}

ChildProcess::~ChildProcess() {
  if (status_ || pid_ <= 0) return;
  signal_group(SIGKILL);
  int raw = 0;
  while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
  }
}

bool ChildProcess::signal_group(int signo) const {
  if (status_) return false;
  // The child called setsid(), so its pid is its process group; fall back to the pid itself
  // should the group be gone already.
  if (::kill(-pid_, signo) == 0) return true;
  return ::kill(pid_, signo) == 0;
}

std::optional<ExitStatus> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  pollfd entry{pidfd_.get(), POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&entry, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc <= 0) return std::nullopt;
  int raw = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid_, &raw, 0);
  } while (reaped < 0 && errno == EINTR);
  // ECHILD: the agent's reaper got there first and has recorded the status through set_status.
  if (reaped == pid_) status_ = ExitStatus::from_wait_status(raw);
  return status_;
}

}  // namespace armorbench::vms::agent
