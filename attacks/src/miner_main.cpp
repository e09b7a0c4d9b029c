// armorbench-miner: the cryptojacking payload as a CLI. Prints one JSON report on stdout when it
// stops (limits reached, SIGINT/SIGTERM, or an error); exit 0 after a normal stop, 2 when the
// pool could not be reached or spoke nonsense (e.g. connect() refused with EPERM by an
// enforcer), 4 on a usage error.
#include <signal.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "armorbench/attacks/StratumMiner.h"

namespace {

using armorbench::attacks::MinerOptions;
using armorbench::attacks::StratumMiner;

constexpr int kUsageExit = 4;
constexpr int kFailedExit = 2;

constexpr std::string_view kUsage =
    "usage: armorbench-miner --pool HOST:PORT --user WALLET.WORKER [--password P]\n"
    "                        [--max-seconds N] [--max-shares K]\n"
    "Exit: 0 stopped normally, 2 pool unreachable or protocol error, 4 usage error.\n";

std::atomic<bool> g_stop{false};

extern "C" void request_stop(int) {
  g_stop.store(true);
}

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T parse_number(std::string_view flag, std::string_view text) {
  T value{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    throw UsageError(std::string(flag) + ": not a number: " + std::string(text));
  }
  return value;
}

MinerOptions parse_flags(int argc, char** argv) {
  MinerOptions options;
  bool have_pool = false;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto flag = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw UsageError(std::string(flag) + " needs a value");
      return args[++i];
    };
    if (flag == "--pool") {
      const auto pool = value();
      const auto colon = pool.rfind(':');
      if (colon == std::string_view::npos || colon == 0) throw UsageError("--pool wants HOST:PORT");
      auto host = pool.substr(0, colon);
      if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);  // [::1]:3333
      }
      options.host = std::string(host);
      options.port = parse_number<std::uint16_t>("--pool port", pool.substr(colon + 1));
      have_pool = true;
    } else if (flag == "--user") {
      options.user = std::string(value());
    } else if (flag == "--password") {
      options.password = std::string(value());
    } else if (flag == "--max-seconds") {
      options.max_time = std::chrono::milliseconds(
          static_cast<std::int64_t>(parse_number<double>(flag, value()) * 1000));
    } else if (flag == "--max-shares") {
      options.max_shares = parse_number<std::uint64_t>(flag, value());
    } else if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      throw UsageError("unknown argument " + std::string(flag));
    }
  }
  if (!have_pool) throw UsageError("--pool is required");
  if (options.user.empty()) throw UsageError("--user is required");
  if (options.max_time.count() <= 0) throw UsageError("--max-seconds must be positive");
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  MinerOptions options;
  try {
    options = parse_flags(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "armorbench-miner: " << e.what() << "\n" << kUsage;
    return kUsageExit;
  }
  // A stopped miner still reports what it did; the harness stops it with SIGTERM.
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  options.stop_requested = &g_stop;

  const auto report = StratumMiner(options).run();
  std::cout << report.to_json().dump() << std::endl;
  return report.failed() ? kFailedExit : 0;
}
