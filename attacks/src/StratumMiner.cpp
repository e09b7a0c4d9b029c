// Stratum v1 client and nonce-search loop.
#include "armorbench/attacks/StratumMiner.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "armorbench/attacks/HeaderHasher.h"
#include "armorbench/attacks/JsonLineConnection.h"
#include "armorbench/attacks/ShareTarget.h"
#include "armorbench/attacks/StratumJob.h"
#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kSubscribeId = 1;
constexpr int kAuthorizeId = 2;
constexpr const char* kUserAgent = "armorbench-miner/0.1";

// A protocol violation by the pool (a malformed reply): reported under stage "protocol" or the
// stage of the request it answered.
struct ProtocolError : std::runtime_error {
  ProtocolError(std::string stage, const std::string& what)
      : std::runtime_error(what), stage(std::move(stage)) {}
  std::string stage;
};

// CPU time of this thread: the hash rate per CPU second does not depend on how many other
// processes share the cores, which wall-clock rates on a busy CI box do.
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string error_text(const nlohmann::json& error) {
  if (error.is_array() && error.size() >= 2)
    return error[1].dump() + " (code " + error[0].dump() + ")";
  return error.dump();
}

// The work currently being searched: one job, one extranonce2, a nonce cursor.
struct Work {
  StratumJob job;
  ShareTarget target;
  std::vector<std::uint8_t> extranonce2;
  std::unique_ptr<HeaderHasher> hasher;
  std::uint64_t next_nonce = 0;  // 64-bit so that exhausting 2^32 is visible
};

class MinerSession {
 public:
  MinerSession(const MinerOptions& options, MinerReport& report)
      : options_(options), report_(report), started_(Clock::now()) {}

  void run() {
    report_.pool = options_.host + ":" + std::to_string(options_.port);
    report_.user = options_.user;
    const auto deadline = started_ + options_.max_time;
    try {
      connect();
      handshake(deadline);
      if (report_.authorized) mine(deadline);
      drain_submit_replies();
    } catch (const std::system_error& e) {
      report_.errors.push_back({current_stage_, e.code().value(), e.what()});
    } catch (const ProtocolError& e) {
      report_.errors.push_back({e.stage, EPROTO, e.what()});
    } catch (const nlohmann::json::exception& e) {
      report_.errors.push_back({"protocol", EPROTO, e.what()});
    } catch (const std::invalid_argument& e) {
      report_.errors.push_back({"protocol", EPROTO, e.what()});
    }
    if (!report_.errors.empty()) report_.stopped_by = "error";
    report_.elapsed_ms = ms_between(started_, Clock::now());
  }

 private:
  bool stop_requested() const {
    return options_.stop_requested != nullptr && options_.stop_requested->load();
  }

  void connect() {
    std::string stage;
    current_stage_ = "connect";
    try {
      connection_.emplace(JsonLineConnection::connect_tcp(options_.host, options_.port,
                                                          options_.connect_timeout, stage));
    } catch (const std::system_error&) {
      current_stage_ = stage;
      throw;
    }
    report_.connected = true;
  }

  void send(const nlohmann::json& message) {
    const std::string saved = current_stage_;
    current_stage_ = "send";
    connection_->send(message);
    current_stage_ = saved;
  }

  // Subscribe, then authorize, handling whatever notifications arrive in between.
  void handshake(Clock::time_point deadline) {
    current_stage_ = "subscribe";
    send({{"id", kSubscribeId}, {"method", "mining.subscribe"}, {"params", {kUserAgent}}});
    await([this] { return report_.subscribed; }, deadline, "subscribe");
    if (!report_.subscribed) return;  // stopped by a signal
    current_stage_ = "authorize";
    send({{"id", kAuthorizeId},
          {"method", "mining.authorize"},
          {"params", {options_.user, options_.password}}});
    await([this] { return authorize_answered_; }, deadline, "authorize");
    if (!authorize_answered_) return;  // stopped by a signal
    if (!report_.authorized) {
      report_.errors.push_back(
          {"authorize", EACCES, "pool refused worker " + options_.user + ": " + authorize_error_});
    }
  }

  template <typename Done>
  void await(Done done, Clock::time_point deadline, const char* what) {
    current_stage_ = "read";
    while (!done()) {
      if (stop_requested()) {
        report_.stopped_by = "signal";
        return;
      }
      const auto now = Clock::now();
      if (now >= deadline)
        throw ProtocolError(what, std::string("no reply to ") + what + " in time");
      const auto message =
          connection_->receive(std::chrono::duration_cast<milliseconds>(deadline - now));
      if (connection_->eof())
        throw std::system_error(ECONNRESET, std::generic_category(),
                                std::string("pool closed the connection during ") + what);
      if (message) handle(*message);
    }
  }

  void handle(const nlohmann::json& message) {
    if (message.contains("method") && message["method"].is_string()) {
      handle_notification(message["method"].get<std::string>(),
                          message.value("params", nlohmann::json::array()), message);
      return;
    }
    if (!message.contains("id") || !message["id"].is_number_integer()) return;
    const int id = message["id"].get<int>();
    const auto& result = message.contains("result") ? message["result"] : nlohmann::json();
    const auto& error = message.contains("error") ? message["error"] : nlohmann::json();
    if (id == kSubscribeId) {
      // result: [[subscriptions...], extranonce1, extranonce2_size]
      if (!result.is_array() || result.size() < 3 || !result[1].is_string() ||
          !result[2].is_number_unsigned()) {
        throw ProtocolError("subscribe", "bad mining.subscribe reply: " + message.dump());
      }
      extranonce1_ = from_hex(result[1].get<std::string>());
      report_.extranonce1 = result[1].get<std::string>();
      report_.extranonce2_size = result[2].get<std::size_t>();
      if (report_.extranonce2_size == 0 || report_.extranonce2_size > 32) {
        throw ProtocolError("subscribe", "unusable extranonce2_size " + result[2].dump());
      }
      report_.subscribed = true;
    } else if (id == kAuthorizeId) {
      authorize_answered_ = true;
      report_.authorized = result.is_boolean() && result.get<bool>();
      if (!report_.authorized) authorize_error_ = error_text(error);
    } else if (pending_submits_.erase(id) > 0) {
      if (result.is_boolean() && result.get<bool>()) {
        ++report_.shares_accepted;
      } else {
        ++report_.shares_rejected;
        report_.last_reject = error_text(error);
      }
    }
  }

  void handle_notification(const std::string& method, const nlohmann::json& params,
                           const nlohmann::json& message) {
    if (method == "mining.set_difficulty") {
      if (!params.is_array() || params.empty() || !params[0].is_number()) {
        throw ProtocolError("protocol", "bad mining.set_difficulty: " + message.dump());
      }
      // Per the protocol the new difficulty applies to jobs notified after it.
      difficulty_ = params[0].get<double>();
      report_.difficulty = difficulty_;
    } else if (method == "mining.notify") {
      auto job = StratumJob::from_notify_params(params);
      ++report_.jobs;
      start_work(std::move(job));
    } else if (method == "mining.set_extranonce") {
      if (params.is_array() && params.size() >= 2 && params[0].is_string() &&
          params[1].is_number_unsigned()) {
        extranonce1_ = from_hex(params[0].get<std::string>());
        report_.extranonce1 = params[0].get<std::string>();
        report_.extranonce2_size = params[1].get<std::size_t>();
      }
    } else if (method == "client.get_version" && message.contains("id")) {
      send({{"id", message["id"]}, {"result", kUserAgent}, {"error", nullptr}});
    }
    // Other notifications (client.show_message, client.reconnect...) do not change the work.
  }

  void start_work(StratumJob job) {
    Work work{std::move(job), ShareTarget::from_difficulty(difficulty_), {}, nullptr, 0};
    work_ = std::move(work);
    ++extranonce2_counter_;
    rebuild_header();
  }

  // A new extranonce2 gives a new coinbase, hence a new merkle root and a fresh 2^32 nonces.
  void rebuild_header() {
    auto& work = *work_;
    work.extranonce2.assign(report_.extranonce2_size, 0);
    for (std::size_t i = 0; i < work.extranonce2.size() && i < 8; ++i) {
      work.extranonce2[i] = static_cast<std::uint8_t>(extranonce2_counter_ >> (8 * i));
    }
    const auto root = work.job.merkle_root(extranonce1_, work.extranonce2);
    work.hasher = std::make_unique<HeaderHasher>(work.job.header(root, work.job.ntime, 0));
    work.next_nonce = 0;
  }

  bool share_limit_reached() const {
    return options_.max_shares != 0 && report_.shares_submitted >= options_.max_shares;
  }

  void mine(Clock::time_point deadline) {
    std::uint32_t batch = 1u << 14;
    for (;;) {
      if (share_limit_reached()) {
        report_.stopped_by = "max_shares";
        return;
      }
      if (stop_requested()) {
        report_.stopped_by = "signal";
        return;
      }
      const auto now = Clock::now();
      if (now >= deadline) {
        report_.stopped_by = "max_seconds";
        return;
      }
      // New jobs and replies first: mining a stale job wastes the work.
      current_stage_ = "read";
      while (auto message = connection_->receive(milliseconds(0))) handle(*message);
      if (connection_->eof()) {
        throw std::system_error(ECONNRESET, std::generic_category(), "pool closed the connection");
      }
      if (!work_) {
        if (auto message =
                connection_->receive(std::chrono::duration_cast<milliseconds>(deadline - now))) {
          handle(*message);
        }
        continue;
      }
      auto& work = *work_;
      const auto count = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(batch, (std::uint64_t{1} << 32) - work.next_nonce));
      const auto first = static_cast<std::uint32_t>(work.next_nonce);
      const auto batch_start = Clock::now();
      const double cpu_start = thread_cpu_seconds();
      const auto hit = work.hasher->search(first, count, work.target);
      const std::uint64_t done = hit ? std::uint64_t{hit->nonce} - first + 1 : count;
      const double seconds = std::chrono::duration<double>(Clock::now() - batch_start).count();
      report_.hashes += done;
      report_.hashing_seconds += seconds;
      report_.hashing_cpu_seconds += thread_cpu_seconds() - cpu_start;
      work.next_nonce += done;
      // Aim for ~10 ms batches so jobs, signals and deadlines are noticed promptly.
      if (!hit && seconds > 0) {
        batch = static_cast<std::uint32_t>(std::clamp(done * 0.010 / seconds, 1024.0, 4194304.0));
      }
      if (hit) submit(work, hit->nonce);
      if (work.next_nonce >= (std::uint64_t{1} << 32)) {
        ++extranonce2_counter_;
        rebuild_header();
      }
    }
  }

  void submit(const Work& work, std::uint32_t nonce) {
    const int id = next_id_++;
    pending_submits_[id] = Clock::now();
    ++report_.shares_submitted;
    if (!report_.first_share_ms) report_.first_share_ms = ms_between(started_, Clock::now());
    current_stage_ = "send";
    send({{"id", id},
          {"method", "mining.submit"},
          {"params",
           {options_.user, work.job.job_id, to_hex(work.extranonce2), u32_to_hex(work.job.ntime),
            u32_to_hex(nonce)}}});
  }

  // Gives the pool a moment to answer the last submits so accepted/rejected counts are complete.
  void drain_submit_replies() {
    if (!connection_ || connection_->eof()) return;
    const auto until = Clock::now() + milliseconds(1000);
    current_stage_ = "read";
    while (!pending_submits_.empty() && !connection_->eof() && !stop_requested()) {
      const auto now = Clock::now();
      if (now >= until) break;
      if (auto message =
              connection_->receive(std::chrono::duration_cast<milliseconds>(until - now))) {
        handle(*message);
      }
    }
  }

  const MinerOptions& options_;
  MinerReport& report_;
  const Clock::time_point started_;
  std::optional<JsonLineConnection> connection_;
  std::string current_stage_ = "connect";
  std::vector<std::uint8_t> extranonce1_;
  double difficulty_ = 1.0;  // the protocol's default until set_difficulty
  bool authorize_answered_ = false;
  std::optional<Work> work_;
  std::uint64_t extranonce2_counter_ = 0;
  int next_id_ = 3;
  std::map<int, Clock::time_point> pending_submits_;
  std::string authorize_error_;
};

}  // namespace

nlohmann::json MinerReport::to_json() const {
  auto errs = nlohmann::json::array();
  for (const auto& e : errors) {
    errs.push_back({{"stage", e.stage}, {"errno", e.error_number}, {"message", e.message}});
  }
  return {{"pool", pool},
          {"user", user},
          {"connected", connected},
          {"subscribed", subscribed},
          {"authorized", authorized},
          {"extranonce1", extranonce1},
          {"extranonce2_size", extranonce2_size},
          {"difficulty", difficulty},
          {"jobs", jobs},
          {"hashes", hashes},
          {"hashing_seconds", hashing_seconds},
          {"hashing_cpu_seconds", hashing_cpu_seconds},
          {"hashrate", hashrate()},
          {"hashrate_per_cpu_second", hashrate_per_cpu_second()},
          {"shares_submitted", shares_submitted},
          {"shares_accepted", shares_accepted},
          {"shares_rejected", shares_rejected},
          {"last_reject", last_reject},
          {"first_share_ms", first_share_ms ? nlohmann::json(*first_share_ms) : nlohmann::json()},
          {"elapsed_ms", elapsed_ms},
          {"stopped_by", stopped_by},
          {"errors", errs}};
}

MinerReport StratumMiner::run() {
  MinerReport report;
  MinerSession(options_, report).run();
  return report;
}

}  // namespace armorbench::attacks
