// clone3-based child processes for the guest agent.
#include "ChildProcess.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

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

// Runs in the child between clone3 and execve: async-signal-safe calls only.
[[noreturn]] void exec_child(char* const* argv, char* const* envp, int out, int err,
                             int status_pipe) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the agent blocks SIGCHLD for its signalfd
  ::setsid();
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
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
  auto [out_read, out_write] = make_pipe();
  auto [err_read, err_write] = make_pipe();
  auto [status_read, status_write] = make_pipe();
  // Everything the child touches is prepared before the clone: it must not allocate.
  const std::vector<char*> argv = c_strings(spec.argv);
  const std::vector<char*> envp = c_strings(spec.env);

  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD | (spec.cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
  args.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.cgroup = spec.cgroup_fd >= 0 ? static_cast<std::uint64_t>(spec.cgroup_fd) : 0;
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) throw environment_error(std::string("clone3 failed: ") + strerror(errno));
  if (pid == 0)
    exec_child(argv.data(), envp.data(), out_write.get(), err_write.get(), status_write.get());

  pid_ = static_cast<pid_t>(pid);
  pidfd_.reset(pidfd);
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
