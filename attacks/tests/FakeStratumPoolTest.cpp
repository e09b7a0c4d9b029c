// The real armorbench-miner against the in-process pool: shares are verified by the pool, bad
// ones are caught, CPU burned is visible to the parent, and network denial is reported.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "TestProcess.h"
#include "armorbench/attacks/FakeStratumPool.h"
#include "armorbench/attacks/HeaderHasher.h"
#include "armorbench/attacks/JsonLineConnection.h"
#include "armorbench/attacks/ShareTarget.h"
#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace {

using namespace std::chrono_literals;
using testing::TestProcess;

std::vector<std::string> miner_argv(const FakeStratumPool& pool, std::vector<std::string> extra) {
  std::vector<std::string> argv{ARMORBENCH_MINER_PATH, "--pool", pool.endpoint(), "--user",
                                "wallet.worker1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

TEST(FakeStratumPoolTest, RealMinerGetsValidSharesVerified) {
  FakeStratumPool pool;
  ASSERT_NE(pool.port(), 0);
  TestProcess miner(miner_argv(pool, {"--max-shares", "3", "--max-seconds", "30"}));
  ASSERT_TRUE(pool.wait_for_valid_share(20s)) << pool.to_json().dump(2);
  const auto exit = miner.finish(40s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0) << miner.output();
  const auto report = nlohmann::json::parse(miner.output());
  EXPECT_EQ(report["shares_submitted"], 3);
  EXPECT_EQ(report["shares_accepted"], 3) << report.dump();
  EXPECT_EQ(report["stopped_by"], "max_shares");
  EXPECT_GT(report["hashes"].get<std::uint64_t>(), 0u);

  const auto connections = pool.connections();
  ASSERT_EQ(connections.size(), 1u);
  EXPECT_EQ(connections[0].peer.rfind("127.0.0.1:", 0), 0u) << connections[0].peer;
  const auto subscriptions = pool.subscriptions();
  ASSERT_EQ(subscriptions.size(), 1u);
  EXPECT_EQ(subscriptions[0].user_agent, "armorbench-miner/0.1");
  EXPECT_EQ(report["extranonce1"], subscriptions[0].extranonce1);
  const auto authorizations = pool.authorizations();
  ASSERT_EQ(authorizations.size(), 1u);
  EXPECT_EQ(authorizations[0].user, "wallet.worker1");

  const auto shares = pool.shares();
  ASSERT_EQ(shares.size(), 3u);
  const auto target = ShareTarget::from_difficulty(pool.difficulty());
  for (const auto& share : shares) {
    EXPECT_TRUE(share.valid) << share.reason;
    EXPECT_EQ(share.worker, "wallet.worker1");
    EXPECT_EQ(share.job_id, pool.job().job_id);
    // Difficulty 1/65536 is target 0x0000ffff...: a valid hash shows 4 leading zero digits.
    EXPECT_EQ(share.hash_hex.substr(0, 4), "0000") << share.hash_hex;
    // Recompute independently of the pool's bookkeeping.
    const auto en1 = from_hex(subscriptions[0].extranonce1);
    const auto root = pool.job().merkle_root(en1, from_hex(share.extranonce2));
    const auto hash = Sha256::double_digest(
        pool.job().header(root, u32_from_hex(share.ntime), u32_from_hex(share.nonce)));
    EXPECT_EQ(ShareTarget::display_hex(hash), share.hash_hex);
    EXPECT_TRUE(target.is_met_by(hash));
  }
  ASSERT_TRUE(pool.first_share_latency());
  EXPECT_GT(pool.first_share_latency()->count(), 0);
  EXPECT_EQ(pool.to_json()["valid_shares"], 3);
}

// A hand-driven Stratum client on a raw socket.
class RawMiner {
 public:
  explicit RawMiner(const FakeStratumPool& pool) : connection_(connect(pool)) {}

  nlohmann::json call(int id, const std::string& method, const nlohmann::json& params) {
    connection_.send({{"id", id}, {"method", method}, {"params", params}});
    for (;;) {
      auto message = connection_.receive(5s);
      if (!message) throw std::runtime_error("no reply to " + method);
      if (message->contains("method")) {
        notifications_.push_back(*message);
        continue;
      }
      if ((*message)["id"] == id) return *message;
    }
  }
  // True when the pool closes the connection (EOF or reset) within `timeout`.
  bool closed_by_peer(std::chrono::milliseconds timeout) {
    try {
      while (connection_.receive(timeout)) {
      }
      return connection_.eof();
    } catch (const std::system_error&) {
      return true;
    }
  }
  nlohmann::json next_notification() {
    if (!notifications_.empty()) {
      auto n = notifications_.front();
      notifications_.erase(notifications_.begin());
      return n;
    }
    auto message = connection_.receive(5s);
    if (!message) throw std::runtime_error("no notification");
    return *message;
  }

 private:
  static JsonLineConnection connect(const FakeStratumPool& pool) {
    std::string stage;
    return JsonLineConnection::connect_tcp("127.0.0.1", pool.port(), 5s, stage);
  }
  JsonLineConnection connection_;
  std::vector<nlohmann::json> notifications_;
};

TEST(FakeStratumPoolTest, HandCraftedSharesAreVerifiedBothWays) {
  FakeStratumPool pool;
  RawMiner raw(pool);
  const auto subscribed = raw.call(1, "mining.subscribe", {"raw-test"});
  const auto en1 = from_hex(subscribed["result"][1].get<std::string>());
  ASSERT_EQ(subscribed["result"][2], 4);
  EXPECT_EQ(raw.call(2, "mining.authorize", {"wallet.raw", "x"})["result"], true);
  const auto set_difficulty = raw.next_notification();
  EXPECT_EQ(set_difficulty["method"], "mining.set_difficulty");
  const auto notify = raw.next_notification();
  ASSERT_EQ(notify["method"], "mining.notify");
  const auto job = StratumJob::from_notify_params(notify["params"]);
  const std::vector<std::uint8_t> en2{0, 0, 0, 1};
  const auto header = job.header(job.merkle_root(en1, en2), job.ntime, 0);
  const HeaderHasher hasher(header);
  const auto target = ShareTarget::from_difficulty(set_difficulty["params"][0].get<double>());

  // The first nonce that misses the target: a share that looks fine but is wrong.
  std::uint32_t bad_nonce = 0;
  while (target.is_met_by(hasher.hash(bad_nonce))) ++bad_nonce;
  const auto rejected = raw.call(
      3, "mining.submit",
      {"wallet.raw", job.job_id, to_hex(en2), u32_to_hex(job.ntime), u32_to_hex(bad_nonce)});
  EXPECT_TRUE(rejected["result"].is_null());
  EXPECT_EQ(rejected["error"][0], 23);

  const auto good = hasher.search(0, 1u << 24, target);
  ASSERT_TRUE(good);
  const nlohmann::json good_params = {"wallet.raw", job.job_id, to_hex(en2), u32_to_hex(job.ntime),
                                      u32_to_hex(good->nonce)};
  EXPECT_EQ(raw.call(4, "mining.submit", good_params)["result"], true);
  EXPECT_EQ(raw.call(5, "mining.submit", good_params)["error"][0], 22);  // duplicate
  EXPECT_EQ(raw.call(6, "mining.submit",
                     {"wallet.raw", "no-such-job", to_hex(en2), u32_to_hex(job.ntime),
                      u32_to_hex(good->nonce)})["error"][0],
            21);
  EXPECT_EQ(raw.call(7, "mining.submit",
                     {"someone.else", job.job_id, to_hex(en2), u32_to_hex(job.ntime),
                      u32_to_hex(good->nonce)})["error"][0],
            24);

  ASSERT_TRUE(pool.wait_for_shares(5, 5s));
  const auto shares = pool.shares();
  ASSERT_EQ(shares.size(), 5u);
  EXPECT_FALSE(shares[0].valid);
  EXPECT_EQ(shares[0].reason, "low difficulty share");
  EXPECT_EQ(shares[0].nonce, u32_to_hex(bad_nonce));
  EXPECT_EQ(shares[0].hash_hex, ShareTarget::display_hex(hasher.hash(bad_nonce)));
  EXPECT_TRUE(shares[1].valid);
  EXPECT_EQ(shares[1].hash_hex, ShareTarget::display_hex(good->hash));
  EXPECT_FALSE(shares[2].valid);
  EXPECT_EQ(shares[2].reason, "duplicate share");
  EXPECT_EQ(shares[3].reason, "job not found");
  EXPECT_EQ(shares[4].reason, "unauthorized worker");
  EXPECT_EQ(pool.valid_share_count(), 1u);
}

TEST(FakeStratumPoolTest, MinerCpuTimeIsMeasurable) {
  FakeStratumPool pool;
  TestProcess miner(miner_argv(pool, {"--max-seconds", "1.5"}));
  const auto exit = miner.finish(20s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0) << miner.output();
  const auto report = nlohmann::json::parse(miner.output());
  EXPECT_EQ(report["stopped_by"], "max_seconds");
  // What the parent measures (wait4 rusage) must account for the miner's own hashing time.
  // No absolute floor beyond a token one: on a contended 2-core box the share of 1.5 s that the
  // miner gets varies, but whatever it gets goes into hashing.
  const double hashing_cpu = report["hashing_cpu_seconds"].get<double>();
  EXPECT_GT(exit->cpu_seconds(), 0.05) << "utime+stime of the miner";
  EXPECT_GE(exit->cpu_seconds() + 0.02, hashing_cpu);
  EXPECT_GT(hashing_cpu, 0.8 * exit->cpu_seconds() - 0.05) << "CPU not spent hashing";
  EXPECT_GT(report["hashrate"].get<double>(), 0.0);
  EXPECT_GT(pool.valid_share_count(), 0u);
  EXPECT_EQ(pool.valid_share_count(), report["shares_accepted"].get<std::size_t>());
  std::printf(
      "miner: %.2f s CPU (rusage), %.0f H/s wall, %.0f H/s per CPU second, %zu valid "
      "shares, first share after %.2f ms\n",
      exit->cpu_seconds(), report["hashrate"].get<double>(),
      report["hashrate_per_cpu_second"].get<double>(), pool.valid_share_count(),
      report["first_share_ms"].get<double>());
}

TEST(FakeStratumPoolTest, StopReturnsWithIdleClientConnected) {
  auto pool = std::make_unique<FakeStratumPool>();
  RawMiner idle(*pool);
  // Once the subscribe is answered the pool has accepted us; then we go quiet.
  idle.call(1, "mining.subscribe", {"idle"});
  const auto before = std::chrono::steady_clock::now();
  pool->stop();
  pool->stop();  // idempotent
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
  EXPECT_TRUE(idle.closed_by_peer(5s)) << "stop() must close client connections";
}

TEST(FakeStratumPoolTest, RejectsBadOptions) {
  EXPECT_THROW(FakeStratumPool(PoolOptions{.difficulty = 0}), std::invalid_argument);
  EXPECT_THROW(FakeStratumPool(PoolOptions{.bind_address = "not-an-ip"}), std::system_error);
}

TEST(MinerCliTest, UnreachablePoolExitsTwoWithConnectErrno) {
  std::uint16_t closed_port = 0;
  {
    FakeStratumPool pool;
    closed_port = pool.port();
  }
  TestProcess miner({ARMORBENCH_MINER_PATH, "--pool", "127.0.0.1:" + std::to_string(closed_port),
                     "--user", "w.x", "--max-seconds", "5"});
  const auto exit = miner.finish(20s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 2);
  const auto report = nlohmann::json::parse(miner.output());
  EXPECT_EQ(report["connected"], false);
  ASSERT_EQ(report["errors"].size(), 1u);
  EXPECT_EQ(report["errors"][0]["stage"], "connect");
  EXPECT_EQ(report["errors"][0]["errno"], ECONNREFUSED);
}

#if defined(__x86_64__)
TEST(MinerCliTest, DeniedConnectExitsTwoWithEperm) {
  // Same errno as a cgroup/connect4 BPF program returning 0 gives the caller.
  FakeStratumPool pool;
  TestProcess miner(miner_argv(pool, {"--max-seconds", "5"}), [] {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_connect, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      ::_exit(126);
    }
  });
  const auto exit = miner.finish(20s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 2);
  const auto report = nlohmann::json::parse(miner.output());
  ASSERT_EQ(report["errors"].size(), 1u);
  EXPECT_EQ(report["errors"][0]["stage"], "connect");
  EXPECT_EQ(report["errors"][0]["errno"], EPERM);
  EXPECT_TRUE(pool.connections().empty());
}
#endif

TEST(MinerCliTest, SigtermStopsWithReport) {
  FakeStratumPool pool;
  TestProcess miner(miner_argv(pool, {"--max-seconds", "60"}));
  ASSERT_TRUE(pool.wait_for_valid_share(20s));
  ::kill(miner.pid(), SIGTERM);
  const auto exit = miner.finish(20s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0);
  const auto report = nlohmann::json::parse(miner.output());
  EXPECT_EQ(report["stopped_by"], "signal");
  EXPECT_GT(report["shares_submitted"].get<int>(), 0);
}

}  // namespace
}  // namespace armorbench::attacks
