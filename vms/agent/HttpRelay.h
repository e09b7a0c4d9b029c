// The guest end of the armorbench.http channel: bytes from the host's http.sock are relayed to
// the model server's unix socket and back, over ONE persistent connection. virtio-serial has no
// connect or close events, so a new connection per request cannot be signalled; the host's
// client therefore keeps one HTTP/1.1 keep-alive connection. The relay connects on the first
// bytes and reconnects on the next bytes if the server closed; bytes the host sends while the
// server is closing are lost (the race seen in the prototype, see vms/README.md).
#pragma once

#include <poll.h>

#include <string>
#include <vector>

#include "OutputQueue.h"
#include "VirtioPort.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench::vms::agent {

class HttpRelay {
 public:
  explicit HttpRelay(VirtioPort& port) : port_(port) {}

  // Where the relay connects (the start op's workload.http_socket).
  void set_backend(std::string socket_path);

  // Appends this relay's poll entries; handle() takes the same vector after poll().
  void add_poll_entries(std::vector<pollfd>& entries);
  void handle(const std::vector<pollfd>& entries);
  // Called when the port's recheck time has come (the host was away).
  void recheck();

  std::uint64_t bytes_to_server() const { return bytes_to_server_; }
  std::uint64_t bytes_to_host() const { return bytes_to_host_; }

 private:
  static constexpr std::size_t kHighWater = 4u << 20;  // stop reading a side whose peer lags

  void from_host(std::string bytes);
  bool connect_backend(std::string& why);
  void answer_unavailable(const std::string& why);

  VirtioPort& port_;
  std::string backend_;
  UniqueFd connection_;
  OutputQueue to_server_;
  std::size_t port_index_ = SIZE_MAX;
  std::size_t connection_index_ = SIZE_MAX;
  std::uint64_t bytes_to_server_ = 0;
  std::uint64_t bytes_to_host_ = 0;
};

}  // namespace armorbench::vms::agent
