// Whole-process ptrace stop/resume for the ptrace memory-dump method.
#include "armorbench/attacks/PtraceSession.h"

#include <dirent.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

namespace armorbench::attacks {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

// Thread ids of the process; empty when /proc/PID/task cannot be read.
std::vector<pid_t> list_tids(pid_t pid, int& error) {
  std::vector<pid_t> tids;
  const std::string path = "/proc/" + std::to_string(pid) + "/task";
  std::unique_ptr<DIR, DirCloser> dir(::opendir(path.c_str()));
  if (!dir) {
    error = errno;
    return tids;
  }
  while (const dirent* entry = ::readdir(dir.get())) {
    pid_t tid = 0;
    const std::string_view name = entry->d_name;
    const auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), tid);
    if (ec == std::errc() && ptr == name.data() + name.size()) tids.push_back(tid);
  }
  error = 0;
  return tids;
}

}  // namespace

int PtraceSession::seize_and_stop(pid_t tid, std::string& detail) {
  // SEIZE rather than ATTACH: ATTACH sends a real SIGSTOP that the target could observe and that
  // interacts with job control; SEIZE + INTERRUPT stops the thread without a signal.
  if (::ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
    const int err = errno;
    detail = "PTRACE_SEIZE " + std::to_string(tid) + ": " + std::strerror(err);
    return err;
  }
  if (::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) {
    const int err = errno;
    detail = "PTRACE_INTERRUPT " + std::to_string(tid) + ": " + std::strerror(err);
    ::ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
    return err;
  }
  int status = 0;
  pid_t waited;
  do {
    waited = ::waitpid(tid, &status, __WALL);
  } while (waited < 0 && errno == EINTR);
  if (waited < 0) {
    const int err = errno;
    detail = "waitpid " + std::to_string(tid) + ": " + std::strerror(err);
    return err;
  }
  if (WIFEXITED(status) || WIFSIGNALED(status)) return 0;  // gone: nothing to resume
  int pending = 0;
  // A PTRACE_EVENT_STOP is our interrupt (or a group-stop); anything else is a signal that was
  // about to be delivered: it must be handed back on detach, or the target would lose it.
  if (WIFSTOPPED(status) && (status >> 16) != PTRACE_EVENT_STOP) pending = WSTOPSIG(status);
  tracees_.push_back({tid, pending});
  return 0;
}

int PtraceSession::attach_all(std::string& detail) {
  // Threads can be created while we stop the others; re-list until a pass finds none new.
  for (int pass = 0; pass < 16; ++pass) {
    int list_error = 0;
    const auto tids = list_tids(pid_, list_error);
    if (list_error != 0) {
      detail = "opendir /proc/" + std::to_string(pid_) + "/task: " + std::strerror(list_error);
      return list_error;
    }
    bool new_thread = false;
    for (pid_t tid : tids) {
      const bool known = std::any_of(tracees_.begin(), tracees_.end(),
                                     [tid](const Tracee& t) { return t.tid == tid; });
      if (known) continue;
      new_thread = true;
      const int err = seize_and_stop(tid, detail);
      // A thread other than the main one may exit between listing and seizing.
      if (err == ESRCH && tid != pid_) continue;
      if (err != 0) return err;
    }
    if (!new_thread) return 0;
  }
  return 0;
}

void PtraceSession::detach_all() {
  for (const auto& tracee : tracees_) {
    ::ptrace(PTRACE_DETACH, tracee.tid, nullptr,
             reinterpret_cast<void*>(static_cast<long>(tracee.pending_signal)));
  }
  tracees_.clear();
}

}  // namespace armorbench::attacks
