// Subprocess: Boost.Process for the fork/exec, a pidfd for timed waits, poll for pipes.
#include "armorbench/base/Subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>

#include <algorithm>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <filesystem>
#include <string_view>
#include <vector>

#include "armorbench/base/Error.h"
#include "armorbench/base/Interrupt.h"

namespace armorbench {
namespace bp = boost::process;

namespace {

UniqueFd open_pidfd(pid_t pid) {
  return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

std::pair<UniqueFd, UniqueFd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw harness_error(std::string("pipe2 failed: ") + strerror(errno));
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

std::string ExitStatus::describe() const {
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return "killed by SIG" + std::string(name ? name : std::to_string(signal).c_str());
  }
  return "exit " + std::to_string(code);
}

ExitStatus ExitStatus::from_wait_status(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) s.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) s.signal = WTERMSIG(status);
  return s;
}

struct Subprocess::State {
  bp::child child;
  UniqueFd pidfd;
};

Subprocess::Subprocess(const Spec& spec) {
  if (spec.argv.empty()) throw harness_error("Subprocess: empty argument vector");
  // The child's environment: ours, with spec.extra_env set over it, handed to execve by the
  // on_exec_setup below (built here: nothing allocates after the fork). Not bp::environment,
  // whose find() compares a name with every entry over the name's length, reading past the end
  // of shorter entries (AddressSanitizer: heap-buffer-overflow, Boost 1.74).
  std::vector<std::string> entries;
  for (char** entry = ::environ; entry && *entry; ++entry) {
    const std::string_view text(*entry);
    const std::string_view name = text.substr(0, text.find('='));
    if (std::none_of(spec.extra_env.begin(), spec.extra_env.end(),
                     [&](const auto& extra) { return extra.first == name; }))
      entries.emplace_back(text);
  }
  for (const auto& [key, value] : spec.extra_env) entries.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (std::string& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  char** const child_env = envp.data();

  // Each stdio stream of the child is one fd dup2'ed onto 1 or 2: a pipe's write end (capture),
  // /dev/null, or a duplicate of ours (inherit).
  auto child_end = [](Stdio mode, int own_fd, UniqueFd& read_end) {
    if (mode == Stdio::kCapture) {
      auto [read, write] = make_pipe();
      read_end = std::move(read);
      return std::move(write);
    }
    if (mode == Stdio::kNull) return UniqueFd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    return UniqueFd(::fcntl(own_fd, F_DUPFD_CLOEXEC, 3));
  };
  UniqueFd out_write = child_end(spec.out, STDOUT_FILENO, out_);
  UniqueFd err_write = child_end(spec.err, STDERR_FILENO, err_);
  // The pipe objects hand the write ends to the child's stdio (see below for who closes them).
  bp::pipe out_pipe(-1, out_write.get());
  bp::pipe err_pipe(-1, err_write.get());

  const std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());
  // A bare name is looked up on PATH, like a shell would (bp::exe takes a path).
  std::string exe = spec.argv[0];
  if (exe.find('/') == std::string::npos) exe = find_executable(exe).value_or(exe);
  std::error_code ec;
  bp::child child(
      bp::exe = exe, bp::args = args, bp::std_in<bp::null, bp::std_out> out_pipe,
      bp::std_err > err_pipe,
      bp::extend::on_exec_setup =
          [child_env](auto& exec) {
            // Nothing of ours leaks into the child: every fd above stdio closes at exec.
            // (bp::limit_handles would do it but drops redirected pipes in Boost 1.74.)
            ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
            exec.env = child_env;
          },
      ec);
  // Boost.Process closes the write ends it was given in the parent, once the child has them
  // (its pipe_out initializer, on success and on error alike): ours must not close them again.
  // A second close is no harmless EBADF once another thread may have been given the same fd
  // number in between (a libvirt socket of a VM lane was, and its connection hung).
  (void)out_write.release();
  (void)err_write.release();
  if (ec) throw environment_error("cannot run " + spec.argv[0] + ": " + ec.message());

  state_ = std::make_unique<State>();
  state_->child = std::move(child);
  state_->pidfd = open_pidfd(state_->child.id());
}

Subprocess::Subprocess(Subprocess&&) noexcept = default;
Subprocess& Subprocess::operator=(Subprocess&&) noexcept = default;

Subprocess::~Subprocess() {
  if (state_ && !status_) {
    try {
      kill_and_wait(SIGKILL);
    } catch (...) {
      // Destructors must not throw; the child is killed either way.
    }
  }
}

pid_t Subprocess::pid() const {
  return state_ ? state_->child.id() : -1;
}

std::optional<ExitStatus> Subprocess::wait_for(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  pollfd fd{state_->pidfd.get(), POLLIN, 0};
  if (poll_interruptible(&fd, 1, timeout) <= 0) return std::nullopt;
  int raw = 0;
  while (::waitpid(state_->child.id(), &raw, 0) < 0 && errno == EINTR) {
  }
  state_->child.detach();  // reaped by us: Boost must not wait or kill it again
  status_ = ExitStatus::from_wait_status(raw);
  return status_;
}

ExitStatus Subprocess::kill_and_wait(int signo) {
  if (status_) return *status_;
  ::kill(state_->child.id(), signo);
  int raw = 0;
  while (::waitpid(state_->child.id(), &raw, 0) < 0 && errno == EINTR) {
  }
  state_->child.detach();
  status_ = ExitStatus::from_wait_status(raw);
  return *status_;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::pair<std::string, std::string>>& extra_env) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  Subprocess child(
      Subprocess::Spec{argv, Subprocess::Stdio::kCapture, Subprocess::Stdio::kCapture, extra_env});
  CommandResult result;
  UniqueFd out = child.take_stdout();
  UniqueFd err = child.take_stderr();
  char buf[65536];
  while (out || err) {
    pollfd fds[2] = {{out.get(), POLLIN, 0}, {err.get(), POLLIN, 0}};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || poll_interruptible(fds, 2, left) == 0) {
      result.timed_out = true;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      UniqueFd& fd = i == 0 ? out : err;
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0)
        (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
      else if (n == 0 || errno != EINTR)
        fd.reset();
    }
  }
  if (result.timed_out) {
    result.status = child.kill_and_wait(SIGKILL);
  } else {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto status = child.wait_for(std::max(left, std::chrono::milliseconds(0)));
    if (!status) {
      result.timed_out = true;
      status = child.kill_and_wait(SIGKILL);
    }
    result.status = *status;
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return result;
}

std::optional<std::string> read_line(int fd, std::string& buffer, std::chrono::milliseconds timeout,
                                     bool* timed_out) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (timed_out) *timed_out = false;
  for (;;) {
    if (auto newline = buffer.find('\n'); newline != std::string::npos) {
      std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{fd, POLLIN, 0};
    if (left.count() <= 0 || poll_interruptible(&pfd, 1, left) == 0) {
      if (timed_out) *timed_out = true;
      return std::nullopt;
    }
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // EOF: the writer is gone
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

std::string drain(int fd, std::size_t max) {
  std::string out;
  char chunk[4096];
  while (out.size() < max) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 0) <= 0) break;
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
  }
  return out;
}

std::string output_tail(const std::string& text, std::size_t max) {
  return text.size() <= max ? text : "..." + text.substr(text.size() - max);
}

std::string join_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    out += arg.find_first_of(" \t\"'") == std::string::npos ? arg : "'" + arg + "'";
  }
  return out;
}

std::optional<std::string> find_executable(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::size_t begin = 0;
  while (begin <= dirs.size()) {
    const std::size_t end = dirs.find(':', begin);
    const std::string dir = dirs.substr(begin, end == std::string::npos ? end : end - begin);
    const std::string candidate = dir + "/" + std::string(name);
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return std::nullopt;
}

}  // namespace armorbench
