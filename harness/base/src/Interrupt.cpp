// Signal-to-fd plumbing for interruptible waits.
#include "armorbench/base/Interrupt.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace armorbench {
namespace {

int g_event_fd = -1;  // written from the signal handler
std::atomic<int> g_signals_seen{0};
thread_local int t_shield_depth = 0;          // > 0 while tearing down
thread_local StepDeadline* t_step = nullptr;  // the innermost open step

void on_signal(int signo) {
  if (g_signals_seen.fetch_add(1) >= 1) _exit(128 + signo);  // second signal: leave now
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(g_event_fd, &one, sizeof one);
}

}  // namespace

void install_interrupt_handlers() {
  if (g_event_fd >= 0) return;
  g_event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGHUP, &action, nullptr);
}

int interrupt_fd() {
  return g_event_fd;
}
bool interrupted() {
  return g_signals_seen.load() > 0;
}

// The thread's steps, innermost first; a friend of StepDeadline.
struct StepDeadlines {
  // The earliest deadline among the steps in force (not suspended by a later shield), and the
  // step it belongs to.
  static const StepDeadline* earliest() {
    if (std::uncaught_exceptions() > 0) return nullptr;
    const StepDeadline* first = nullptr;
    for (const StepDeadline* s = t_step; s; s = s->outer_)
      if (s->shield_depth_ == t_shield_depth && (!first || s->deadline_ < first->deadline_))
        first = s;
    return first;
  }
  static std::chrono::steady_clock::time_point deadline(const StepDeadline& s) {
    return s.deadline_;
  }
  static void check() {
    if (const StepDeadline* s = earliest(); s && std::chrono::steady_clock::now() >= s->deadline_)
      throw StepTimeout(s->step_, s->limit_);
  }
};

namespace {

std::string describe_timeout(const std::string& step, std::chrono::milliseconds limit) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3g", static_cast<double>(limit.count()) / 1000.0);
  return "step " + step + " did not finish within its limit of " + seconds + " s";
}

}  // namespace

StepTimeout::StepTimeout(std::string step, std::chrono::milliseconds limit)
    : Interrupted(describe_timeout(step, limit)), step_(std::move(step)), limit_(limit) {}

StepDeadline::StepDeadline(std::string step, std::chrono::milliseconds limit)
    : step_(std::move(step)),
      limit_(limit),
      deadline_(std::chrono::steady_clock::now() + limit),
      shield_depth_(t_shield_depth),
      outer_(t_step) {
  t_step = this;
}

StepDeadline::~StepDeadline() {
  t_step = outer_;
}

void StepDeadline::finish() const {
  if (std::chrono::steady_clock::now() >= deadline_) throw StepTimeout(step_, limit_);
}

void check_interrupted() {
  if (interrupted() && t_shield_depth == 0) throw Interrupted();
  StepDeadlines::check();
}

InterruptShield::InterruptShield() {
  ++t_shield_depth;
}
InterruptShield::~InterruptShield() {
  --t_shield_depth;
}

int poll_interruptible(pollfd* fds, unsigned long count, std::chrono::milliseconds timeout) {
  std::vector<pollfd> all(fds, fds + count);
  if (g_event_fd >= 0 && t_shield_depth == 0) all.push_back({g_event_fd, POLLIN, 0});
  auto deadline = std::chrono::steady_clock::now() + timeout;
  const StepDeadline* step = StepDeadlines::earliest();
  bool step_bounds = false;  // the step's deadline comes first: a poll timeout is the step's
  if (step && StepDeadlines::deadline(*step) < deadline) {
    deadline = StepDeadlines::deadline(*step);
    step_bounds = true;
  }
  for (;;) {
    check_interrupted();
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int rc =
        ::poll(all.data(), all.size(), static_cast<int>(std::max<long>(0, left.count())));
    if (rc < 0 && errno == EINTR) continue;
    check_interrupted();
    if (rc == 0 && step_bounds) {
      StepDeadlines::check();
      continue;  // woke a little early (millisecond rounding): the step's limit is not yet up
    }
    for (unsigned long i = 0; i < count; ++i) fds[i].revents = all[i].revents;
    if (rc <= 0) return rc;
    int ready = 0;
    for (unsigned long i = 0; i < count; ++i) ready += fds[i].revents != 0;
    return ready;
  }
}

}  // namespace armorbench
