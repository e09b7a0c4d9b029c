// Newline-delimited JSON over a stream socket: Stratum v1's framing. Used by the miner (blocking
// with deadlines) and by the fake pool (fed from its poll loop), so reads are split into
// "pull what the socket has" and "take one complete line".
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "armorbench/base/UniqueFd.h"

namespace armorbench::attacks {

class JsonLineConnection {
 public:
  explicit JsonLineConnection(UniqueFd fd) : fd_(std::move(fd)) {}

  // Resolves host (name or address) and connects with a deadline. Throws std::system_error whose
  // code is the errno (e.g. EPERM when a cgroup/connect4 program refuses, ECONNREFUSED);
  // `stage` tells whether resolving or connecting failed.
  static JsonLineConnection connect_tcp(const std::string& host, std::uint16_t port,
                                        std::chrono::milliseconds timeout, std::string& stage);

  int fd() const { return fd_.get(); }
  bool eof() const { return eof_; }

  // Writes one message plus '\n'. Throws std::system_error on a socket error.
  void send(const nlohmann::json& message);

  // Waits up to `timeout` for readable data and reads what is there. Returns false on timeout.
  // Sets eof() when the peer closed. Throws std::system_error on a socket error.
  bool pull(std::chrono::milliseconds timeout);

  // One complete line from what has been pulled, without the newline.
  std::optional<std::string> take_line();

  // Next message within `timeout`: nullopt on timeout, EOF (see eof()) or when a signal
  // interrupted the wait. A line that is not JSON throws nlohmann::json::parse_error.
  std::optional<nlohmann::json> receive(std::chrono::milliseconds timeout);

  // Cap on one line: a peer that never sends '\n' must not grow our buffer without bound.
  static constexpr std::size_t kMaxLine = 1 << 20;

 private:
  UniqueFd fd_;
  std::string buffer_;
  bool eof_ = false;
};

}  // namespace armorbench::attacks
