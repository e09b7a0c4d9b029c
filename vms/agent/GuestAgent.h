// The guest agent: PID 1 of the micro-VM after init's switch_root. It says hello on the
// armorbench.agent port, then serves the host's ops (PROTOCOL.md): start the enforcer and the
// workload in a cgroup, relay HTTP, read files, report enforcer events, stop. One thread, one
// poll() loop with timeouts; every blocking step has a deadline.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ChildProcess.h"
#include "HttpRelay.h"
#include "OutputQueue.h"
#include "VirtioPort.h"
#include "armorbench/vms/AgentProtocol.h"

namespace armorbench::vms::agent {

struct AgentOptions {
  std::string agent_port = "/dev/virtio-ports/armorbench.agent";
  std::string http_port = "/dev/virtio-ports/armorbench.http";
  std::string enforcer;  // default: armorbench-enforcer beside the agent binary
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string state_dir = "/run/armorbench";
};

class GuestAgent {
 public:
  explicit GuestAgent(AgentOptions options);
  ~GuestAgent();
  GuestAgent(const GuestAgent&) = delete;
  GuestAgent& operator=(const GuestAgent&) = delete;

  // Says hello (blocking until the host has connected), then serves ops until a stop op has
  // been answered. Returns so that main can power the guest off.
  void run();

 private:
  using Clock = std::chrono::steady_clock;

  // A started process with the state of its output streams.
  struct Managed {
    std::unique_ptr<ChildProcess> process;
    LineSplitter lines;
    std::string stderr_tail;
    std::size_t stdout_index = SIZE_MAX;  // poll entries of this round
    std::size_t stderr_index = SIZE_MAX;
  };

  // A start op waiting for the enforcer's ready line.
  struct PendingStart {
    StartRequest request;
    nlohmann::json id;
    Clock::time_point deadline;
  };

  void say_hello();
  void send(nlohmann::json message);
  void reply(const nlohmann::json& request_id, nlohmann::json message);
  void handle_line(const std::string& line);
  void handle_start(const nlohmann::json& op, const nlohmann::json& id);
  void handle_read_file(const nlohmann::json& op, const nlohmann::json& id);
  void handle_events(const nlohmann::json& op, const nlohmann::json& id);
  void handle_stop(const nlohmann::json& op, const nlohmann::json& id);
  void handle_prewarm(const nlohmann::json& op, const nlohmann::json& id);
  void handle_resume(const nlohmann::json& op, const nlohmann::json& id);
  // A start op's workload is the warm one: same interpreter, environment and cgroup.
  void check_warm_match(const WorkloadRequest& workload) const;
  void fail_prewarm(const std::string& error);

  void prepare_cgroup(const std::string& name);
  void apply_limits(const WorkloadLimits& limits);
  // The kernel's evidence of limits being hit, named as the harness's CgroupStats names them.
  nlohmann::json cgroup_stats() const;
  void plant(const PlantedFile& file);
  void start_enforcer(const EnforcerRequest& request, const std::string& cgroup_dir);
  void start_workload();
  void reply_started(const nlohmann::json& id);
  void fail_start(const std::string& stage, const std::string& error);

  void add_child_entries(Managed& child, std::vector<pollfd>& entries);
  void handle_child(Managed& child, const std::vector<pollfd>& entries, bool is_enforcer);
  // Reads what a child wrote; `all` drains until EAGAIN/EOF (after it exited).
  void read_child(Managed& child, bool from_stdout, bool is_enforcer, bool all);
  void on_enforcer_line(const std::string& line);
  void on_workload_line(const std::string& line);
  void reap();
  void on_workload_exit();
  void on_enforcer_exit();
  std::optional<ExitStatus> stop_child(Managed* child, std::chrono::milliseconds grace);
  std::vector<std::string> workload_environment(const std::vector<std::string>& extra) const;

  AgentOptions options_;
  VirtioPort agent_port_;
  VirtioPort http_port_;
  HttpRelay relay_;
  LineSplitter agent_lines_{1u << 20};
  UniqueFd sigchld_;
  std::unique_ptr<Managed> enforcer_;
  std::unique_ptr<Managed> workload_;
  std::optional<PendingStart> pending_start_;
  // The snapshot's warm workload (prewarm op): what it was started with, the prewarm op waiting
  // for its warm line, and whether a start op has handed it its argv.
  std::optional<PrewarmRequest> warm_;
  std::optional<nlohmann::json> pending_prewarm_id_;
  Clock::time_point prewarm_deadline_{};
  bool warm_started_ = false;
  bool resumed_ = false;
  nlohmann::json enforcer_ready_;
  std::string cgroup_dir_;
  UniqueFd cgroup_fd_;
  std::vector<nlohmann::json> enforcer_events_;
  std::uint64_t enforcer_dropped_ = 0;  // reported by the daemon (its ring buffer was full)
  std::uint64_t agent_dropped_ = 0;     // beyond what the agent keeps
  bool stopped_ = false;
};

// As PID 1: sync(), then reboot(RB_POWER_OFF), i.e. `poweroff -f`; if that fails it waits forever
// (PID 1 must not exit). Not as PID 1 (tests on the host) it exits instead: reboot() there would
// power off the host.
[[noreturn]] void power_off(const std::string& why, bool failed);

}  // namespace armorbench::vms::agent
