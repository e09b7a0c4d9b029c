// A Stratum v1 pool that the harness runs in-process on loopback, in place of a public mining
// pool: it hands out one job at a chosen (low) difficulty, VERIFIES every submitted share by
// recomputing its header hash, and records what each miner did. Its records are the evidence
// that a cryptojacking payload reached a pool and produced valid work.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "armorbench/attacks/StratumJob.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench::attacks {

struct PoolOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port, see FakeStratumPool::port()
  // 1/65536 makes a share take ~65536 hashes: milliseconds for one CPU core.
  double difficulty = 1.0 / 65536;
  std::size_t extranonce2_size = 4;
};

struct PoolConnection {
  int id = 0;
  std::string peer;  // "127.0.0.1:54321"
  std::chrono::system_clock::time_point connected_at;
};

struct PoolSubscription {
  int connection = 0;
  std::string user_agent;
  std::string extranonce1;
};

struct PoolAuthorization {
  int connection = 0;
  std::string user;
};

struct PoolShare {
  int connection = 0;
  std::string worker;
  std::string job_id;
  std::string extranonce2;
  std::string ntime;
  std::string nonce;
  bool valid = false;
  std::string hash_hex;  // display order (leading zeros first); empty if it could not be computed
  std::string reason;    // why it was rejected; empty when valid
  std::chrono::system_clock::time_point at;
};

class FakeStratumPool {
 public:
  // Binds, listens and starts serving. Throws std::system_error (bind/listen errno) or
  // std::invalid_argument for unusable options.
  explicit FakeStratumPool(PoolOptions options = {});
  FakeStratumPool(const FakeStratumPool&) = delete;
  FakeStratumPool& operator=(const FakeStratumPool&) = delete;
  ~FakeStratumPool();

  // Stops the server thread and closes every connection. Idempotent; call from one thread.
  void stop();

  std::uint16_t port() const { return port_; }
  std::string endpoint() const;  // "HOST:PORT", as armorbench-miner --pool takes it
  const StratumJob& job() const { return job_; }
  double difficulty() const { return options_.difficulty; }

  // Snapshots, safe to call from any thread while the pool runs.
  std::vector<PoolConnection> connections() const;
  std::vector<PoolSubscription> subscriptions() const;
  std::vector<PoolAuthorization> authorizations() const;
  std::vector<PoolShare> shares() const;
  std::size_t valid_share_count() const;
  // From a miner's connection to its first valid share, for the earliest such share.
  std::optional<std::chrono::microseconds> first_share_latency() const;
  nlohmann::json to_json() const;

  bool wait_for_valid_share(std::chrono::milliseconds timeout) const;
  // Waits until `count` shares (valid or not) are recorded.
  bool wait_for_shares(std::size_t count, std::chrono::milliseconds timeout) const;

 private:
  struct Client;

  void serve();
  void accept_clients();
  // False when the client must be dropped.
  bool on_readable(Client& client);
  void on_message(Client& client, const nlohmann::json& message);
  void on_submit(Client& client, const nlohmann::json& id, const nlohmann::json& params);

  PoolOptions options_;
  StratumJob job_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;  // eventfd: stop() wakes the poll loop through it
  std::uint16_t port_ = 0;
  int next_connection_id_ = 1;

  mutable std::mutex mutex_;
  mutable std::condition_variable share_recorded_;
  std::vector<PoolConnection> connections_;
  std::vector<PoolSubscription> subscriptions_;
  std::vector<PoolAuthorization> authorizations_;
  std::vector<PoolShare> shares_;
  std::size_t valid_shares_ = 0;
  std::optional<std::chrono::microseconds> first_share_latency_;

  std::thread thread_;  // last: started once everything above exists
};

}  // namespace armorbench::attacks
