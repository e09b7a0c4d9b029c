// Non-blocking output queue and line splitting for the guest agent.
#include "OutputQueue.h"

#include <unistd.h>

#include <cerrno>

namespace armorbench::vms::agent {

bool OutputQueue::write_some(int fd) {
  while (!empty()) {
    const ssize_t n = ::write(fd, buffer_.data() + offset_, size());
    if (n > 0) {
      offset_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    return false;
  }
  // Compact once the front is consumed, so a long-lived queue does not keep old bytes.
  if (offset_ > 0 && (empty() || offset_ > (1u << 20))) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return true;
}

bool LineSplitter::next(std::string& line, bool* cut) {
  const std::size_t newline = buffer_.find('\n');
  if (newline == std::string::npos && buffer_.size() < max_line_) return false;
  const std::size_t length =
      newline == std::string::npos ? max_line_ : std::min(newline, max_line_);
  line.assign(buffer_, 0, length);
  if (cut) *cut = length == max_line_ && newline != max_line_;
  buffer_.erase(0, newline == length ? length + 1 : length);
  return true;
}

std::string LineSplitter::take_rest() {
  std::string rest;
  rest.swap(buffer_);
  return rest;
}

}  // namespace armorbench::vms::agent
