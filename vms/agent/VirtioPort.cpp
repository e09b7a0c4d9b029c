// virtio-serial port handling for the guest agent.
#include "VirtioPort.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>

#include "armorbench/base/Error.h"

namespace armorbench::vms::agent {

VirtioPort::VirtioPort(std::string path) : path_(std::move(path)) {
  fd_.reset(::open(path_.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!fd_) throw environment_error("cannot open " + path_ + ": " + strerror(errno));
}

void VirtioPort::write_blocking(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw environment_error("writing " + path_ + ": " + strerror(errno));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void VirtioPort::make_nonblocking() {
  const int flags = ::fcntl(fd_.get(), F_GETFL);
  ::fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK);
}

pollfd VirtioPort::poll_entry(bool want_input) const {
  if (away_until_) return {-1, 0, 0};
  short events = 0;
  if (want_input) events |= POLLIN;
  if (!out_.empty()) events |= POLLOUT;
  return {fd_.get(), events, 0};
}

std::optional<std::string> VirtioPort::read_some() {
  if (away_until_) {
    if (Clock::now() < *away_until_) return std::nullopt;
    away_until_.reset();  // look again: the next poll() tells whether the host is back
  }
  char buffer[65536];
  const ssize_t n = ::read(fd_.get(), buffer, sizeof buffer);
  if (n > 0) return std::string(buffer, static_cast<std::size_t>(n));
  if (n == 0) away_until_ = Clock::now() + kRecheck;  // no host client on the socket
  return std::nullopt;
}

bool VirtioPort::drain(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!out_.empty()) {
    if (!out_.write_some(fd_.get())) return false;
    if (out_.empty()) break;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd entry{fd_.get(), POLLOUT, 0};
    if (::poll(&entry, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) return false;
  }
  return true;
}

}  // namespace armorbench::vms::agent
