// One virtio-serial port as the guest sees it (/dev/virtio-ports/<name>): a byte stream to a
// unix socket on the host, with no connect or close events of its own. While no host client is
// connected, read() returns 0 and poll() reports POLLIN|POLLHUP at once, every time; so after a
// 0-byte read the port is left out of poll() and looked at again after kRecheck, instead of
// spinning on it (vms/NOTES: "agents must not busy-loop there").
#pragma once

#include <poll.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "OutputQueue.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench::vms::agent {

class VirtioPort {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kRecheck{100};

  // Opens the port (blocking until it exists is the init script's job).
  explicit VirtioPort(std::string path);

  // Blocking write, used once before the event loop: the guest's first write waits until the
  // host has connected, which is exactly the "host is listening" signal the hello needs.
  void write_blocking(std::string_view bytes);
  // Switches to non-blocking mode for the event loop.
  void make_nonblocking();

  // The poll entry for this port; fd -1 (ignored by poll) while the host is away.
  pollfd poll_entry(bool want_input) const;
  // When the port must be looked at again although poll() has nothing (host away), or nullopt.
  std::optional<Clock::time_point> recheck_at() const { return away_until_; }

  // Reads what is there; nullopt when nothing was read (EAGAIN, or the host is away).
  std::optional<std::string> read_some();
  void queue(std::string_view bytes) { out_.push(bytes); }
  bool has_output() const { return !out_.empty(); }
  std::size_t queued() const { return out_.size(); }
  // Writes queued bytes; false when the port refused them.
  bool flush_some() { return out_.write_some(fd_.get()); }
  // Blocks (poll) until the queue is written or `timeout` passed: used before power-off.
  bool drain(std::chrono::milliseconds timeout);

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  UniqueFd fd_;
  OutputQueue out_;
  std::optional<Clock::time_point> away_until_;
};

}  // namespace armorbench::vms::agent
