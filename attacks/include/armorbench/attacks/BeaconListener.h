// The harness-side end of an exfiltration or reverse-shell beacon: a TCP listener that accepts
// every connection and records what each peer sent. It is how the harness observes "the token
// reached the attacker" and "the payload called home" itself, instead of believing the payload.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/UniqueFd.h"

namespace armorbench::attacks {

struct BeaconConnection {
  std::string peer;     // "127.0.0.1:54321"
  std::string received; // first bytes the peer sent (bounded)
  std::chrono::system_clock::time_point at;
};

class BeaconListener {
 public:
  // Binds `address`:`port` (0: ephemeral) and starts accepting on a background thread. Throws
  // std::system_error when the address cannot be bound.
  explicit BeaconListener(const std::string& address = "127.0.0.1", std::uint16_t port = 0);
  BeaconListener(const BeaconListener&) = delete;
  BeaconListener& operator=(const BeaconListener&) = delete;
  ~BeaconListener();

  std::uint16_t port() const { return port_; }
  std::vector<BeaconConnection> connections() const;
  // Waits until some connection's bytes contain `needle` ("" = any connection at all).
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) const;
  nlohmann::json to_json() const;

 private:
  bool contains(const std::string& needle) const;  // with mutex_ held
  void serve();

  UniqueFd listen_fd_;
  UniqueFd wake_fd_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<BeaconConnection> connections_;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace armorbench::attacks
