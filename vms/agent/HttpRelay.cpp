// Relay between the armorbench.http virtio-serial port and the model server's unix socket.
#include "HttpRelay.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

namespace armorbench::vms::agent {

void HttpRelay::set_backend(std::string socket_path) {
  backend_ = std::move(socket_path);
  connection_.reset();
  to_server_.clear();
}

void HttpRelay::add_poll_entries(std::vector<pollfd>& entries) {
  port_index_ = entries.size();
  entries.push_back(port_.poll_entry(to_server_.size() < kHighWater));
  connection_index_ = SIZE_MAX;
  if (connection_) {
    short events = 0;
    if (port_.queued() < kHighWater) events |= POLLIN;
    if (!to_server_.empty()) events |= POLLOUT;
    connection_index_ = entries.size();
    entries.push_back({connection_.get(), events, 0});
  }
}

void HttpRelay::handle(const std::vector<pollfd>& entries) {
  if (port_index_ < entries.size()) {
    const short revents = entries[port_index_].revents;
    if (revents & POLLOUT) port_.flush_some();
    if (revents & (POLLIN | POLLHUP))
      if (auto bytes = port_.read_some()) from_host(std::move(*bytes));
  }
  if (connection_index_ < entries.size() && connection_) {
    const short revents = entries[connection_index_].revents;
    if (revents & POLLOUT && !to_server_.write_some(connection_.get())) {
      connection_.reset();
      to_server_.clear();
      return;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[65536];
      const ssize_t n = ::read(connection_.get(), buffer, sizeof buffer);
      if (n > 0) {
        port_.queue(std::string_view(buffer, static_cast<std::size_t>(n)));
        bytes_to_host_ += static_cast<std::uint64_t>(n);
        port_.flush_some();
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        // The server closed: the next bytes from the host open a new connection.
        connection_.reset();
        to_server_.clear();
      }
    }
  }
}

void HttpRelay::recheck() {
  if (auto bytes = port_.read_some()) from_host(std::move(*bytes));
}

void HttpRelay::from_host(std::string bytes) {
  if (!connection_) {
    std::string why;
    if (!connect_backend(why)) {
      answer_unavailable(why);
      return;
    }
  }
  bytes_to_server_ += bytes.size();
  to_server_.push(bytes);
  if (!to_server_.write_some(connection_.get())) {
    connection_.reset();
    to_server_.clear();
  }
}

bool HttpRelay::connect_backend(std::string& why) {
  if (backend_.empty()) {
    why = "no model server socket configured (start op without workload.http_socket)";
    return false;
  }
  sockaddr_un address{};
  if (backend_.size() >= sizeof address.sun_path) {
    why = "socket path too long: " + backend_;
    return false;
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, backend_.c_str(), backend_.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd ||
      ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    why = "cannot connect to " + backend_ + ": " + strerror(errno);
    return false;
  }
  connection_ = std::move(fd);
  return true;
}

void HttpRelay::answer_unavailable(const std::string& why) {
  // An HTTP answer rather than silence: the host's client gets a clear error instead of a
  // timeout. The request bytes are dropped (there is nobody to give them to).
  std::cerr << "armorbench-guest-agent: http relay: " << why << std::endl;
  const std::string body = "armorbench guest agent: " + why + "\n";
  port_.queue("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body);
  port_.flush_some();
}

}  // namespace armorbench::vms::agent
