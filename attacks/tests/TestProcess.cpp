// Child-process runner for tests (fork/exec with argv, stdout capture, wait4 rusage).
#include "TestProcess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace armorbench::attacks::testing {

double ProcessExit::cpu_seconds() const {
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

TestProcess::TestProcess(const std::vector<std::string>& argv,
                         const std::function<void()>& in_child) {
  std::vector<char*> cargv;
  for (const auto& arg : argv) cargv.push_back(const_cast<char*>(arg.c_str()));
  cargv.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  pid_ = ::fork();
  if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid_ == 0) {
    ::dup2(write_end.get(), STDOUT_FILENO);
    if (in_child) in_child();
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  stdout_ = std::move(read_end);
  // A pidfd makes "wait for exit with a deadline" a poll instead of a sleep loop.
  pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
}

TestProcess::~TestProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

std::optional<ProcessExit> TestProcess::finish(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto remaining_ms = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<long long>(0, left.count()));
  };
  char buf[4096];
  while (stdout_) {
    pollfd pfd{stdout_.get(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, remaining_ms());
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const ssize_t n = ::read(stdout_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stdout_.reset();
      break;
    }
    output_.append(buf, static_cast<std::size_t>(n));
  }
  if (pidfd_) {
    pollfd pfd{pidfd_.get(), POLLIN, 0};
    while (::poll(&pfd, 1, remaining_ms()) < 0 && errno == EINTR) {
    }
    if (!(pfd.revents & POLLIN)) return std::nullopt;  // destructor kills it
  }
  ProcessExit exit;
  int status = 0;
  if (::wait4(pid_, &status, 0, &exit.usage) != pid_) return std::nullopt;
  reaped_ = true;
  if (WIFEXITED(status)) exit.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
  return exit;
}

}  // namespace armorbench::attacks::testing
