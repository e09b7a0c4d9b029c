// BeaconListener: one poll loop over the listening socket, the open connections and a wake fd.
#include "armorbench/attacks/BeaconListener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace armorbench::attacks {
namespace {

constexpr std::size_t kMaxBytesPerConnection = 64 * 1024;

std::string peer_name(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address.sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(address.sin_port));
}

}  // namespace

BeaconListener::BeaconListener(const std::string& address, std::uint16_t port) {
  listen_fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd_) throw std::system_error(errno, std::generic_category(), "socket");
  const int one = 1;
  ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in bind_address{};
  bind_address.sin_family = AF_INET;
  bind_address.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &bind_address.sin_addr) != 1)
    throw std::system_error(EINVAL, std::generic_category(), "bad listen address " + address);
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bind_address), sizeof bind_address) != 0)
    throw std::system_error(errno, std::generic_category(), "bind " + address + ":" + std::to_string(port));
  if (::listen(listen_fd_.get(), 64) != 0) throw std::system_error(errno, std::generic_category(), "listen");
  socklen_t length = sizeof bind_address;
  ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bind_address), &length);
  port_ = ntohs(bind_address.sin_port);
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  thread_ = std::thread([this] { serve(); });
}

BeaconListener::~BeaconListener() {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void BeaconListener::serve() {
  struct Open {
    UniqueFd fd;
    std::size_t index;  // into connections_
  };
  std::vector<Open> open;
  for (;;) {
    std::vector<pollfd> fds{{wake_fd_.get(), POLLIN, 0}, {listen_fd_.get(), POLLIN, 0}};
    for (const Open& connection : open) fds.push_back({connection.fd.get(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
    if (fds[0].revents) return;
    if (fds[1].revents & POLLIN) {
      sockaddr_in peer{};
      socklen_t length = sizeof peer;
      UniqueFd client(::accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&peer), &length,
                                SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (client) {
        std::lock_guard lock(mutex_);
        connections_.push_back({peer_name(peer), "", std::chrono::system_clock::now()});
        open.push_back({std::move(client), connections_.size() - 1});
        changed_.notify_all();
      }
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      Open& connection = open[i - 2];
      char buffer[4096];
      const ssize_t n = ::read(connection.fd.get(), buffer, sizeof buffer);
      if (n > 0) {
        std::lock_guard lock(mutex_);
        std::string& received = connections_[connection.index].received;
        received.append(buffer, std::min<std::size_t>(n, kMaxBytesPerConnection - received.size()));
        changed_.notify_all();
      }
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
          connections_[connection.index].received.size() >= kMaxBytesPerConnection)
        connection.fd.reset();
    }
    std::erase_if(open, [](const Open& connection) { return !connection.fd; });
  }
}

std::vector<BeaconConnection> BeaconListener::connections() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

bool BeaconListener::contains(const std::string& needle) const {
  for (const BeaconConnection& connection : connections_)
    if (needle.empty() || connection.received.find(needle) != std::string::npos) return true;
  return false;
}

bool BeaconListener::wait_for(const std::string& needle, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return contains(needle); });
}

nlohmann::json BeaconListener::to_json() const {
  std::lock_guard lock(mutex_);
  nlohmann::json list = nlohmann::json::array();
  for (const BeaconConnection& connection : connections_)
    list.push_back({{"peer", connection.peer}, {"received", connection.received}});
  return {{"port", port_}, {"connections", list}};
}

}  // namespace armorbench::attacks
