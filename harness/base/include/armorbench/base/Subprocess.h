// Child processes run with an argument vector (never a shell string) through Boost.Process,
// with interruptible, timed waits on a pidfd and pipes that are closed in every other child.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "armorbench/base/UniqueFd.h"

namespace armorbench {

struct ExitStatus {
  int code = -1;   // exit code when the process exited
  int signal = 0;  // terminating signal when it was killed

  bool exited_ok() const { return signal == 0 && code == 0; }
  // "exit 0", "exit 3", "killed by SIGKILL"
  std::string describe() const;
  static ExitStatus from_wait_status(int status);
};

class Subprocess {
 public:
  enum class Stdio { kNull, kCapture, kInherit };
  struct Spec {
    std::vector<std::string> argv;
    Stdio out = Stdio::kCapture;
    Stdio err = Stdio::kCapture;
    std::vector<std::pair<std::string, std::string>> extra_env;
  };

  explicit Subprocess(const Spec& spec);
  Subprocess(Subprocess&&) noexcept;
  Subprocess& operator=(Subprocess&&) noexcept;
  // Kills (SIGKILL) and reaps the child when it is still running.
  ~Subprocess();

  pid_t pid() const;
  // Read ends of captured pipes (-1 when not captured or taken).
  int stdout_fd() const { return out_.get(); }
  int stderr_fd() const { return err_.get(); }
  UniqueFd take_stdout() { return std::move(out_); }
  UniqueFd take_stderr() { return std::move(err_); }

  // The exit status, or nullopt when `timeout` passed first. Throws Interrupted.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  ExitStatus kill_and_wait(int signo);
  std::optional<ExitStatus> status() const { return status_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  UniqueFd out_;
  UniqueFd err_;
  std::optional<ExitStatus> status_;
};

struct CommandResult {
  ExitStatus status;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
  bool timed_out = false;
};

// Runs a command to completion (killing it at `timeout`), capturing stdout and stderr;
// `extra_env` is added to (or replaces in) the environment it inherits.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::pair<std::string, std::string>>& extra_env = {});

// Reads one line from `fd` (without the newline) with a deadline; nullopt on EOF or timeout
// (`timed_out` tells which). `buffer` carries bytes read past the line between calls.
std::optional<std::string> read_line(int fd, std::string& buffer, std::chrono::milliseconds timeout,
                                     bool* timed_out = nullptr);

// Everything readable from `fd` right now, without blocking.
std::string drain(int fd, std::size_t max = static_cast<std::size_t>(-1));

std::string join_argv(const std::vector<std::string>& argv);

// The last `max` bytes of a process's output (stderr, a console log) for a message or evidence,
// starting with "..." when it was cut.
std::string output_tail(const std::string& text, std::size_t max);

// Finds an executable on PATH; nullopt when absent.
std::optional<std::string> find_executable(std::string_view name);

}  // namespace armorbench
