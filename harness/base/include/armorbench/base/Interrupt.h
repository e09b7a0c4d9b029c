// SIGINT/SIGTERM turned into something every blocking wait can watch: an fd that becomes readable.
// Waits poll it beside what they wait for and throw Interrupted, so destructors release every
// container, VM, BPF link and mount on the way out. A second signal exits at once (fast teardown
// is then `armorbench gc`'s job).
#pragma once

#include <poll.h>

#include <chrono>
#include <stdexcept>

namespace armorbench {

class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted by signal") {}
};

// Installs the handlers; idempotent. Process-wide by nature (signals are).
void install_interrupt_handlers();
// Readable once a signal arrived; -1 before install_interrupt_handlers().
int interrupt_fd();
bool interrupted();
// Throws Interrupted when a signal arrived.
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

// poll() on fds plus the interrupt fd; throws Interrupted. Returns poll's result for `fds`.
int poll_interruptible(pollfd* fds, unsigned long count, std::chrono::milliseconds timeout);

}  // namespace armorbench
