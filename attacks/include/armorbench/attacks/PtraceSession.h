// Stops every thread of a process under ptrace for as long as the object lives, so memory can
// be read from a frozen, consistent target; the destructor detaches and thereby resumes them on
// every exit path. (If this process dies instead, the kernel detaches the tracees itself.)
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace armorbench::attacks {

class PtraceSession {
 public:
  explicit PtraceSession(pid_t pid) : pid_(pid) {}
  PtraceSession(const PtraceSession&) = delete;
  PtraceSession& operator=(const PtraceSession&) = delete;
  ~PtraceSession() { detach_all(); }

  // PTRACE_SEIZE + PTRACE_INTERRUPT each thread in /proc/PID/task and waits for its stop,
  // repeating until no new thread appears. Returns 0, or the errno of the failure that makes the
  // attack impossible (a thread that exits meanwhile is not one); `detail` says which call failed.
  int attach_all(std::string& detail);

  // Resumes every stopped thread, handing back a signal it was stopped with. Idempotent.
  void detach_all();

  std::size_t threads_stopped() const { return tracees_.size(); }

 private:
  struct Tracee {
    pid_t tid;
    int pending_signal;  // signal-delivery-stop that the interrupt raced with; re-injected
  };

  // 0 when stopped (or gone), else errno.
  int seize_and_stop(pid_t tid, std::string& detail);

  pid_t pid_;
  std::vector<Tracee> tracees_;
};

}  // namespace armorbench::attacks
