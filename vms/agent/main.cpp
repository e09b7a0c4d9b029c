// armorbench-guest-agent: PID 1 of the ArmorBench micro-VM (started by init.sh's switch_root).
// Serves the host's ops on /dev/virtio-ports/armorbench.agent (PROTOCOL.md), then powers the
// guest off. It never exits: as PID 1 an exit would panic the kernel.
#include <iostream>
#include <string>

#include "GuestAgent.h"
#include "armorbench/base/Error.h"

namespace {

const char* kUsage = R"(usage: armorbench-guest-agent [options]   (PID 1 of the guest)
  --agent-port PATH   default /dev/virtio-ports/armorbench.agent
  --http-port PATH    default /dev/virtio-ports/armorbench.http
  --enforcer PATH     default: armorbench-enforcer beside this binary
  --cgroup-root DIR   default /sys/fs/cgroup
Protocol: vms/agent/PROTOCOL.md.
)";

armorbench::vms::agent::AgentOptions parse(int argc, char** argv) {
  armorbench::vms::agent::AgentOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw armorbench::input_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--agent-port")
      options.agent_port = value();
    else if (arg == "--http-port")
      options.http_port = value();
    else if (arg == "--enforcer")
      options.enforcer = value();
    else if (arg == "--cgroup-root")
      options.cgroup_root = value();
    else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else
      throw armorbench::input_error("unknown argument " + arg);
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    armorbench::vms::agent::GuestAgent agent(parse(argc, argv));
    agent.run();
  } catch (const std::exception& e) {
    armorbench::vms::agent::power_off(std::string("fatal: ") + e.what(), true);
  }
  armorbench::vms::agent::power_off("stop op answered", false);
}
