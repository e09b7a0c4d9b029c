// Bytes waiting to be written to a non-blocking fd: the agent never blocks on a slow reader
// (the host, the model server), it keeps what did not fit and writes it when poll() says POLLOUT.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace armorbench::vms::agent {

class OutputQueue {
 public:
  void push(std::string_view bytes) { buffer_.append(bytes); }
  bool empty() const { return offset_ == buffer_.size(); }
  std::size_t size() const { return buffer_.size() - offset_; }
  void clear() {
    buffer_.clear();
    offset_ = 0;
  }
  // Writes as much as the fd takes now. Returns false on a write error other than EAGAIN/EINTR
  // (the reader is gone); the queue is then left as it was.
  bool write_some(int fd);

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
};

// Splits a byte stream into lines. A line longer than `max_line` is cut there (and flagged), so
// a peer that never sends a newline cannot make the agent grow without bound.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line = 4u << 20) : max_line_(max_line) {}
  void append(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete line without its newline; `cut` tells whether it was cut at max_line.
  bool next(std::string& line, bool* cut = nullptr);
  // What is left without a newline (the last line of a stream that ended).
  std::string take_rest();

 private:
  std::size_t max_line_;
  std::string buffer_;
};

}  // namespace armorbench::vms::agent
