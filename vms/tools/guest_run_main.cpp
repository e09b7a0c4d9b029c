// armorbench-guest-run: boots one micro-VM, runs one workload in it (optionally under the
// enforcer), optionally sends HTTP GETs through the relay, and prints what happened as one JSON
// object. A developer's and a measurement tool: the harness uses GuestVm directly.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "armorbench/base/Error.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/vms.h"
#include "armorbench/workload/OipClient.h"

namespace {

namespace fs = std::filesystem;

// The guest reads the host root over 9p without the host's root privileges: a file under a
// private directory (a checkout in a 0700 home) is not reachable there and is staged too.
bool anyone_reaches(const fs::path& file) {
  const fs::path path = fs::absolute(file).lexically_normal();
  fs::path walked = "/";
  for (const fs::path& part : path.relative_path()) {
    walked /= part;
    struct stat st {};
    if (::stat(walked.c_str(), &st) != 0) return false;
    const bool last = walked == path;
    if (!last && !(st.st_mode & S_IXOTH)) return false;
    if (last && !(st.st_mode & S_IROTH)) return false;
  }
  return true;
}

using namespace armorbench;
using namespace armorbench::vms;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* kUsage = R"(usage: armorbench-guest-run [options] -- ARGV...
Boots a micro-VM (TCG), starts ARGV in it and prints one JSON object with the timings, the
agent's hello, the enforcer's ready line, the workload's first line, HTTP answers, enforcer
events and the stop result.
  --name NAME             domain name (default armorbench-run-PID)
  --run-dir DIR           sockets and console log (default /run/armorbench/run-PID)
  --cache DIR             guest image cache (default /var/cache/armorbench/guest)
  --data-dir DIR          source tree with vms/guest (default: the one this was built from)
  --memory MIB            default 1024
  --policy FILE           enforcer policy (repeatable; guest path = host path)
  --mode off|audit|block  enforcer mode (default off)
  --backend B             auto|tracepoint|bpf-lsm (default auto)
  --watch-exec            report every exec in the workload's cgroup
  --enforcer PATH         enforcer binary for the agent (default: beside the agent)
  --plant GUEST=HOSTFILE  write HOSTFILE's content to GUEST before the start (repeatable)
  --http-socket PATH      where the agent relays the HTTP port
  --get PATH              after the workload's first line, GET PATH through the relay (repeatable)
  --ready-timeout S       seconds to wait for the workload's first line (default 180)
  --unconfined            run ARGV as the agent runs (root, every capability, the guest's
                          namespaces) rather than confined like a container: for tools that
                          load BPF or make cgroups, e.g. the enforcer bench
)";

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error("cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Backend parse_backend(const std::string& text) {
  const auto backend = backend_from_string(text);
  if (!backend) throw input_error("--backend is auto, tracepoint or bpf-lsm");
  return *backend;
}

int run(int argc, char** argv) {
  GuestVmConfig config;
  config.name = "armorbench-run-" + std::to_string(::getpid());
  config.run_dir = "/run/armorbench/run-" + std::to_string(::getpid());
  fs::path cache = kDefaultGuestCacheDir;
  fs::path data_dir = ARMORBENCH_DATA_DIR;
  StartRequest request;
  std::vector<std::string> gets;
  double ready_timeout_s = 180;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw input_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--name")
      config.name = value();
    else if (arg == "--run-dir")
      config.run_dir = value();
    else if (arg == "--cache")
      cache = value();
    else if (arg == "--data-dir")
      data_dir = value();
    else if (arg == "--memory")
      config.memory_mib = static_cast<unsigned>(std::stoul(value()));
    else if (arg == "--policy")
      request.enforcer.policies.push_back(value());
    else if (arg == "--mode") {
      const auto mode = enforcer_mode_from_string(value());
      if (!mode) throw input_error("--mode is off, audit or block");
      request.enforcer.mode = *mode;
    } else if (arg == "--backend")
      request.enforcer.backend = parse_backend(value());
    else if (arg == "--watch-exec")
      request.enforcer.watch_exec = true;
    else if (arg == "--enforcer")
      config.agent_args = {"--enforcer", value()};
    else if (arg == "--plant") {
      const std::string spec = value();
      const auto eq = spec.find('=');
      if (eq == std::string::npos) throw input_error("--plant wants GUEST_PATH=HOST_FILE");
      request.workload.planted.push_back(
          {spec.substr(0, eq), read_file(spec.substr(eq + 1)), 0644});
    } else if (arg == "--http-socket")
      request.workload.http_socket = value();
    else if (arg == "--get")
      gets.push_back(value());
    else if (arg == "--ready-timeout")
      ready_timeout_s = std::stod(value());
    else if (arg == "--unconfined")
      request.workload.unconfined = true;
    else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else
      throw input_error("unknown option " + arg + " (the workload goes after --)");
  }
  for (; i < argc; ++i) request.workload.argv.push_back(argv[i]);
  if (request.workload.argv.empty()) throw input_error("no workload: give it after --");

  install_interrupt_handlers();
  json out;
  const auto total = Clock::now();
  config.image = ensure_guest_image(cache, data_dir);
  out["image"] = {{"hash", config.image.hash},
                  {"rebuilt", config.image.rebuilt},
                  {"build_ms", config.image.build_time.count()}};
  // What the guest runs comes from the host root; a build dir under /tmp is staged first.
  GuestStaging staging(fs::path("/var/tmp") / ("abvms-run-" + std::to_string(::getpid())));
  const fs::path bin_dir = fs::read_symlink("/proc/self/exe").parent_path();
  config.agent = bin_dir / "armorbench-guest-agent";
  if (!guest_sees(config.agent) || !anyone_reaches(config.agent)) {
    config.agent = staging.add(config.agent, "armorbench-guest-agent");
    staging.add(bin_dir / "armorbench-enforcer", "armorbench-enforcer");  // found beside the agent
  }
  auto visible = [&](std::string& path) {
    if (!path.empty() && path.front() == '/' && fs::is_regular_file(path) &&
        (!guest_sees(path) || !anyone_reaches(path)))
      path = staging.add_named(path).string();
  };
  if (config.agent_args.size() == 2) visible(config.agent_args[1]);  // --enforcer
  visible(request.workload.argv[0]);
  for (std::string& policy : request.enforcer.policies) visible(policy);
  config.boot_timeout = std::chrono::seconds(120);

  GuestVm vm(config);
  out["hello"] = vm.hello();
  out["create_ms"] = vm.create_latency().count();
  out["boot_to_hello_ms"] = vm.boot_latency().count();
  const auto started = Clock::now();
  const StartReply start = vm.start(request, std::chrono::seconds(120));
  out["start"] = start.ok ? start.started : start.error;
  out["enforcer_ready"] = start.enforcer_ready;
  out["start_ms"] = start.elapsed.count();
  if (start.ok) {
    const auto line =
        vm.wait_workload_line(std::chrono::milliseconds(static_cast<long>(ready_timeout_s * 1000)));
    out["workload"] = line ? *line : json("no line within the ready timeout");
    out["start_to_first_line_ms"] = ms_since(started);
    if (!gets.empty()) {
      // The harness's OIP client on the relayed stream (one persistent HTTP/1.1 connection).
      OipClient client(UniqueFd(::fcntl(vm.http_stream(), F_DUPFD_CLOEXEC, 0)),
                       std::chrono::seconds(60));
      for (const std::string& path : gets) {
        const auto sent = Clock::now();
        try {
          const HttpResponse response = client.get(path);
          out["http"].push_back({{"path", path},
                                 {"ms", ms_since(sent)},
                                 {"status", response.status},
                                 {"body", response.body}});
        } catch (const Error& e) {
          out["http"].push_back({{"path", path}, {"ms", ms_since(sent)}, {"error", e.what()}});
          break;  // the stream's state is unknown after a failed exchange
        }
      }
    }
    const EnforcerEvents events = vm.enforcer_events();
    out["enforcer_events"] = nlohmann::json::array();
    for (const auto& event : events.report.events)
      out["enforcer_events"].push_back(event.to_json());
    out["enforcer_dropped"] = events.report.dropped;
  }
  const StopReply stop = vm.stop();
  out["stop"] = {
      {"workload_exit", stop.workload_exit},
      {"enforcer_exit", stop.enforcer_exit},
      {"cgroup_stats", stop.cgroup_stats ? stop.cgroup_stats->to_json() : nlohmann::json()},
      {"powered_off", stop.powered_off},
      {"poweroff_ms", stop.poweroff.count()},
      {"stderr_tail", stop.stderr_tail}};
  out["total_ms"] = ms_since(total);
  out["console_log"] = (config.run_dir / "console.log").string();
  std::cout << out.dump(2) << std::endl;
  return start.ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const armorbench::Error& e) {
    std::cerr << "armorbench-guest-run: " << e.describe() << "\n";
    return static_cast<int>(armorbench::exit_code_for(e.kind()));
  } catch (const std::exception& e) {
    std::cerr << "armorbench-guest-run: " << e.what() << "\n";
    return 2;
  }
}
