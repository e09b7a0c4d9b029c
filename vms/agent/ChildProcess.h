// A process the agent starts: the enforcer daemon or the workload. Started with clone3() so the
// child is born inside its cgroup (CLONE_INTO_CGROUP: no window in which the workload runs
// unconfined and unscoped, which a fork + write to cgroup.procs would have) and with a pidfd
// (CLONE_PIDFD) for race-free waits. Boost.Process (armorbench::Subprocess) has neither, which
// is why the agent does not use it. The child leads its own session, so stop() can signal the
// whole process group (a payload's children included).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "armorbench/base/Subprocess.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench::vms::agent {

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] is an absolute path (no PATH search)
  std::vector<std::string> env;   // the complete environment, "NAME=value"
  int cgroup_fd = -1;             // directory fd of the cgroup to start in; -1: the agent's
  // Confine it the way runc confines a container's process: its own pid, mount and cgroup
  // namespaces (it cannot see or signal the agent and the enforcer daemon, and its cgroup is
  // its root), cgroupfs read-only, no_new_privs, and only runc's default capabilities (no
  // CAP_SYS_ADMIN or CAP_BPF: no mounts, no BPF maps).
  bool confine = false;
  // stdin on a pipe the agent writes (a snapshot's warm workload reads its start there) rather
  // than /dev/null.
  bool stdin_pipe = false;
};

class ChildProcess {
 public:
  // Starts the child with stdin on /dev/null (or a pipe) and stdout/stderr on pipes. Throws an
  // environment Error when clone3 or the exec fails (the exec's errno is reported through a CLOEXEC
  // pipe).
  explicit ChildProcess(const ChildSpec& spec);
  ~ChildProcess();  // SIGKILLs the process group and reaps when still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  int stdout_fd() const { return out_.get(); }
  int stderr_fd() const { return err_.get(); }
  int stdin_fd() const { return in_.get(); }  // -1 without stdin_pipe, or once closed
  void close_stdin() { in_.reset(); }
  void close_stdout() { out_.reset(); }
  void close_stderr() { err_.reset(); }

  bool running() const { return !status_; }
  const std::optional<ExitStatus>& status() const { return status_; }
  // Records the status when the agent's reaper collected it (waitpid(-1) on SIGCHLD).
  void set_status(ExitStatus status) { status_ = status; }

  // Signals the process group; false when the child is already gone.
  bool signal_group(int signo) const;
  // Waits for exit (pidfd) up to `timeout`, then reaps. nullopt on timeout.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd in_;
  UniqueFd out_;
  UniqueFd err_;
  std::optional<ExitStatus> status_;
};

}  // namespace armorbench::vms::agent
