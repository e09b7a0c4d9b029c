// armorbench-memdump: the model-theft attacker as a CLI. The harness runs it inside (or against)
// a target and turns its single JSON object into evidence; exit code 0 = canary found (stolen),
// 1 = scanned and not found, 2 = denied or failed, 4 = usage error.
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "armorbench/attacks/MemoryDumper.h"
#include "armorbench/base/Hex.h"

namespace {

using armorbench::attacks::MemoryDumper;
using armorbench::attacks::ReadMethod;
using armorbench::attacks::ScanOptions;
using armorbench::attacks::ScanResult;

constexpr int kUsageExit = 4;

constexpr std::string_view kUsage =
    "usage: armorbench-memdump --pid PID --canary HEX --method "
    "process_vm_readv|proc_mem|ptrace|io_uring\n"
    "                          [--max-bytes N] [--chunk-bytes N] [--json]\n"
    "       armorbench-memdump --file PATH --canary HEX [--max-bytes N] [--json]\n"
    "io_uring opens and reads /proc/PID/maps and /proc/PID/mem through io_uring requests, without\n"
    "the open/read syscalls that syscall-tracing enforcers watch.\n"
    "The canary is normally 32 bytes (64 hex digits).\n"
    "Exit: 0 found, 1 not found, 2 denied/failed, 4 usage error.\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::uint64_t parse_u64(std::string_view flag, std::string_view text) {
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    throw UsageError(std::string(flag) + ": not a number: " + std::string(text));
  }
  return value;
}

struct Flags {
  std::optional<long> pid;
  std::optional<std::string> file;
  std::vector<std::uint8_t> canary;
  std::optional<ReadMethod> method;
  ScanOptions options;
  bool json = false;
};

Flags parse_flags(int argc, char** argv) {
  Flags flags;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto flag = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw UsageError(std::string(flag) + " needs a value");
      return args[++i];
    };
    if (flag == "--pid") {
      flags.pid = static_cast<long>(parse_u64(flag, value()));
    } else if (flag == "--file") {
      flags.file = std::string(value());
    } else if (flag == "--canary") {
      try {
        flags.canary = armorbench::from_hex(value());
      } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--canary: ") + e.what());
      }
    } else if (flag == "--method") {
      const auto name = value();
      flags.method = armorbench::attacks::read_method_from_string(name);
      if (!flags.method || *flags.method == ReadMethod::kFile) {
        throw UsageError("--method: unknown method " + std::string(name));
      }
    } else if (flag == "--max-bytes") {
      flags.options.max_bytes = parse_u64(flag, value());
    } else if (flag == "--chunk-bytes") {
      flags.options.chunk_bytes = parse_u64(flag, value());
    } else if (flag == "--json") {
      flags.json = true;
    } else if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      throw UsageError("unknown argument " + std::string(flag));
    }
  }
  if (flags.canary.empty()) throw UsageError("--canary is required");
  if (flags.pid.has_value() == flags.file.has_value()) {
    throw UsageError("give exactly one of --pid and --file");
  }
  if (flags.pid && !flags.method) throw UsageError("--method is required with --pid");
  if (flags.pid && *flags.pid <= 0) throw UsageError("--pid must be positive");
  return flags;
}

void print_human(const ScanResult& result) {
  const auto json = result.to_json();
  std::printf("method %s: %s\n", json["method"].get<std::string>().c_str(),
              json["outcome"].get<std::string>().c_str());
  if (result.found) {
    std::printf("canary at %s in %s\n", json["address"].get<std::string>().c_str(),
                result.region.c_str());
  }
  std::printf("%llu bytes in %llu regions in %.1f ms (%.1f MB/s)\n",
              static_cast<unsigned long long>(result.bytes_scanned),
              static_cast<unsigned long long>(result.regions_scanned), result.elapsed_ms,
              result.elapsed_ms > 0 ? result.bytes_scanned / 1e3 / result.elapsed_ms : 0.0);
  for (const auto& e : result.errors) {
    std::printf("error: stage %s errno %d (x%llu): %s\n", e.stage.c_str(), e.error_number,
                static_cast<unsigned long long>(e.count), e.message.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  try {
    flags = parse_flags(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "armorbench-memdump: " << e.what() << "\n" << kUsage;
    return kUsageExit;
  }
  if (flags.canary.size() != 32) {
    std::cerr << "armorbench-memdump: note: canary is " << flags.canary.size()
              << " bytes, not the usual 32\n";
  }
  const MemoryDumper dumper(flags.options);
  const ScanResult result =
      flags.file ? dumper.scan_file(*flags.file, flags.canary)
                 : dumper.scan(static_cast<pid_t>(*flags.pid), flags.canary, *flags.method);
  if (flags.json) {
    std::cout << result.to_json().dump() << std::endl;
  } else {
    print_human(result);
  }
  return static_cast<int>(result.outcome());
}
