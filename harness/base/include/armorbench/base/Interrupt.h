// SIGINT/SIGTERM turned into something every blocking wait can watch: an fd that becomes readable.
// Waits poll it beside what they wait for and throw Interrupted, so destructors release every
// container, VM, BPF link and mount on the way out. A second signal exits at once (fast teardown
// is then `armorbench gc`'s job).
#pragma once

#include <poll.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace armorbench {

class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted by signal") {}

 protected:
  explicit Interrupted(const std::string& what) : std::runtime_error(what) {}
};

// A step of a case run (create, enforcer-load, ready, request, objective, teardown) outlived its
// limit. It unwinds like an interrupt (every destructor releases what it holds) but ends only the
// case, which the runner records as an error naming the step.
class StepTimeout : public Interrupted {
 public:
  StepTimeout(std::string step, std::chrono::milliseconds limit);
  const std::string& step() const { return step_; }
  std::chrono::milliseconds limit() const { return limit_; }

 private:
  std::string step_;
  std::chrono::milliseconds limit_;
};

// While one is open on this thread, the thread's waits (poll_interruptible, check_interrupted)
// throw StepTimeout once `limit` has passed since it opened. Steps nest: the one whose limit passes
// first is named (an inner step cannot outlive its outer one). A shield opened inside the step suspends it (what must run to completion
// runs), as does an exception already unwinding (a destructor's wait is never cut short).
// Work that never waits here (a libbpf load, a libvirt call) is checked by finish().
class StepDeadline {
 public:
  StepDeadline(std::string step, std::chrono::milliseconds limit);
  ~StepDeadline();
  StepDeadline(const StepDeadline&) = delete;
  StepDeadline& operator=(const StepDeadline&) = delete;

  // Throws StepTimeout when the step took longer than its limit, whether or not a wait noticed.
  void finish() const;

 private:
  friend struct StepDeadlines;
  std::string step_;
  std::chrono::milliseconds limit_;
  std::chrono::steady_clock::time_point deadline_;
  int shield_depth_;
  StepDeadline* outer_;
};

// Installs the handlers; idempotent. Process-wide by nature (signals are).
void install_interrupt_handlers();
// Readable once a signal arrived; -1 before install_interrupt_handlers().
int interrupt_fd();
bool interrupted();
// Throws Interrupted when a signal arrived, StepTimeout when this thread's step outlived its limit.
void check_interrupted();

// While one exists on this thread, waits ignore the interrupt: teardown (deleting a container,
// destroying a VM) must run to completion after the signal that started it.
class InterruptShield {
 public:
  InterruptShield();
  ~InterruptShield();
  InterruptShield(const InterruptShield&) = delete;
  InterruptShield& operator=(const InterruptShield&) = delete;
};

// poll() on fds plus the interrupt fd; throws Interrupted, or StepTimeout at the thread's step
// deadline. Returns poll's result for `fds`.
int poll_interruptible(pollfd* fds, unsigned long count, std::chrono::milliseconds timeout);

}  // namespace armorbench
