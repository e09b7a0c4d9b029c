// A real Stratum v1 CPU miner: the cryptojacking payload. It speaks the protocol a public pool
// speaks (subscribe, authorize, notify, submit) and burns CPU on double SHA-256, so that the
// harness can observe both halves of the attack: the outbound pool connection and the CPU use.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace armorbench::attacks {

struct MinerOptions {
  std::string host;
  std::uint16_t port = 0;
  std::string user;  // WALLET.WORKER
  std::string password = "x";
  std::chrono::milliseconds max_time{std::chrono::seconds(60)};
  std::uint64_t max_shares = 0;  // 0: mine until max_time
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  // Set from a signal handler to stop early; the report is still produced.
  const std::atomic<bool>* stop_requested = nullptr;
};

struct MinerError {
  std::string stage;  // resolve | connect | subscribe | authorize | read | send | protocol
  int error_number = 0;
  std::string message;
};

struct MinerReport {
  std::string pool;
  std::string user;
  bool connected = false;
  bool subscribed = false;
  bool authorized = false;
  std::string extranonce1;
  std::size_t extranonce2_size = 0;
  double difficulty = 0;
  std::uint64_t jobs = 0;
  std::uint64_t hashes = 0;
  double hashing_seconds = 0;      // wall time spent inside the nonce search
  double hashing_cpu_seconds = 0;  // CPU time of the same: differs when cores are contended
  std::uint64_t shares_submitted = 0;
  std::uint64_t shares_accepted = 0;
  std::uint64_t shares_rejected = 0;
  std::string last_reject;               // the pool's error for the last rejected share
  std::optional<double> first_share_ms;  // from start (before connect) to first submit
  double elapsed_ms = 0;
  std::string stopped_by;  // max_shares | max_seconds | signal | error
  std::vector<MinerError> errors;

  bool failed() const { return !errors.empty(); }
  double hashrate() const { return hashing_seconds > 0 ? hashes / hashing_seconds : 0; }
  double hashrate_per_cpu_second() const {
    return hashing_cpu_seconds > 0 ? hashes / hashing_cpu_seconds : 0;
  }
  nlohmann::json to_json() const;
};

class StratumMiner {
 public:
  explicit StratumMiner(MinerOptions options) : options_(std::move(options)) {}
  // Connects, mines until a limit is reached, and reports. Never throws for network or protocol
  // trouble: that goes into MinerReport::errors.
  MinerReport run();

 private:
  MinerOptions options_;
};

}  // namespace armorbench::attacks
