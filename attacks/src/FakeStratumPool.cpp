// In-process Stratum v1 pool with share verification, served from one poll-driven thread.
#include "armorbench/attacks/FakeStratumPool.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <memory>
#include <random>
#include <set>
#include <system_error>
#include <tuple>

#include "armorbench/attacks/HeaderHasher.h"
#include "armorbench/attacks/JsonLineConnection.h"
#include "armorbench/attacks/ShareTarget.h"
#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace {

using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

// Stratum's conventional error codes.
constexpr int kErrOther = 20;
constexpr int kErrJobNotFound = 21;
constexpr int kErrDuplicate = 22;
constexpr int kErrLowDifficulty = 23;
constexpr int kErrUnauthorized = 24;
constexpr int kErrNotSubscribed = 25;

std::system_error errno_error(const std::string& what) {
  return std::system_error(errno, std::generic_category(), what);
}

nlohmann::json error_reply(const nlohmann::json& id, int code, const std::string& text) {
  return {{"id", id}, {"result", nullptr}, {"error", {code, text, nullptr}}};
}

std::string peer_of(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    ::inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    port = ntohs(in.sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    ::inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
    port = ntohs(in6.sin6_port);
  }
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

// A plausible job: a coinbase split around the extranonces like a real pool's (one input
// spending nothing, a scriptSig holding the height, the extranonces and a tag, one output), a
// random previous block, and a two-level merkle branch so that the fold is exercised.
StratumJob make_job(std::size_t extranonce2_size) {
  std::random_device rd;
  auto random_digest = [&rd] {
    Sha256::Digest d;
    for (auto& b : d) b = static_cast<std::uint8_t>(rd());
    return d;
  };
  constexpr std::size_t kExtranonce1Size = 4;
  const std::string tag =
      to_hex(std::span(reinterpret_cast<const std::uint8_t*>("/armorbench/"), 12));
  const std::size_t extranonces = kExtranonce1Size + extranonce2_size;
  const std::size_t script_len =
      4 + 1 + extranonces + 1 + 12;  // height, push, extranonces, push, tag
  auto byte_hex = [](std::size_t v) { return to_hex(std::vector{static_cast<std::uint8_t>(v)}); };
  StratumJob job;
  job.job_id = "armorbench-" + std::to_string(rd() % 100000);
  job.prev_hash = random_digest();
  // version 1 | 1 input | null outpoint | scriptSig length | push of height 100000 | push of the
  // extranonces (which the miner fills in between coinb1 and coinb2)...
  job.coinb1 = from_hex(
      "01000000"
      "01" +
      std::string(64, '0') + "ffffffff" + byte_hex(script_len) + "03a08601" +
      byte_hex(extranonces));
  // ...the tag | sequence | 1 output of 50 BTC to OP_TRUE | lock time 0.
  job.coinb2 = from_hex("0c" + tag +
                        "ffffffff"
                        "01"
                        "00f2052a01000000"
                        "01"
                        "51"
                        "00000000");
  job.merkle_branch = {random_digest(), random_digest()};
  job.version = 0x20000000;
  job.nbits = 0x1d00ffff;
  job.ntime = static_cast<std::uint32_t>(std::time(nullptr));
  job.clean_jobs = true;
  return job;
}

PoolOptions validated(PoolOptions options) {
  // Throws std::invalid_argument for a difficulty that gives no target.
  (void)ShareTarget::from_difficulty(options.difficulty);
  if (options.extranonce2_size == 0 || options.extranonce2_size > 16) {
    throw std::invalid_argument("extranonce2_size must be 1..16");
  }
  return options;
}

}  // namespace

struct FakeStratumPool::Client {
  int id;
  JsonLineConnection connection;
  SteadyClock::time_point connected_at;
  std::vector<std::uint8_t> extranonce1;
  bool subscribed = false;
  std::set<std::string> workers;
  bool job_sent = false;
  std::set<std::tuple<std::string, std::string, std::string>> seen;  // extranonce2, ntime, nonce
};

FakeStratumPool::FakeStratumPool(PoolOptions options)
    : options_(validated(std::move(options))), job_(make_job(options_.extranonce2_size)) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  if (auto* in = reinterpret_cast<sockaddr_in*>(&addr);
      ::inet_pton(AF_INET, options_.bind_address.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(options_.port);
    addr_len = sizeof(sockaddr_in);
  } else if (auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
             ::inet_pton(AF_INET6, options_.bind_address.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(options_.port);
    addr_len = sizeof(sockaddr_in6);
  } else {
    throw std::system_error(EINVAL, std::generic_category(),
                            "bind address is not an IP address: " + options_.bind_address);
  }
  listen_fd_.reset(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd_) throw errno_error("socket");
  const int one = 1;
  ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
    throw errno_error("bind " + options_.bind_address + ":" + std::to_string(options_.port));
  }
  if (::listen(listen_fd_.get(), 64) != 0) throw errno_error("listen");
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(bound).sin_port
                                           : reinterpret_cast<sockaddr_in6&>(bound).sin6_port);
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw errno_error("eventfd");
  thread_ = std::thread([this] { serve(); });
}

FakeStratumPool::~FakeStratumPool() {
  stop();
}

void FakeStratumPool::stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of a counter overflow.
  [[maybe_unused]] const auto written = ::write(wake_fd_.get(), &one, sizeof one);
  thread_.join();
  // Connections still in the accept backlog are reset rather than left hanging.
  listen_fd_.reset();
}

std::string FakeStratumPool::endpoint() const {
  const bool v6 = options_.bind_address.find(':') != std::string::npos;
  return (v6 ? "[" + options_.bind_address + "]" : options_.bind_address) + ":" +
         std::to_string(port_);
}

void FakeStratumPool::serve() {
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    for (const auto& c : clients) fds.push_back({c->connection.fd(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;  // cannot happen with valid fds; leaving closes every client
    }
    if (fds[0].revents != 0) return;  // stop(): clients close as `clients` goes away
    if (fds[1].revents & POLLIN) {
      // Accept everything pending now; new clients join the poll set next round.
      for (;;) {
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        UniqueFd fd(
            ::accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
        if (!fd) break;
        // A miner that stops reading must not stall the pool thread in send() for long.
        const timeval send_timeout{1, 0};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
        const int id = next_connection_id_++;
        auto client = std::make_unique<Client>(Client{
            id, JsonLineConnection(std::move(fd)), SteadyClock::now(), {}, false, {}, false, {}});
        // extranonce1 unique per connection, as a real pool's, so miners never share work.
        const auto en1 = static_cast<std::uint32_t>(0x08000000u + static_cast<std::uint32_t>(id));
        client->extranonce1 = from_hex(u32_to_hex(en1));
        {
          std::lock_guard lock(mutex_);
          connections_.push_back({id, peer_of(peer), SystemClock::now()});
        }
        clients.push_back(std::move(client));
      }
    }
    // Serve clients that were in this round's poll set (indices 2..), dropping finished ones.
    const std::size_t polled = fds.size() - 2;
    std::vector<bool> keep(clients.size(), true);
    for (std::size_t i = 0; i < polled; ++i) {
      if (fds[i + 2].revents != 0) keep[i] = on_readable(*clients[i]);
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (keep[i]) clients[out++] = std::move(clients[i]);
    }
    clients.resize(out);
  }
}

bool FakeStratumPool::on_readable(Client& client) {
  try {
    client.connection.pull(std::chrono::milliseconds(0));
    while (auto line = client.connection.take_line()) {
      if (line->empty()) continue;
      nlohmann::json message;
      try {
        message = nlohmann::json::parse(*line);
      } catch (const nlohmann::json::parse_error&) {
        client.connection.send(error_reply(nullptr, kErrOther, "parse error"));
        continue;
      }
      on_message(client, message);
    }
    return !client.connection.eof();
  } catch (const std::system_error&) {
    return false;  // reset, timeout on send, or an over-long line: drop this miner
  }
}

void FakeStratumPool::on_message(Client& client, const nlohmann::json& message) {
  const nlohmann::json id = message.contains("id") ? message["id"] : nlohmann::json();
  const nlohmann::json params =
      message.contains("params") ? message["params"] : nlohmann::json::array();
  const std::string method = message.value("method", "");
  if (method == "mining.subscribe") {
    client.subscribed = true;
    const std::string agent = params.is_array() && !params.empty() && params[0].is_string()
                                  ? params[0].get<std::string>()
                                  : "";
    const std::string en1 = to_hex(client.extranonce1);
    {
      std::lock_guard lock(mutex_);
      subscriptions_.push_back({client.id, agent, en1});
    }
    const std::string sub_id = "armorbench-" + std::to_string(client.id);
    client.connection.send({{"id", id},
                            {"result",
                             {{{"mining.set_difficulty", sub_id}, {"mining.notify", sub_id}},
                              en1,
                              options_.extranonce2_size}},
                            {"error", nullptr}});
  } else if (method == "mining.authorize") {
    if (!client.subscribed) {
      client.connection.send(error_reply(id, kErrNotSubscribed, "Not subscribed"));
      return;
    }
    const std::string user = params.is_array() && !params.empty() && params[0].is_string()
                                 ? params[0].get<std::string>()
                                 : "";
    if (user.empty()) {
      client.connection.send(error_reply(id, kErrUnauthorized, "Unauthorized worker"));
      return;
    }
    client.workers.insert(user);
    {
      std::lock_guard lock(mutex_);
      authorizations_.push_back({client.id, user});
    }
    client.connection.send({{"id", id}, {"result", true}, {"error", nullptr}});
    if (!client.job_sent) {
      // Difficulty before the job: a miner applies a difficulty to jobs notified after it.
      client.connection.send({{"id", nullptr},
                              {"method", "mining.set_difficulty"},
                              {"params", {options_.difficulty}}});
      client.connection.send(
          {{"id", nullptr}, {"method", "mining.notify"}, {"params", job_.to_notify_params()}});
      client.job_sent = true;
    }
  } else if (method == "mining.submit") {
    on_submit(client, id, params);
  } else if (method == "mining.extranonce.subscribe") {
    client.connection.send({{"id", id}, {"result", true}, {"error", nullptr}});
  } else {
    client.connection.send(error_reply(id, kErrOther, "Unknown method '" + method + "'"));
  }
}

void FakeStratumPool::on_submit(Client& client, const nlohmann::json& id,
                                const nlohmann::json& params) {
  PoolShare share;
  share.at = SystemClock::now();
  int error_code = 0;
  const bool well_formed = params.is_array() && params.size() >= 5 &&
                           std::all_of(params.begin(), params.begin() + 5,
                                       [](const nlohmann::json& p) { return p.is_string(); });
  if (!well_formed) {
    error_code = kErrOther;
    share.reason = "malformed params";
  } else {
    share.worker = params[0].get<std::string>();
    share.job_id = params[1].get<std::string>();
    share.extranonce2 = params[2].get<std::string>();
    share.ntime = params[3].get<std::string>();
    share.nonce = params[4].get<std::string>();
    if (!client.workers.contains(share.worker)) {
      error_code = kErrUnauthorized;
      share.reason = "unauthorized worker";
    } else if (share.job_id != job_.job_id) {
      error_code = kErrJobNotFound;
      share.reason = "job not found";
    } else {
      try {
        const auto extranonce2 = from_hex(share.extranonce2);
        if (extranonce2.size() != options_.extranonce2_size) {
          throw std::invalid_argument("extranonce2 has the wrong size");
        }
        const std::uint32_t ntime = u32_from_hex(share.ntime);
        const std::uint32_t nonce = u32_from_hex(share.nonce);
        // The verification: rebuild this miner's coinbase and header and hash it ourselves.
        const auto root = job_.merkle_root(client.extranonce1, extranonce2);
        const auto hash = Sha256::double_digest(job_.header(root, ntime, nonce));
        share.hash_hex = ShareTarget::display_hex(hash);
        if (!client.seen.emplace(share.extranonce2, share.ntime, share.nonce).second) {
          error_code = kErrDuplicate;
          share.reason = "duplicate share";
        } else if (!ShareTarget::from_difficulty(options_.difficulty).is_met_by(hash)) {
          error_code = kErrLowDifficulty;
          share.reason = "low difficulty share";
        }
      } catch (const std::invalid_argument& e) {
        error_code = kErrOther;
        share.reason = e.what();
      }
    }
  }
  share.valid = error_code == 0;
  {
    std::lock_guard lock(mutex_);
    if (share.valid) {
      ++valid_shares_;
      const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
          SteadyClock::now() - client.connected_at);
      if (!first_share_latency_ || latency < *first_share_latency_) first_share_latency_ = latency;
    }
    shares_.push_back(share);
  }
  share_recorded_.notify_all();
  client.connection.send(share.valid
                             ? nlohmann::json{{"id", id}, {"result", true}, {"error", nullptr}}
                             : error_reply(id, error_code, share.reason));
}

std::vector<PoolConnection> FakeStratumPool::connections() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

std::vector<PoolSubscription> FakeStratumPool::subscriptions() const {
  std::lock_guard lock(mutex_);
  return subscriptions_;
}

std::vector<PoolAuthorization> FakeStratumPool::authorizations() const {
  std::lock_guard lock(mutex_);
  return authorizations_;
}

std::vector<PoolShare> FakeStratumPool::shares() const {
  std::lock_guard lock(mutex_);
  return shares_;
}

std::size_t FakeStratumPool::valid_share_count() const {
  std::lock_guard lock(mutex_);
  return valid_shares_;
}

std::optional<std::chrono::microseconds> FakeStratumPool::first_share_latency() const {
  std::lock_guard lock(mutex_);
  return first_share_latency_;
}

bool FakeStratumPool::wait_for_valid_share(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return share_recorded_.wait_for(lock, timeout, [this] { return valid_shares_ > 0; });
}

bool FakeStratumPool::wait_for_shares(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return share_recorded_.wait_for(lock, timeout, [&] { return shares_.size() >= count; });
}

nlohmann::json FakeStratumPool::to_json() const {
  auto epoch_ms = [](SystemClock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  std::lock_guard lock(mutex_);
  nlohmann::json out;
  out["endpoint"] = endpoint();
  out["difficulty"] = options_.difficulty;
  out["share_target"] = ShareTarget::from_difficulty(options_.difficulty).to_hex();
  out["job_id"] = job_.job_id;
  auto& conns = out["connections"] = nlohmann::json::array();
  for (const auto& c : connections_) {
    conns.push_back({{"id", c.id}, {"peer", c.peer}, {"at_ms", epoch_ms(c.connected_at)}});
  }
  auto& subs = out["subscriptions"] = nlohmann::json::array();
  for (const auto& s : subscriptions_) {
    subs.push_back({{"connection", s.connection},
                    {"user_agent", s.user_agent},
                    {"extranonce1", s.extranonce1}});
  }
  auto& auths = out["authorizations"] = nlohmann::json::array();
  for (const auto& a : authorizations_)
    auths.push_back({{"connection", a.connection}, {"user", a.user}});
  auto& shares = out["shares"] = nlohmann::json::array();
  for (const auto& s : shares_) {
    shares.push_back({{"connection", s.connection},
                      {"worker", s.worker},
                      {"job_id", s.job_id},
                      {"extranonce2", s.extranonce2},
                      {"ntime", s.ntime},
                      {"nonce", s.nonce},
                      {"valid", s.valid},
                      {"hash", s.hash_hex},
                      {"reason", s.reason},
                      {"at_ms", epoch_ms(s.at)}});
  }
  out["valid_shares"] = valid_shares_;
  out["first_share_latency_ms"] = first_share_latency_
                                      ? nlohmann::json(first_share_latency_->count() / 1000.0)
                                      : nlohmann::json();
  return out;
}

}  // namespace armorbench::attacks
