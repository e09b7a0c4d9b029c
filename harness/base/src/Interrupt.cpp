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
#include <vector>

namespace armorbench {
namespace {

int g_event_fd = -1;  // written from the signal handler
std::atomic<int> g_signals_seen{0};
thread_local int t_shield_depth = 0;  // > 0 while tearing down

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

void check_interrupted() {
  if (interrupted() && t_shield_depth == 0) throw Interrupted();
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
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    check_interrupted();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const int rc =
        ::poll(all.data(), all.size(), static_cast<int>(std::max<long>(0, left.count())));
    if (rc < 0 && errno == EINTR) continue;
    check_interrupted();
    for (unsigned long i = 0; i < count; ++i) fds[i].revents = all[i].revents;
    if (rc <= 0) return rc;
    int ready = 0;
    for (unsigned long i = 0; i < count; ++i) ready += fds[i].revents != 0;
    return ready;
  }
}

}  // namespace armorbench
