// Test support: runs a binary as a child with an argument vector (no shell), captures its
// stdout, and reaps it with wait4 so the test can see its exit status and CPU time. The child
// is killed and reaped on every exit path of the test.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "armorbench/base/UniqueFd.h"

namespace armorbench::attacks::testing {

struct ProcessExit {
  int code = -1;   // exit code, or -1 when killed by a signal
  int signal = 0;  // terminating signal
  rusage usage{};  // of the child alone, from wait4

  double cpu_seconds() const;
};

class TestProcess {
 public:
  // `in_child` runs between fork and exec (async-signal-safe calls only: prctl, setresuid...).
  // Throws std::system_error when fork/pipe fail.
  explicit TestProcess(const std::vector<std::string>& argv,
                       const std::function<void()>& in_child = {});
  TestProcess(const TestProcess&) = delete;
  TestProcess& operator=(const TestProcess&) = delete;
  ~TestProcess();

  pid_t pid() const { return pid_; }

  // Reads stdout to EOF (the child exiting closes it) with a deadline, then reaps the child.
  // nullopt when the deadline passed first; the child is then killed.
  std::optional<ProcessExit> finish(std::chrono::milliseconds timeout);
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  UniqueFd stdout_;
  UniqueFd pidfd_;
  std::string output_;
  bool reaped_ = false;
};

}  // namespace armorbench::attacks::testing
